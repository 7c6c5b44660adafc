// agents::AgentProfile: a named sandbox profile as agents use it: what the
// sandbox confines (sandbox::Profile), plus the uid/gid and the caps on
// limits the Supervisor applies to agents that name it.
//
// BuiltinProfiles() holds "default" (sandbox::DefaultProfile) and "trusted"
// (sandbox::TrustedProfile). The daemon's [profiles.<name>] tables
// (daemon/profile_config.h, docs/sandbox.md) override them or add more; an
// agent spec naming a profile that is not in the map is refused naming it.
// Plain values; pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "sandbox/sandbox.h"

namespace aikernel::agents {

// Caps on an agent's spec [limits]: the agent gets the smaller. 0: no cap.
struct ProfileCaps {
  int64_t memory_bytes = 0;
  int64_t pids = 0;
  int64_t open_files = 0;
  bool operator==(const ProfileCaps&) const = default;
};

struct AgentProfile {
  sandbox::Profile sandbox;
  // The ids agents run as when their spec gives none (-1: [agents]
  // default_uid / default_gid).
  int64_t uid = -1;
  int64_t gid = -1;
  ProfileCaps caps;
  bool operator==(const AgentProfile&) const = default;
};

using ProfileMap = std::map<std::string, AgentProfile, std::less<>>;

ProfileMap BuiltinProfiles();

// One line naming what the profile confines, for `aictl status` and
// `aictl agent inspect`: "userns pidns mountns ipcns utsns net:loopback
// readonly-root private-tmp landlock seccomp caps:none no_new_privs".
std::string DescribeProfile(const AgentProfile& p);

// "default, trusted, ..." (for messages naming the known profiles).
std::string ProfileNames(const ProfileMap& profiles);

}  // namespace aikernel::agents
