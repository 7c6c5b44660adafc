// daemon::Config: aikerneld's configuration, read from TOML.
//
// config/aikerneld.toml documents every key with its default. LoadConfig()
// is strict: a syntax error, an unknown section or key, or a bad value is an
// INVALID_ARGUMENT whose message starts "<file>:<line>:<col>: <key>:" and
// says what was expected, so start-up stops with the cause named. A missing
// file is NOT_FOUND. Pure; thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agents/profile.h"
#include "common/status.h"
#include "tools/mcp/server_config.h"
#include "tools/builtin.h"

namespace aikernel::daemon {

struct Config {
  // [node]
  std::string node_name;  // "" -> the host name
  // [daemon]
  std::string socket = "/run/aikernel/aikernel.sock";
  mode_t socket_mode = 0660;
  std::string socket_group;  // "" -> the daemon's own group
  std::string admin_group;   // "" -> only uid 0 is an operator
  std::string state_dir = "/var/lib/aikernel";
  std::string log_level = "info";
  int64_t max_message_bytes = 4 << 20;
  int64_t drain_timeout_ms = 5000;
  std::string logs_dir = "/var/log/aikernel";  // agents' logs: <logs_dir>/agents/
  // [audit]
  std::string audit_synchronous = "full";
  int64_t checkpoint_every_records = 1000;
  int64_t checkpoint_every_ms = 1000;
  int64_t max_batch = 8192;
  std::vector<std::string> redact_fields = {"password", "secret", "token",
                                            "api_key", "authorization"};
  // [policy]
  std::string policy_dir = "/etc/aikernel";  // policies/*.cedar, entities.json, schema
  int64_t approval_timeout_ms = 300000;
  // [memory]
  std::string memory_synchronous = "full";
  int64_t memory_default_max_bytes = int64_t{256} << 20;
  int64_t memory_default_max_records = 1'000'000;
  // [msg]
  std::string msg_synchronous = "full";
  int64_t msg_max_payload_bytes = 1 << 20;
  int64_t msg_default_ttl_ms = 86'400'000;
  // [identity] (durations in seconds; the file takes "90s", "5m", "1h", "365d")
  std::string trust_domain;  // "" -> DefaultTrustDomain(node name)
  int64_t x509_svid_ttl_s = 3600;
  int64_t jwt_svid_ttl_s = 300;
  int64_t max_svid_ttl_s = 86400;
  int64_t ca_ttl_s = 365 * 86400;
  int64_t clock_skew_s = 0;
  // [peer] (docs/net.md)
  std::string peer_listen;  // "" -> no peer listener
  struct PeerEntry {
    std::string name, trust_domain, address, bundle_file;
  };
  std::vector<PeerEntry> peers;

  // Where each key that was set came from ("file:line:col"), so checks made
  // after parsing (e.g. that a group exists) can point at the line.
  std::map<std::string, std::string> positions;
  std::string source;  // the file, or "(defaults)"
  std::string Where(const std::string& key) const {
    auto it = positions.find(key);
    if (it != positions.end()) return it->second;
    return source.empty() ? "(defaults)" : source;
  }
  // [agents]
  bool agents_enabled = true;
  int64_t agents_max_running = 8;
  int64_t agents_memory_budget_bytes = 4ll << 30;
  int64_t agents_aging_interval_ms = 10000;
  int64_t agents_default_uid = 65534;
  int64_t agents_default_gid = 65534;
  int64_t agents_log_max_bytes = 10 << 20;
  int64_t agents_log_keep = 3;
  std::string agents_specs_dir;  // "" -> agents/ beside the configuration file
  // [[mcp]]: MCP servers mounted as tool providers (docs/mcp.md). The
  // command, args, sandbox and limits are checked when parsed.
  std::vector<tools::mcp::ServerConfig> mcp;
  // [profiles.<name>]: sandbox profiles agents may name; "default" and
  // "trusted" are built in and may be overridden (daemon/profile_config.h).
  agents::ProfileMap profiles = agents::BuiltinProfiles();
  // [tools] (docs/tools.md)
  int64_t tools_max_args_bytes = 1 << 20;
  int64_t tools_max_result_bytes = 1 << 20;
  int64_t tools_call_timeout_ms = 30000;
  // [tools.fs]
  std::vector<tools::FsRoot> tools_fs_roots;
  int64_t tools_fs_max_read_bytes = 1 << 20;
  int64_t tools_fs_max_write_bytes = 1 << 20;
  // [tools.http]
  int64_t tools_http_max_response_bytes = 1 << 20;
  int64_t tools_http_timeout_ms = 10000;
  int64_t tools_http_max_redirects = 5;
  // [tools.exec]
  std::vector<std::string> tools_exec_profiles;
  int64_t tools_exec_max_output_bytes = 64 << 10;
  int64_t tools_exec_timeout_ms = 10000;
  int64_t tools_exec_uid = 65534;
  int64_t tools_exec_gid = 65534;
};

// The trust domain for a node name when identity.trust_domain is empty:
// lower-cased, every character outside [a-z0-9.-_] replaced by '-', at most
// 255 characters; "localhost" if that leaves nothing.
std::string DefaultTrustDomain(const std::string& node_name);
// identity.trust_domain, or the default for `node_name`.
std::string TrustDomainOf(const Config& c, const std::string& node_name);

// "90s", "5m", "1h30m", "365d" (units s, m, h, d; at least one part) ->
// seconds. false if malformed or over ~100 years.
bool ParseDurationSeconds(const std::string& text, int64_t* seconds);

StatusOr<Config> LoadConfig(const std::string& path);
StatusOr<Config> ParseConfig(const std::string& text, const std::string& source_name);

// The dotted keys whose values differ between `a` and `b`.
std::vector<std::string> ChangedKeys(const Config& a, const Config& b);
// Keys a running daemon applies on reload; every other change needs a restart.
bool IsReloadable(const std::string& key);

}  // namespace aikernel::daemon
