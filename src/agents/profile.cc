#include "agents/profile.h"

namespace aikernel::agents {

ProfileMap BuiltinProfiles() {
  ProfileMap m;
  m["default"].sandbox = sandbox::DefaultProfile();
  m["trusted"].sandbox = sandbox::TrustedProfile();
  return m;
}

std::string DescribeProfile(const AgentProfile& ap) {
  const sandbox::Profile& p = ap.sandbox;
  std::string out;
  auto add = [&](bool on, const std::string& what) {
    if (on) out += (out.empty() ? "" : " ") + what;
  };
  add(p.new_user_ns, "userns");
  add(p.new_pid_ns, "pidns");
  add(p.new_mount_ns, "mountns");
  add(p.new_ipc_ns, "ipcns");
  add(p.new_uts_ns, "utsns");
  add(true, !p.new_net_ns ? "net:host" : p.loopback ? "net:loopback" : "net:none");
  add(p.readonly_root, "readonly-root");
  add(p.private_tmp, "private-tmp");
  add(p.landlock, "landlock");
  add(p.seccomp, "seccomp");
  add(p.drop_caps, "caps:none");
  add(p.no_new_privs, "no_new_privs");
  add(!p.writable_paths.empty(), "writable:" + std::to_string(p.writable_paths.size()) + "-paths");
  add(ap.uid >= 0, "uid:" + std::to_string(ap.uid));
  add(ap.gid >= 0, "gid:" + std::to_string(ap.gid));
  add(ap.caps.memory_bytes > 0, "max-memory:" + std::to_string(ap.caps.memory_bytes));
  add(ap.caps.pids > 0, "max-pids:" + std::to_string(ap.caps.pids));
  add(ap.caps.open_files > 0, "max-open-files:" + std::to_string(ap.caps.open_files));
  return out;
}

std::string ProfileNames(const ProfileMap& profiles) {
  std::string out;
  for (const auto& [name, _] : profiles) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace aikernel::agents
