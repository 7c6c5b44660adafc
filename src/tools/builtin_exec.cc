// proc.exec: one command in a named sandbox profile (src/sandbox), with a
// timeout, capped output and its exit code.
//
// It runs on the call's own (gRPC) thread, never on the Asio loop:
// sandbox::Launch (clone3 with a pidfd) from this thread, then one poll()
// loop over the command's stdout, stderr, stdin and pidfd until the pidfd
// says it exited and the pipes are drained, or the deadline / cancellation
// comes, when the pidfd gets SIGKILL (with a pid namespace that is its init,
// so everything it started dies with it). The thread outlives the command
// (it reaps it before returning), which is what die_with_parent needs.
// Each call gets a fresh working directory under [exec_work_base], owned by
// the command's uid, removed afterwards. Output beyond the cap is read and
// discarded so the command never blocks on a full pipe.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "common/text.h"
#include "common/unique_fd.h"
#include "sandbox/sandbox.h"
#include "tools/builtin.h"

namespace aikernel::tools {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Pipe {
  UniqueFd read, write;
};

StatusOr<Pipe> MakePipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("proc.exec: pipe: ", std::strerror(errno)));
  }
  return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Output {
  std::string data;
  size_t cap = 0;
  bool truncated = false;
  bool open = true;
};

// Reads what is there; false at EOF.
void Drain(int fd, Output* out) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // EAGAIN: nothing more for now
    if (n == 0) {
      out->open = false;
      return;
    }
    size_t room = out->cap - std::min(out->cap, out->data.size());
    out->data.append(buf, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) out->truncated = true;
  }
}

json Text(const Output& o) {
  return ValidUtf8(o.data) ? json(o.data) : json({{"base64", Base64Encode(o.data)}});
}

// <base>/<random>, owned by uid:gid, mode 0700 (the parents 0711 so the
// command can reach it).
StatusOr<std::string> MakeWorkdir(const BuiltinOptions& o) {
  std::error_code ec;
  std::filesystem::create_directories(o.exec_work_base, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("proc.exec: ", o.exec_work_base, ": ", ec.message()));
  }
  chmod(o.exec_work_base.c_str(), 0711);
  chmod(std::filesystem::path(o.exec_work_base).parent_path().c_str(), 0711);
  std::mt19937_64 rng(std::random_device{}());
  std::string dir = absl::StrCat(o.exec_work_base, "/", rng());
  if (mkdir(dir.c_str(), 0700) != 0 || chown(dir.c_str(), o.exec_uid, o.exec_gid) != 0) {
    return absl::InternalError(absl::StrCat("proc.exec: workdir ", dir, ": ", std::strerror(errno)));
  }
  return dir;
}

StatusOr<ToolResult> Exec(const BuiltinOptions& o, const json& args, const CallContext& ctx) {
  const std::string profile_name = args.value("profile", o.exec_profiles.front());
  if (std::find(o.exec_profiles.begin(), o.exec_profiles.end(), profile_name) ==
      o.exec_profiles.end()) {
    return absl::InvalidArgumentError(absl::StrCat("args.profile: '", profile_name,
                                                   "' is not one of [tools.exec] profiles"));
  }
  sandbox::Profile profile;
  if (auto it = o.exec_sandboxes.find(profile_name); it != o.exec_sandboxes.end()) {
    profile = it->second;
  } else {
    AIK_ASSIGN_OR_RETURN(profile, sandbox::ProfileByName(profile_name));
  }
  const size_t cap = static_cast<size_t>(
      std::min<int64_t>(args.value("max_output_bytes", o.exec_max_output_bytes), o.exec_max_output_bytes));
  const auto end = std::min(ctx.deadline, Clock::now() + std::chrono::milliseconds(
                                                              args.value("timeout_ms", o.exec_timeout_ms)));

  AIK_ASSIGN_OR_RETURN(std::string workdir, MakeWorkdir(o));
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{workdir};

  sandbox::LaunchSpec spec;
  for (const auto& a : args["argv"]) spec.argv.push_back(a.get<std::string>());
  spec.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + workdir};
  if (args.contains("env")) {
    for (auto it = args["env"].begin(); it != args["env"].end(); ++it) {
      spec.env.push_back(it.key() + "=" + it.value().get<std::string>());
    }
  }
  spec.workdir = workdir;
  spec.uid = o.exec_uid;
  spec.gid = o.exec_gid;
  spec.profile = profile;
  spec.limits.memory_bytes = 512ull << 20;
  spec.limits.pids = 64;
  spec.limits.open_files = 256;
  spec.hostname = "tool";
  AIK_ASSIGN_OR_RETURN(Pipe out, MakePipe());
  AIK_ASSIGN_OR_RETURN(Pipe err, MakePipe());
  AIK_ASSIGN_OR_RETURN(Pipe in, MakePipe());
  spec.stdout_fd = out.write.get();
  spec.stderr_fd = err.write.get();
  spec.stdin_fd = in.read.get();
  const auto t0 = Clock::now();
  StatusOr<sandbox::Launched> launched = sandbox::Launch(spec);
  out.write.reset();
  err.write.reset();
  in.read.reset();
  if (!launched.ok()) {
    return Status(launched.status().code(),
                  absl::StrCat("proc.exec: ", launched.status().message()));
  }
  for (int fd : {out.read.get(), err.read.get(), in.write.get()}) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  std::string input = args.value("stdin", "");
  size_t written = 0;
  if (input.empty()) in.write.reset();

  Output so, se;
  so.cap = se.cap = cap;
  bool exited = false, killed = false, timed_out = false, cancelled = false;
  const int pidfd = launched->pidfd.get();
  while (!exited || so.open || se.open) {
    if (!killed && (Clock::now() >= end || ctx.Cancelled())) {
      (Clock::now() >= end ? timed_out : cancelled) = true;
      syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
      killed = true;
    }
    pollfd p[4];
    int n = 0;
    p[n++] = {pidfd, POLLIN, 0};
    if (so.open) p[n++] = {out.read.get(), POLLIN, 0};
    if (se.open) p[n++] = {err.read.get(), POLLIN, 0};
    if (in.write.valid()) p[n++] = {in.write.get(), POLLOUT, 0};
    // Wake at the deadline, and now and then to notice cancellation.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    int wait = killed ? 1000 : static_cast<int>(std::clamp<int64_t>(left, 0, 50));
    if (poll(p, n, wait) < 0 && errno != EINTR) break;
    if (p[0].revents & POLLIN) exited = true;
    Drain(out.read.get(), &so);
    Drain(err.read.get(), &se);
    if (in.write.valid()) {
      ssize_t w = write(in.write.get(), input.data() + written, input.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == input.size()) in.write.reset();
    }
    // Once the command is gone, whatever still holds the pipes (nothing,
    // with a pid namespace) gets no more than a second.
    if (exited && killed && Clock::now() > end + std::chrono::seconds(1)) break;
  }
  siginfo_t info{};
  waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
  const int64_t took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  if (cancelled) return absl::CancelledError("proc.exec: cancelled; the command was killed");
  int exit_code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  ToolResult r;
  r.content = {{"exit_code", exit_code},
               {"timed_out", timed_out},
               {"stdout", Text(so)},
               {"stderr", Text(se)},
               {"stdout_truncated", so.truncated},
               {"stderr_truncated", se.truncated},
               {"duration_ms", took_ms},
               {"profile", profile_name},
               {"in_force", launched->in_force}};
  // A command that ran and exited, whatever its code, is a result; one the
  // kernel had to kill for time is the tool reporting an error.
  r.is_error = timed_out;
  return r;
}

}  // namespace

std::vector<BuiltinTool> ExecTools(const BuiltinOptions& o) {
  if (o.exec_profiles.empty()) return {};
  BuiltinTool t;
  t.tool = MakeBuiltinTool(
      "proc.exec",
      "Run a command in a sandbox profile named in [tools.exec] profiles (fresh working "
      "directory, unprivileged uid, namespaces/Landlock/seccomp as the profile says). Returns "
      "exit_code, stdout and stderr (each capped), timed_out.",
      R"({"type":"object","properties":{
        "argv":{"type":"array","items":{"type":"string"},"minItems":1},
        "profile":{"type":"string"},
        "env":{"type":"object","additionalProperties":{"type":"string"}},
        "stdin":{"type":"string","maxLength":1048576},
        "timeout_ms":{"type":"integer","minimum":1},
        "max_output_bytes":{"type":"integer","minimum":0}},
        "required":["argv"],"additionalProperties":false})");
  t.call = [o](const json& args, const CallContext& ctx) { return Exec(o, args, ctx); };
  std::vector<BuiltinTool> out;
  out.push_back(std::move(t));
  return out;
}

}  // namespace aikernel::tools
