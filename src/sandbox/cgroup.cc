// Cgroup: one cgroup v2 directory (an agent's leaf), its limits and its kill.
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

namespace aikernel::sandbox {
namespace {

bool Exists(const std::string& p) { return access(p.c_str(), F_OK) == 0; }

// Enables in dir's cgroup.subtree_control whichever of memory, pids, cpu its
// cgroup.controllers offers.
Status EnableControllers(const std::string& dir) {
  std::istringstream ctl(internal::ReadSmallFile(dir + "/cgroup.controllers"));
  std::string c;
  while (ctl >> c)
    if (c == "memory" || c == "pids" || c == "cpu") {
      Status s = internal::WriteFile(dir + "/cgroup.subtree_control", "+" + c);
      if (!s.ok()) return absl::InternalError(absl::StrCat("enable ", c, " in ", dir, ": ", s.message()));
    }
  return absl::OkStatus();
}

}  // namespace

namespace internal {

StatusOr<std::vector<std::string>> ApplyCgroupLimits(const std::string& path, const Limits& limits) {
  std::vector<std::string> limited;
  if (limits.memory_bytes > 0 && Exists(path + "/memory.max")) {
    AIK_RETURN_IF_ERROR(WriteFile(path + "/memory.max", absl::StrCat(limits.memory_bytes)));
    if (Exists(path + "/memory.swap.max")) AIK_RETURN_IF_ERROR(WriteFile(path + "/memory.swap.max", "0"));
    limited.push_back("memory");
  }
  if (limits.pids > 0 && Exists(path + "/pids.max")) {
    AIK_RETURN_IF_ERROR(WriteFile(path + "/pids.max", absl::StrCat(limits.pids)));
    limited.push_back("pids");
  }
  if (limits.cpu_percent > 0 && Exists(path + "/cpu.max")) {
    AIK_RETURN_IF_ERROR(WriteFile(path + "/cpu.max", absl::StrCat(uint64_t{limits.cpu_percent} * 1000, " 100000")));
    limited.push_back("cpu");
  }
  return limited;
}

}  // namespace internal

StatusOr<Cgroup> Cgroup::CreateLeaf(const std::string& parent, const std::string& name, const Limits& limits) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return absl::InvalidArgumentError(absl::StrCat("bad cgroup name '", name, "'"));
  // Fails when the parent holds processes itself (no internal processes):
  // then the leaf simply lacks those controllers' files, and Launch falls back.
  EnableControllers(parent).IgnoreError();
  std::string path = parent + "/" + name;
  if (mkdir(path.c_str(), 0755) < 0 && errno != EEXIST)
    return internal::ErrnoError(absl::StrCat("mkdir ", path), errno);
  AIK_ASSIGN_OR_RETURN(Cgroup cg, Open(path));
  AIK_ASSIGN_OR_RETURN(cg.limited_, internal::ApplyCgroupLimits(path, limits));
  return cg;
}

StatusOr<Cgroup> Cgroup::Open(const std::string& path) {
  Cgroup cg;
  cg.path_ = path;
  cg.dir_.reset(open(path.c_str(), O_DIRECTORY | O_PATH | O_CLOEXEC));
  if (!cg.dir_.valid()) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat("no cgroup ", path));
    return internal::ErrnoError(absl::StrCat("open ", path), errno);
  }
  if (!Exists(path + "/cgroup.procs")) return absl::InvalidArgumentError(path + " is not a cgroup");
  return cg;
}

Status Cgroup::Kill() const {
  if (!Exists(path_ + "/cgroup.kill")) return absl::UnimplementedError("no cgroup.kill (kernel < 5.14)");
  return internal::WriteFile(path_ + "/cgroup.kill", "1");
}

StatusOr<bool> Cgroup::Empty() const {
  std::string procs = internal::ReadSmallFile(path_ + "/cgroup.procs");
  return procs.find_first_not_of(" \n") == std::string::npos;
}

Status Cgroup::Remove() {
  if (rmdir(path_.c_str()) < 0) {
    if (errno == ENOENT) return absl::OkStatus();
    if (errno == EBUSY) return absl::FailedPreconditionError(path_ + " still has processes");
    return internal::ErrnoError(absl::StrCat("rmdir ", path_), errno);
  }
  dir_.reset();
  return absl::OkStatus();
}

StatusOr<uint64_t> Cgroup::OomKills() const {
  std::istringstream ev(internal::ReadSmallFile(path_ + "/memory.events"));
  std::string key;
  uint64_t v;
  while (ev >> key >> v)
    if (key == "oom_kill") return v;
  return absl::NotFoundError("no memory controller in " + path_);
}

StatusOr<std::string> PrepareAgentsParent(const std::string& name) {
  const HostCapabilities& caps = Detect();
  if (!caps.cgroup2_delegated)
    return absl::FailedPreconditionError("no writable cgroup v2 tree: " + Describe(caps));
  if (name.empty() || name.find('/') != std::string::npos || name == "supervisor")
    return absl::InvalidArgumentError(absl::StrCat("bad cgroup name '", name, "'"));
  const std::string& self = caps.cgroup2_self;
  if (self != caps.cgroup2_root) {
    // Leave S itself empty: move this whole process into S/supervisor.
    std::string sup = self + "/supervisor";
    if (mkdir(sup.c_str(), 0755) < 0 && errno != EEXIST)
      return internal::ErrnoError(absl::StrCat("mkdir ", sup), errno);
    AIK_RETURN_IF_ERROR(internal::WriteFile(sup + "/cgroup.procs", "0"));
  }
  AIK_RETURN_IF_ERROR(EnableControllers(self));
  std::string parent = self + "/" + name;
  if (mkdir(parent.c_str(), 0755) < 0 && errno != EEXIST)
    return internal::ErrnoError(absl::StrCat("mkdir ", parent), errno);
  return parent;
}

}  // namespace aikernel::sandbox
