// daemon profile config: the [profiles.<name>] tables of aikerneld.toml as
// agents::AgentProfiles (docs/sandbox.md "Profiles in config" lists the keys).
//
// Each table starts from `base` ("default" or "trusted"; default: the builtin
// of the same name, else "default") and sets what it names. A bad key or
// value is INVALID_ARGUMENT "<file>:<line>:<col>: profiles.<name>.<key>: why".
// Internal to daemon/config.cc (toml++ is compiled into the daemon's own
// translation units, without exceptions). Pure; thread-safe.
#pragma once

#define TOML_EXCEPTIONS 0
#define TOML_HEADER_ONLY 1
#include <toml++/toml.h>

#include <string>

#include "agents/profile.h"
#include "common/status.h"

namespace aikernel::daemon {

// Parses the whole [profiles] section into `profiles` (which starts with the
// builtin ones).
Status ParseProfiles(const toml::node& section, const std::string& file,
                     agents::ProfileMap* profiles);

}  // namespace aikernel::daemon
