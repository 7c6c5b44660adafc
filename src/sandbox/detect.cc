// Detect(): what this host offers (Landlock ABI, user namespaces, seccomp,
// the cgroup v2 mount, this process's cgroup, its controllers, delegation).
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sstream>

#include <absl/strings/str_join.h>

#include "sandbox/internal.h"
#include "sandbox/sandbox.h"

namespace aikernel::sandbox {
namespace {

HostCapabilities Compute() {
  HostCapabilities c;
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, 1U /*LANDLOCK_CREATE_RULESET_VERSION*/);
  c.landlock_abi = abi > 0 ? static_cast<int>(abi) : 0;
  std::string maxns = internal::ReadSmallFile("/proc/sys/user/max_user_namespaces");
  c.user_ns = !maxns.empty() && atol(maxns.c_str()) > 0;
  c.seccomp = prctl(PR_GET_SECCOMP, 0, 0, 0, 0) >= 0;

  // cgroup2 mount point from mountinfo: "... mountpoint ... - cgroup2 src opts".
  std::istringstream mi(internal::ReadSmallFile("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(mi, line)) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    if (line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream f(line.substr(0, dash));
    std::string id, parent, devno, root, mnt;
    f >> id >> parent >> devno >> root >> mnt;
    c.cgroup2_root = mnt;
    break;
  }
  if (c.cgroup2_root.empty()) return c;
  std::istringstream cg(internal::ReadSmallFile("/proc/self/cgroup"));
  while (std::getline(cg, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    std::string rel = line.substr(3);
    c.cgroup2_self = rel == "/" ? c.cgroup2_root : c.cgroup2_root + rel;
  }
  if (c.cgroup2_self.empty()) return c;
  // Writable: we can make leaves (the root cgroup has no cgroup.kill of its
  // own, its children do).
  c.cgroup2_delegated = access(c.cgroup2_self.c_str(), W_OK) == 0 &&
                        access((c.cgroup2_self + "/cgroup.procs").c_str(), W_OK) == 0;
  std::istringstream ctl(internal::ReadSmallFile(c.cgroup2_self + "/cgroup.controllers"));
  std::string name;
  while (ctl >> name) c.cgroup2_controllers.push_back(name);
  return c;
}

}  // namespace

bool HostCapabilities::HasController(const std::string& name) const {
  for (const auto& c : cgroup2_controllers)
    if (c == name) return true;
  return false;
}

const HostCapabilities& Detect() {
  static const HostCapabilities* caps = new HostCapabilities(Compute());
  return *caps;
}

std::string Describe(const HostCapabilities& c) {
  std::string s = c.landlock_abi > 0 ? absl::StrCat("landlock abi ", c.landlock_abi) : "no landlock";
  absl::StrAppend(&s, c.user_ns ? ", userns" : ", no userns", c.seccomp ? ", seccomp" : ", no seccomp");
  if (c.cgroup2_root.empty()) {
    absl::StrAppend(&s, ", no cgroup2 (memory, pids by rlimit; cpu unenforced)");
    return s;
  }
  absl::StrAppend(&s, ", cgroup2 at ", c.cgroup2_self, c.cgroup2_delegated ? " (writable" : " (not writable",
                  ", controllers: ", c.cgroup2_controllers.empty() ? "none" : absl::StrJoin(c.cgroup2_controllers, " "),
                  ")");
  std::vector<std::string> fallback;
  if (!c.HasController("memory")) fallback.push_back("memory by RLIMIT_AS");
  if (!c.HasController("pids")) fallback.push_back("pids by RLIMIT_NPROC");
  if (!c.HasController("cpu")) fallback.push_back("cpu unenforced");
  if (!fallback.empty()) absl::StrAppend(&s, "; ", absl::StrJoin(fallback, ", "));
  return s;
}

}  // namespace aikernel::sandbox
