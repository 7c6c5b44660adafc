// mcp::Manager: the MCP servers named in config ([[mcp]]), mounted as tool
// providers.
//
// Contract
// - Create() validates the entries (unique names of [a-z0-9_-]{1,64}, a
//   command or an http(s) url but not both, a sandbox profile that
//   ManagerOptions::profiles has, positive timeouts), opens the pin file
//   <state_dir>/mcp-pins.json and makes each server's workdir
//   (<state_dir>/mcp/<name>, owned by its uid/gid; stdio servers) and
//   <logs_dir>/mcp/.
//   INVALID_ARGUMENT names the entry and field.
// - Start() and Shutdown() run on the loop's thread (or before/after it
//   runs); Start() spawns or connects every server (mcp::Server has the
//   lifecycle). Shutdown() ends them, then gives the HTTP sessions' DELETEs
//   up to 2 s to finish.
// - Everything else is thread-safe and meant for gRPC threads. Call()
//   blocks its caller until the answer, the deadline, the caller's cancel
//   or BeginShutdown(); it must never run on the loop's thread (the loop
//   completes it).
// - Tool names are "<server>.<tool>"; Call()/Accept() of a name whose
//   server is unknown or which the server does not list is NOT_FOUND; a
//   tool refused by its pin is FAILED_PRECONDITION naming the change.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "sandbox/launch_thread.h"
#include "tools/mcp/pins.h"
#include "tools/mcp/server.h"
#include "tools/mcp/server_config.h"

namespace aikernel::tools::mcp {

struct ManagerOptions {
  boost::asio::io_context* io = nullptr;
  std::string state_dir;
  std::string logs_dir;
  std::string client_version;
  sandbox::Launcher* launcher = nullptr;  // null: sandbox::RealLauncher()
  // The sandbox profiles an entry's `sandbox` may name (the daemon's
  // [profiles.<name>] with the builtins). Empty: the builtins only.
  std::map<std::string, sandbox::Profile, std::less<>> profiles;
  EventFn on_event;  // ledger records (tool.pin, tool.refuse, mcp.fault)
  std::function<void()> on_change;  // see ServerDeps
};

// Checks one entry; INVALID_ARGUMENT "mcp '<name>': <field>: why".
Status ValidateServerConfig(const ServerConfig& c);

class Manager {
 public:
  static StatusOr<std::unique_ptr<Manager>> Create(ManagerOptions options,
                                                   std::vector<ServerConfig> servers);
  ~Manager();

  void Start();
  void BeginShutdown() { closing_.store(true); }
  void Shutdown();

  std::vector<ServerView> Servers() const;
  // One server's view; NOT_FOUND for an unknown name.
  StatusOr<ServerView> View(const std::string& server) const;
  // Server::ToolsVersion of `server` (0 for an unknown one).
  uint64_t ToolsVersion(const std::string& server) const;
  // Every mounted tool of every server (refused ones included, with why).
  std::vector<MountedTool> Tools() const;
  StatusOr<MountedTool> Find(const std::string& name) const;

  // tools/call of `name` with `arguments` (a JSON object). The deadline is
  // `timeout` or the server's call_timeout_ms, whichever is shorter. Returns the MCP result object (content,
  // structuredContent, isError) as the server sent it.
  StatusOr<nlohmann::json> Call(const std::string& name, const nlohmann::json& arguments,
                                std::chrono::milliseconds timeout,
                                const std::function<bool()>& cancelled);
  // Replaces the [[mcp]] headers of url server `server` (a reload re-read
  // its headers_from_file files), once the loop confirms: requests started
  // after this returns carry them. INVALID_ARGUMENT (ValidateHeaders,
  // naming the header, never a value), NOT_FOUND for an unknown server.
  Status SetHeaders(const std::string& server, std::vector<HttpHeader> headers);
  // Re-pins a refused tool to what the server lists now.
  // FAILED_PRECONDITION when the tool is not refused.
  Status Accept(const std::string& name);

  bool empty() const { return servers_.empty(); }

 private:
  Manager(ManagerOptions options, std::unique_ptr<PinStore> pins);
  StatusOr<Server*> ServerOf(const std::string& name, std::string* tool) const;
  StatusOr<sandbox::Profile> FindProfile(const ServerConfig& c) const;

  ManagerOptions o_;
  std::unique_ptr<PinStore> pins_;
  sandbox::LaunchThread launch_thread_{"aik-mcp-launch"};
  std::unique_ptr<HttpClient> http_;  // made when a server has a url
  std::map<std::string, std::unique_ptr<Server>> servers_;  // fixed after Create
  std::atomic<bool> closing_{false};
};

}  // namespace aikernel::tools::mcp
