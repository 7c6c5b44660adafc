// mcp::ServerConfig: one `[[mcp]]` entry of aikerneld.toml, as plain data.
// The daemon's config parser fills it (daemon/config.cc); mcp::Manager
// starts one server per entry. Defaults here are the documented ones
// (config/aikerneld.toml, docs/mcp.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aikernel::tools::mcp {

// One header sent with every request to a url server. `secret`: the value
// was read from a file (headers_from_file) and is never shown (logs, aictl,
// errors say "<secret>"); headers.h checks them.
struct HttpHeader {
  std::string name;
  std::string value;
  bool secret = false;

  bool operator==(const HttpHeader&) const = default;
};

struct ServerConfig {
  std::string name;  // [a-z0-9_-]{1,64}; tools mount as <name>.<tool>
  // Exactly one of command (a stdio server the daemon starts) and url (a
  // streamable HTTP endpoint, http:// or https://; the daemon starts
  // nothing, so the keys below up to workdir do not apply).
  std::string command;
  std::string url;
  std::vector<HttpHeader> headers;  // url servers only
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // nothing else of the daemon's env is passed
  // sandbox profile: "trusted" (host file system view, own pid/ipc/uts
  // namespaces, seccomp, no capabilities) or "default" (read-only root,
  // private /tmp, no network, Landlock; add the server's files to
  // read_paths).
  std::string sandbox = "trusted";
  std::vector<std::string> read_paths;   // Landlock read(+exec) beneath these ("default")
  std::vector<std::string> write_paths;  // Landlock read+write beneath these
  int64_t uid = 65534;
  int64_t gid = 65534;
  std::string workdir;  // "" -> <state_dir>/mcp/<name>, created for uid/gid
  int64_t call_timeout_ms = 30000;
  int64_t start_timeout_ms = 30000;     // spawn to tools listed
  int64_t max_message_bytes = 8 << 20;  // one JSON-RPC line from the server
  int64_t restart_initial_ms = 500;
  int64_t restart_max_ms = 60000;

  bool operator==(const ServerConfig&) const = default;
};

}  // namespace aikernel::tools::mcp
