#include "tools/mcp/manager.h"

#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>
#include <set>

#include "tools/mcp/headers.h"

namespace aikernel::tools::mcp {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;

namespace {

Status Bad(const ServerConfig& c, const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat("mcp '", c.name, "': ", field, ": ", why));
}

bool ValidServerName(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char ch : n) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) {
      return false;
    }
  }
  return true;
}

Status MakeWorkdir(const ServerConfig& c) {
  std::error_code ec;
  std::filesystem::create_directories(c.workdir, ec);
  if (ec) return Bad(c, "workdir", absl::StrCat("cannot create ", c.workdir, ": ", ec.message()));
  // The daemon's umask (0027) leaves new parents closed to the server's
  // uid; it must be able to reach its workdir (search only, no listing).
  ::chmod(std::filesystem::path(c.workdir).parent_path().c_str(), 0711);
  // The server runs as its own uid and must be able to write its workdir.
  if (::chown(c.workdir.c_str(), static_cast<uid_t>(c.uid), static_cast<gid_t>(c.gid)) != 0 &&
      geteuid() == 0) {
    return Bad(c, "workdir", absl::StrCat("cannot chown ", c.workdir));
  }
  ::chmod(c.workdir.c_str(), 0700);
  return absl::OkStatus();
}

// An http(s) URL that libcurl parses, with no credentials in it (they would
// be logged with every fault) and no settings that only a stdio server uses.
Status ValidateUrl(const ServerConfig& c) {
  std::unique_ptr<CURLU, void (*)(CURLU*)> u(curl_url(), curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, c.url.c_str(), 0) != CURLUE_OK) {
    return Bad(c, "url", absl::StrCat("'", c.url, "' is not a URL"));
  }
  auto part = [&](CURLUPart p) {
    char* v = nullptr;
    std::string out;
    if (curl_url_get(u.get(), p, &v, 0) == CURLUE_OK && v != nullptr) out = v;
    curl_free(v);
    return out;
  };
  std::string scheme = part(CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") {
    return Bad(c, "url", absl::StrCat("scheme must be http or https, got '", scheme, "'"));
  }
  if (!part(CURLUPART_USER).empty() || !part(CURLUPART_PASSWORD).empty()) {
    return Bad(c, "url", "must not carry credentials");
  }
  if (!c.args.empty()) return Bad(c, "args", "only for a command (this entry has a url)");
  if (!c.env.empty()) return Bad(c, "env", "only for a command (this entry has a url)");
  if (!c.read_paths.empty() || !c.write_paths.empty()) {
    return Bad(c, "read_paths/write_paths", "only for a command (this entry has a url)");
  }
  return absl::OkStatus();
}

}  // namespace

Status ValidateServerConfig(const ServerConfig& c) {
  if (!ValidServerName(c.name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mcp: name: '", c.name, "' must be 1-64 of [a-z0-9_-] (tools mount as <name>.<tool>)"));
  }
  if (c.command.empty() == c.url.empty()) {
    return Bad(c, "command/url", "give exactly one: command (a stdio server) or url "
                                 "(streamable HTTP)");
  }
  if (!c.url.empty()) AIK_RETURN_IF_ERROR(ValidateUrl(c));
  if (!c.headers.empty() && c.url.empty()) {
    return Bad(c, "headers/headers_from_file", "only for a url (this entry has a command)");
  }
  if (Status h = ValidateHeaders(c.headers); !h.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("mcp '", c.name, "': ", h.message()));
  }
  if (c.uid <= 0 || c.gid <= 0) return Bad(c, "uid/gid", "must not be root (0)");
  if (c.call_timeout_ms <= 0) return Bad(c, "call_timeout_ms", "must be positive");
  if (c.start_timeout_ms <= 0) return Bad(c, "start_timeout_ms", "must be positive");
  if (c.max_message_bytes < 4096) return Bad(c, "max_message_bytes", "must be at least 4096");
  if (c.restart_initial_ms <= 0 || c.restart_max_ms < c.restart_initial_ms) {
    return Bad(c, "restart_initial_ms/restart_max_ms",
               "must be positive with restart_max_ms >= restart_initial_ms");
  }
  if (!c.workdir.empty() && c.workdir[0] != '/') return Bad(c, "workdir", "must be absolute");
  return absl::OkStatus();
}

Manager::Manager(ManagerOptions options, std::unique_ptr<PinStore> pins)
    : o_(std::move(options)), pins_(std::move(pins)) {}

Manager::~Manager() = default;

StatusOr<std::unique_ptr<Manager>> Manager::Create(ManagerOptions o,
                                                   std::vector<ServerConfig> servers) {
  std::set<std::string> names;
  for (ServerConfig& c : servers) {
    AIK_RETURN_IF_ERROR(ValidateServerConfig(c));
    if (!names.insert(c.name).second) return Bad(c, "name", "used by two [[mcp]] entries");
    if (c.workdir.empty()) c.workdir = o.state_dir + "/mcp/" + c.name;
  }
  if (o.launcher == nullptr) o.launcher = sandbox::RealLauncher();
  AIK_ASSIGN_OR_RETURN(std::unique_ptr<PinStore> pins,
                       PinStore::Open(o.state_dir + "/mcp-pins.json"));
  std::unique_ptr<Manager> m(new Manager(std::move(o), std::move(pins)));
  if (!servers.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(m->o_.logs_dir + "/mcp", ec);
  }
  for (ServerConfig& c : servers) {
    sandbox::Profile profile;
    if (c.url.empty()) {
      AIK_ASSIGN_OR_RETURN(profile, m->FindProfile(c));
      AIK_RETURN_IF_ERROR(MakeWorkdir(c));
    } else if (!m->http_) {
      m->http_ = std::make_unique<HttpClient>();
    }
    ServerDeps deps;
    deps.io = m->o_.io;
    deps.launch_thread = &m->launch_thread_;
    deps.launcher = m->o_.launcher;
    deps.http = m->http_.get();
    deps.profile = std::move(profile);
    deps.pins = m->pins_.get();
    deps.on_event = m->o_.on_event;
    deps.on_change = m->o_.on_change;
    deps.logs_dir = m->o_.logs_dir;
    deps.client_version = m->o_.client_version;
    std::string name = c.name;
    m->servers_[name] = std::make_unique<Server>(std::move(c), std::move(deps));
  }
  return m;
}

StatusOr<sandbox::Profile> Manager::FindProfile(const ServerConfig& c) const {
  if (o_.profiles.empty()) {
    StatusOr<sandbox::Profile> p = sandbox::ProfileByName(c.sandbox);
    if (p.ok()) return p;
  } else if (auto it = o_.profiles.find(c.sandbox); it != o_.profiles.end()) {
    return it->second;
  }
  std::string known;
  if (o_.profiles.empty()) known = "default, trusted";
  for (const auto& [name, p] : o_.profiles) absl::StrAppend(&known, known.empty() ? "" : ", ", name);
  return Bad(c, "sandbox", absl::StrCat("unknown profile '", c.sandbox, "' (known: ", known, ")"));
}

void Manager::Start() {
  for (auto& [name, s] : servers_) s->Start();
}

void Manager::Shutdown() {
  closing_.store(true);
  for (auto& [name, s] : servers_) s->Shutdown();
  if (http_) http_->Stop(std::chrono::seconds(2));
  launch_thread_.Stop();
}

std::vector<ServerView> Manager::Servers() const {
  std::vector<ServerView> out;
  for (const auto& [name, s] : servers_) out.push_back(s->View());
  return out;
}

StatusOr<ServerView> Manager::View(const std::string& server) const {
  auto it = servers_.find(server);
  if (it == servers_.end()) return absl::NotFoundError(absl::StrCat("no MCP server '", server, "'"));
  return it->second->View();
}

uint64_t Manager::ToolsVersion(const std::string& server) const {
  auto it = servers_.find(server);
  return it == servers_.end() ? 0 : it->second->ToolsVersion();
}

std::vector<MountedTool> Manager::Tools() const {
  std::vector<MountedTool> out;
  for (const auto& [name, s] : servers_) {
    ServerView v = s->View();
    for (MountedTool& t : v.tools) out.push_back(std::move(t));
  }
  return out;
}

StatusOr<Server*> Manager::ServerOf(const std::string& name, std::string* tool) const {
  size_t dot = name.find('.');
  auto it = dot == std::string::npos ? servers_.end() : servers_.find(name.substr(0, dot));
  if (it == servers_.end()) {
    return absl::NotFoundError(absl::StrCat("no MCP server for tool '", name, "'"));
  }
  *tool = name.substr(dot + 1);
  return it->second.get();
}

StatusOr<MountedTool> Manager::Find(const std::string& name) const {
  std::string tool;
  AIK_ASSIGN_OR_RETURN(Server * s, ServerOf(name, &tool));
  ServerView v = s->View();
  for (MountedTool& t : v.tools) {
    if (t.name == name) return std::move(t);
  }
  return absl::NotFoundError(absl::StrCat("MCP server ", v.name, " (", StateName(v.state),
                                          ") lists no tool '", tool, "'"));
}

StatusOr<json> Manager::Call(const std::string& name, const json& arguments,
                             milliseconds timeout, const std::function<bool()>& cancelled) {
  if (closing_.load()) return absl::UnavailableError("the daemon is shutting down");
  std::string tool;
  AIK_ASSIGN_OR_RETURN(Server * s, ServerOf(name, &tool));
  if (auto r = s->CallOnLane(tool, arguments, timeout, cancelled)) return *std::move(r);
  // A cut HTTP answer stream is resumed on the loop (ResumeCall).
  auto handover = std::make_shared<std::optional<Server::HttpHandover>>();
  if (auto r = s->CallOverHttp(tool, arguments, timeout, cancelled, handover.get())) {
    return *std::move(r);
  }
  auto promise = std::make_shared<std::promise<StatusOr<json>>>();
  std::future<StatusOr<json>> answer = promise->get_future();
  auto call = std::make_shared<std::shared_ptr<Server::Call>>();
  asio::post(*o_.io, [s, tool, arguments, timeout, promise, call, handover] {
    auto done = [promise](StatusOr<json> r) { promise->set_value(std::move(r)); };
    *call = *handover ? s->ResumeCall(std::move(**handover), done)
                      : s->CallTool(tool, arguments, timeout, done);
  });
  // Poll the caller's cancel and the shutdown flag between waits: the loop
  // completes the promise, so a closed loop must not leave us waiting.
  for (;;) {
    if (answer.wait_for(milliseconds(20)) == std::future_status::ready) return answer.get();
    if (closing_.load()) {
      return absl::UnavailableError(absl::StrCat("MCP call ", name,
                                                 " abandoned: the daemon is shutting down"));
    }
    if (cancelled && cancelled()) {
      asio::post(*o_.io, [s, call] {
        if (*call) s->Cancel(*call, kCallerCancelled);
      });
      // Cancel completes the call (unless its answer raced it in).
      return answer.get();
    }
  }
}

// Runs `fn` on the loop and waits (5 s at most) until it has.
static Status OnLoopAndWait(boost::asio::io_context& io, std::function<void()> fn,
                            const std::string& what) {
  if (!RunOnLoop(io, std::move(fn), std::chrono::seconds(5))) {
    return absl::UnavailableError(absl::StrCat(what, ", but the loop did not confirm in 5 s"));
  }
  return absl::OkStatus();
}

Status Manager::SetHeaders(const std::string& server, std::vector<HttpHeader> headers) {
  auto it = servers_.find(server);
  if (it == servers_.end()) return absl::NotFoundError(absl::StrCat("no MCP server '", server, "'"));
  if (Status h = ValidateHeaders(headers); !h.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("mcp '", server, "': ", h.message()));
  }
  Server* s = it->second.get();
  return OnLoopAndWait(*o_.io, [s, h = std::move(headers)]() mutable { s->SetHeaders(std::move(h)); },
                       absl::StrCat("mcp '", server, "': headers set"));
}

Status Manager::Accept(const std::string& name) {
  AIK_ASSIGN_OR_RETURN(MountedTool t, Find(name));
  if (t.refused.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("tool ", name, " matches its pin; nothing to accept"));
  }
  AIK_RETURN_IF_ERROR(pins_->Accept(name, t.digest));
  std::string tool;
  AIK_ASSIGN_OR_RETURN(Server * s, ServerOf(name, &tool));
  // Re-check on the loop so calls made after Accept returns see it.
  return OnLoopAndWait(*o_.io, [s] { s->RecheckPins(); }, "accepted and pinned");
}

}  // namespace aikernel::tools::mcp
