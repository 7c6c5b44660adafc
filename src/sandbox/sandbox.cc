// Stub: the API compiles; the implementation follows.
#include "sandbox/sandbox.h"

namespace aikernel::sandbox {

Profile DefaultProfile() { Profile p; p.name = "default"; return p; }
Profile TrustedProfile() { Profile p; p.name = "trusted"; return p; }
StatusOr<Profile> ProfileByName(const std::string& name) {
  if (name == "default") return DefaultProfile();
  if (name == "trusted") return TrustedProfile();
  return absl::NotFoundError("no sandbox profile " + name);
}
StatusOr<Launched> Launch(const LaunchSpec&) { return absl::UnimplementedError("sandbox::Launch"); }
namespace {
class Real : public Launcher {
 public:
  StatusOr<Launched> Launch(const LaunchSpec& s) override { return sandbox::Launch(s); }
};
}  // namespace
Launcher* RealLauncher() { static Real* r = new Real; return r; }
bool HostCapabilities::HasController(const std::string&) const { return false; }
const HostCapabilities& Detect() { static HostCapabilities c; return c; }
std::string Describe(const HostCapabilities&) { return "unknown"; }
StatusOr<Cgroup> Cgroup::CreateLeaf(const std::string&, const std::string&, const Limits&) { return absl::UnimplementedError("Cgroup"); }
StatusOr<Cgroup> Cgroup::Open(const std::string&) { return absl::UnimplementedError("Cgroup"); }
Status Cgroup::Kill() const { return absl::UnimplementedError("Cgroup"); }
StatusOr<bool> Cgroup::Empty() const { return absl::UnimplementedError("Cgroup"); }
Status Cgroup::Remove() { return absl::UnimplementedError("Cgroup"); }
StatusOr<uint64_t> Cgroup::OomKills() const { return absl::UnimplementedError("Cgroup"); }
Status Signal(const Launched&, int) { return absl::UnimplementedError("Signal"); }
Status KillTree(const Launched&) { return absl::UnimplementedError("KillTree"); }
StatusOr<std::optional<ExitStatus>> Reap(const Launched&, bool) { return absl::UnimplementedError("Reap"); }
StatusOr<uint64_t> ProcStartTime(pid_t) { return absl::UnimplementedError("ProcStartTime"); }
StatusOr<UniqueFd> Adopt(pid_t, uint64_t) { return absl::UnimplementedError("Adopt"); }

}  // namespace aikernel::sandbox
