#include "tools/mcp/server.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>

#include <spdlog/spdlog.h>

#include "agents/log_file.h"
#include "agents/schedule.h"

namespace aikernel::tools::mcp {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

const char* StateName(ServerState s) {
  switch (s) {
    case ServerState::kStarting: return "starting";
    case ServerState::kInitializing: return "initializing";
    case ServerState::kReady: return "ready";
    case ServerState::kBackoff: return "backoff";
    case ServerState::kStopped: return "stopped";
  }
  return "?";
}

struct Server::Call {
  explicit Call(asio::io_context& io) : timer(io) {}
  int64_t id = 0;  // 0 until sent
  std::string tool;
  json args;
  milliseconds timeout{0};
  Done done;
  asio::steady_timer timer;
  bool finished = false;
};

namespace {

Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

// A process that has been ready this long resets the restart backoff.
constexpr auto kStableAfter = std::chrono::seconds(30);
constexpr int kMaxListPages = 100;

}  // namespace

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
 public:
  Impl(const ServerConfig& config, ServerDeps deps)
      : c_(config),
        d_(std::move(deps)),
        io_(*d_.io),
        restart_timer_(io_),
        log_(d_.logs_dir + "/mcp/" + config.name + ".log", 10 << 20, 3) {
    view_.name = c_.name;
  }

  // --------------------------------------------------------------- process
  // One launched process and its pipes. Handlers check `proc_ == p` so a
  // callback of an earlier process never touches the current one.
  struct Proc {
    explicit Proc(asio::io_context& io, size_t max_line)
        : in(io), out(io), err(io), pid_sd(io), start_timer(io), framer(max_line) {}
    sandbox::Launched l;
    asio::posix::stream_descriptor in, out, err, pid_sd;
    asio::steady_timer start_timer;
    LineFramer framer;
    std::deque<std::string> write_queue;
    bool writing = false;
    std::array<char, 65536> out_buf{};
    std::array<char, 16384> err_buf{};
    std::string fault;  // set when we killed it, and why
    Clock::time_point ready_at{};
    Clock::time_point flood_window{};
    int flood_count = 0;
    bool listing = false, relist = false;
    std::vector<ToolDef> listed;  // pages collected so far
  };
  using ProcPtr = std::shared_ptr<Proc>;

  struct LaunchPipes {
    UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
    sandbox::LaunchSpec spec;
  };

  void Start() {
    if (stopped_) return;
    SetState(ServerState::kStarting);
    auto pipes = std::make_shared<LaunchPipes>();
    if (Status s = Prepare(*pipes); !s.ok()) {
      Failed(absl::StrCat("spawn: ", s.message()));
      return;
    }
    auto self = shared_from_this();
    d_.launch_thread->Post([self, pipes] {
      auto r = std::make_shared<StatusOr<sandbox::Launched>>(
          self->d_.launcher->Launch(pipes->spec));
      asio::post(self->io_, [self, pipes, r] { self->Launched(pipes, std::move(*r)); });
    });
  }

  Status Prepare(LaunchPipes& p) {
    AIK_ASSIGN_OR_RETURN(sandbox::Profile profile, sandbox::ProfileByName(c_.sandbox));
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    p.in_r.reset(fds[0]);
    p.in_w.reset(fds[1]);
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    p.out_r.reset(fds[0]);
    p.out_w.reset(fds[1]);
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    p.err_r.reset(fds[0]);
    p.err_w.reset(fds[1]);
    for (int fd : {p.in_w.get(), p.out_r.get(), p.err_r.get()}) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    const std::string& workdir = c_.workdir;
    sandbox::LaunchSpec& ls = p.spec;
    ls.argv.push_back(c_.command);
    ls.argv.insert(ls.argv.end(), c_.args.begin(), c_.args.end());
    bool have_path = false, have_home = false;
    for (const auto& [k, v] : c_.env) {
      ls.env.push_back(k + "=" + v);
      have_path |= k == "PATH";
      have_home |= k == "HOME";
    }
    if (!have_path) ls.env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
    if (!have_home) ls.env.push_back("HOME=" + workdir);
    ls.workdir = workdir;
    ls.uid = static_cast<uid_t>(c_.uid);
    ls.gid = static_cast<gid_t>(c_.gid);
    if (profile.landlock) {
      std::filesystem::path cmd(c_.command);
      if (cmd.is_absolute()) profile.readonly_paths.push_back(cmd.parent_path().string());
    }
    profile.readonly_paths.insert(profile.readonly_paths.end(), c_.read_paths.begin(),
                                  c_.read_paths.end());
    profile.writable_paths.insert(profile.writable_paths.end(), c_.write_paths.begin(),
                                  c_.write_paths.end());
    ls.profile = std::move(profile);
    ls.stdin_fd = p.in_r.get();
    ls.stdout_fd = p.out_w.get();
    ls.stderr_fd = p.err_w.get();
    ls.hostname = c_.name;
    ls.die_with_parent = true;
    return absl::OkStatus();
  }

  void Launched(const std::shared_ptr<LaunchPipes>& pipes, StatusOr<sandbox::Launched> l) {
    if (stopped_) {
      if (l.ok()) {
        sandbox::KillTree(*l).IgnoreError();
        sandbox::Reap(*l, true).IgnoreError();
      }
      return;
    }
    if (!l.ok()) {
      Failed(absl::StrCat("spawn: ", l.status().message()));
      return;
    }
    auto p = std::make_shared<Proc>(io_, static_cast<size_t>(c_.max_message_bytes));
    p->l = *std::move(l);
    int dup_pidfd = fcntl(p->l.pidfd.get(), F_DUPFD_CLOEXEC, 0);
    if (dup_pidfd < 0) {
      Status s = Errno("dup pidfd");
      sandbox::KillTree(p->l).IgnoreError();
      sandbox::Reap(p->l, true).IgnoreError();
      Failed(std::string(s.message()));
      return;
    }
    p->pid_sd.assign(dup_pidfd);
    p->in.assign(pipes->in_w.release());
    p->out.assign(pipes->out_r.release());
    p->err.assign(pipes->err_r.release());
    proc_ = p;
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.pid = p->l.pid;
      ++view_.starts;
    }
    spdlog::info("mcp {}: started pid {} ({})", c_.name, p->l.pid, c_.command);
    WatchExit(p);
    ReadOut(p);
    ReadErr(p);
    SetState(ServerState::kInitializing);
    p->start_timer.expires_after(milliseconds(c_.start_timeout_ms));
    auto self = shared_from_this();
    p->start_timer.async_wait([self, p](const boost::system::error_code& ec) {
      if (ec || self->proc_ != p || self->state_ == ServerState::kReady) return;
      self->Fault(p, absl::StrCat("not ready within start_timeout_ms (", self->c_.start_timeout_ms,
                                  " ms) after spawn"));
    });
    SendRequest(p, "initialize", InitializeParams(d_.client_version),
                [self, p](StatusOr<json> r) { self->Initialized(p, std::move(r)); });
  }

  void Initialized(const ProcPtr& p, StatusOr<json> r) {
    if (!r.ok()) {
      Fault(p, absl::StrCat("initialize failed: ", r.status().message()));
      return;
    }
    std::string version = r->value("protocolVersion", "");
    if (!SupportedProtocolVersion(version)) {
      Fault(p, absl::StrCat("server answered protocol version '", version,
                            "'; aikerneld speaks 2025-06-18 and 2025-03-26"));
      return;
    }
    std::string info;
    if (auto si = r->find("serverInfo"); si != r->end() && si->is_object()) {
      info = absl::StrCat(si->value("name", ""), " ", si->value("version", ""));
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.protocol_version = version;
      view_.server_info = info;
    }
    Write(p, MakeNotification("notifications/initialized", json()));
    ListTools(p);
  }

  // tools/list, page by page; on the last page the listing replaces the
  // mounted tools.
  void ListTools(const ProcPtr& p) {
    if (p->listing) {
      p->relist = true;
      return;
    }
    p->listing = true;
    p->listed.clear();
    ListPage(p, "", 0);
  }

  void ListPage(const ProcPtr& p, const std::string& cursor, int page) {
    json params = json::object();
    if (!cursor.empty()) params["cursor"] = cursor;
    auto self = shared_from_this();
    SendRequest(p, "tools/list", params, [self, p, page](StatusOr<json> r) {
      if (self->proc_ != p) return;
      StatusOr<ToolsPage> tp = r.ok() ? ParseToolsList(*r) : StatusOr<ToolsPage>(r.status());
      if (!tp.ok()) {
        self->Fault(p, absl::StrCat("tools/list: ", tp.status().message()));
        return;
      }
      for (const std::string& s : tp->skipped) {
        spdlog::warn("mcp {}: tool skipped: {}", self->c_.name, s);
      }
      for (ToolDef& t : tp->tools) p->listed.push_back(std::move(t));
      if (!tp->next_cursor.empty()) {
        if (page + 1 >= kMaxListPages) {
          self->Fault(p, absl::StrCat("tools/list: more than ", kMaxListPages, " pages"));
          return;
        }
        self->ListPage(p, tp->next_cursor, page + 1);
        return;
      }
      p->listing = false;
      self->Mount(p, std::move(p->listed));
      if (p->relist) {
        p->relist = false;
        self->ListTools(p);
      }
    });
  }

  void Mount(const ProcPtr& p, std::vector<ToolDef> defs) {
    std::vector<MountedTool> tools;
    std::vector<std::pair<std::string, PinDigest>> digests;
    for (ToolDef& d : defs) {
      MountedTool t;
      t.name = c_.name + "." + d.name;
      t.digest = DigestTool(d);
      t.def = std::move(d);
      digests.emplace_back(t.name, t.digest);
      tools.push_back(std::move(t));
    }
    StatusOr<std::vector<PinCheck>> checks = d_.pins->Check(digests);
    if (!checks.ok()) {
      // Without a durable pin nothing can be trusted later: mount nothing.
      Fault(p, absl::StrCat("tool pins: ", checks.status().message()));
      return;
    }
    for (size_t i = 0; i < tools.size(); ++i) {
      const PinCheck& c = (*checks)[i];
      MountedTool& t = tools[i];
      if (c.result == PinCheck::Result::kNew) {
        Event("tool.pin", "tool:" + t.name,
              {"description_sha256:" + t.digest.description_sha256,
               "schema_sha256:" + t.digest.schema_sha256});
      } else if (c.result == PinCheck::Result::kChanged) {
        t.refused = absl::StrCat("tool ", t.name, ": ", c.change,
                                 " since it was pinned; refused until an operator runs "
                                 "'aictl tool accept ", t.name, "'");
        spdlog::warn("mcp {}: {}", c_.name, t.refused);
        if (!WasRefused(t.name, t.digest)) {
          Event("tool.refuse", "tool:" + t.name,
                {c.change, "description_sha256:" + t.digest.description_sha256,
                 "schema_sha256:" + t.digest.schema_sha256});
        }
      }
    }
    bool first = state_ != ServerState::kReady;
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.tools = std::move(tools);
      tools_version_.fetch_add(1);
    }
    if (!first) Changed();
    if (first) {
      p->start_timer.cancel();
      p->ready_at = Clock::now();
      SetState(ServerState::kReady);
      spdlog::info("mcp {}: ready, {} tools", c_.name, View().tools.size());
      std::deque<std::shared_ptr<Call>> waiting;
      waiting.swap(waiting_);
      for (auto& call : waiting) {
        if (!call->finished) Send(p, call);
      }
    }
  }

  // True when `name` is already refused with this very digest (so a re-list
  // does not write the same refusal to the ledger again).
  bool WasRefused(const std::string& name, const PinDigest& digest) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const MountedTool& t : view_.tools) {
      if (t.name == name) return !t.refused.empty() && t.digest == digest;
    }
    return false;
  }

  void RecheckPins() {
    if (!proc_ || state_ != ServerState::kReady) return;
    std::vector<ToolDef> defs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const MountedTool& t : view_.tools) defs.push_back(t.def);
    }
    Mount(proc_, std::move(defs));
  }

  // ----------------------------------------------------------------- calls
  std::shared_ptr<Call> CallTool(const std::string& tool, json args, milliseconds timeout,
                                 Done done) {
    auto call = std::make_shared<Call>(io_);
    call->tool = tool;
    call->args = std::move(args);
    // The caller's deadline, but never longer than the server's own limit.
    call->timeout = milliseconds(c_.call_timeout_ms);
    if (timeout.count() > 0 && timeout < call->timeout) call->timeout = timeout;
    call->done = std::move(done);
    if (stopped_) {
      Finish(call, absl::UnavailableError(absl::StrCat("mcp server ", c_.name, " is stopped")));
      return call;
    }
    auto self = shared_from_this();
    call->timer.expires_after(call->timeout);
    call->timer.async_wait([self, call](const boost::system::error_code& ec) {
      if (ec || call->finished) return;
      self->TimedOut(call);
    });
    if (state_ == ServerState::kReady && proc_) {
      Send(proc_, call);
    } else {
      waiting_.push_back(call);
    }
    return call;
  }

  // Checks the tool against the mounted list at send time (the list may
  // have changed since the caller looked).
  void Send(const ProcPtr& p, const std::shared_ptr<Call>& call) {
    std::string refused;
    bool found = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const MountedTool& t : view_.tools) {
        if (t.def.name == call->tool) {
          found = true;
          refused = t.refused;
          break;
        }
      }
    }
    if (!found) {
      Finish(call, absl::NotFoundError(absl::StrCat("mcp server ", c_.name,
                                                    " has no tool '", call->tool, "'")));
      return;
    }
    if (!refused.empty()) {
      Finish(call, absl::FailedPreconditionError(refused));
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++view_.calls;
    }
    Changed();
    auto self = shared_from_this();
    call->id = SendRequest(
        p, "tools/call", {{"name", call->tool}, {"arguments", call->args}},
        [self, call](StatusOr<json> r) { self->Finish(call, std::move(r)); });
  }

  void TimedOut(const std::shared_ptr<Call>& call) {
    bool sent = call->id != 0;
    if (sent) SendCancel(call, "timeout");
    Finish(call, absl::DeadlineExceededError(absl::StrCat(
                     "mcp ", c_.name, ".", call->tool, ": no answer within ",
                     call->timeout.count(), " ms",
                     sent ? " (notifications/cancelled sent)"
                          : absl::StrCat(" (server not ready: ", StateName(state_), ")"))));
  }

  void Cancel(const std::shared_ptr<Call>& call, const std::string& reason) {
    if (call->finished) return;
    if (call->id != 0) SendCancel(call, reason);
    Finish(call, absl::CancelledError(absl::StrCat("mcp ", c_.name, ".", call->tool, ": ",
                                                   reason)));
  }

  void SendCancel(const std::shared_ptr<Call>& call, const std::string& reason) {
    pending_.erase(call->id);
    if (!proc_) return;
    Write(proc_, MakeNotification("notifications/cancelled",
                                  {{"requestId", call->id}, {"reason", reason}}));
    std::lock_guard<std::mutex> lock(mu_);
    ++view_.cancellations;
  }

  void Finish(const std::shared_ptr<Call>& call, StatusOr<json> r) {
    if (call->finished) return;
    call->finished = true;
    call->timer.cancel();
    if (call->id != 0) pending_.erase(call->id);
    if (!r.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ++view_.calls_failed;
    }
    Done done = std::move(call->done);
    if (done) done(std::move(r));
  }

  // ------------------------------------------------------------- JSON-RPC
  using Reply = std::function<void(StatusOr<json>)>;

  int64_t SendRequest(const ProcPtr& p, const std::string& method, const json& params,
                      Reply reply) {
    int64_t id = next_id_++;
    pending_[id] = Pending{method, std::move(reply)};
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++view_.requests;
    }
    Write(p, MakeRequest(id, method, params));
    return id;
  }

  void Write(const ProcPtr& p, std::string line) {
    p->write_queue.push_back(std::move(line));
    if (!p->writing) WriteNext(p);
  }

  void WriteNext(const ProcPtr& p) {
    if (p->write_queue.empty() || !p->in.is_open()) {
      p->writing = false;
      return;
    }
    p->writing = true;
    auto self = shared_from_this();
    asio::async_write(p->in, asio::buffer(p->write_queue.front()),
                      [self, p](const boost::system::error_code& ec, size_t) {
                        if (ec) {
                          // EPIPE: the server closed stdin or died; its exit
                          // is handled by WatchExit.
                          p->writing = false;
                          p->write_queue.clear();
                          return;
                        }
                        p->write_queue.pop_front();
                        self->WriteNext(p);
                      });
  }

  void ReadOut(const ProcPtr& p) {
    auto self = shared_from_this();
    p->out.async_read_some(
        asio::buffer(p->out_buf), [self, p](const boost::system::error_code& ec, size_t n) {
          if (ec) return;  // EOF: the exit handler takes over
          if (self->proc_ != p || !p->fault.empty()) return;
          std::vector<std::string> lines;
          Status s = p->framer.Feed(std::string_view(p->out_buf.data(), n), &lines);
          for (const std::string& line : lines) {
            if (self->proc_ != p || !p->fault.empty()) return;
            self->HandleLine(p, line);
          }
          if (!s.ok()) {
            self->Fault(p, absl::StrCat("stdout: ", s.message(),
                                        " (max_message_bytes); cut off"));
            return;
          }
          if (p->fault.empty()) self->ReadOut(p);
        });
  }

  void ReadErr(const ProcPtr& p) {
    auto self = shared_from_this();
    p->err.async_read_some(asio::buffer(p->err_buf),
                           [self, p](const boost::system::error_code& ec, size_t n) {
                             if (ec) return;
                             self->log_.Write(std::string_view(p->err_buf.data(), n))
                                 .IgnoreError();
                             self->ReadErr(p);
                           });
  }

  bool Flooding(const ProcPtr& p) {
    auto now = Clock::now();
    if (now - p->flood_window > std::chrono::seconds(1)) {
      p->flood_window = now;
      p->flood_count = 0;
    }
    return ++p->flood_count > kFloodMessages;
  }

  void HandleLine(const ProcPtr& p, const std::string& line) {
    StatusOr<Incoming> in = ParseIncoming(line);
    if (!in.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++view_.protocol_errors;
      }
      Fault(p, absl::StrCat("stdout: ", in.status().message()));
      return;
    }
    if (in->kind == Incoming::Kind::kResponse) {
      auto it = in->id.is_number_integer() ? pending_.find(in->id.get<int64_t>())
                                           : pending_.end();
      if (it == pending_.end()) {
        // Late answer to a call that timed out or was cancelled.
        if (Flooding(p)) FloodFault(p);
        return;
      }
      Pending pd = std::move(it->second);
      pending_.erase(it);
      if (in->error) {
        pd.reply(absl::UnknownError(absl::StrCat("mcp ", c_.name, ": ", pd.method,
                                                 ": JSON-RPC error ", DescribeError(*in->error))));
      } else {
        pd.reply(std::move(in->result));
      }
      return;
    }
    if (Flooding(p)) {
      FloodFault(p);
      return;
    }
    if (in->kind == Incoming::Kind::kRequest) {
      // aikernel offers servers nothing but ping (no roots, sampling,
      // elicitation capabilities).
      if (in->method == "ping") {
        Write(p, MakeResult(in->id, json::object()));
      } else {
        Write(p, MakeErrorReply(in->id, -32601,
                                absl::StrCat("method not offered by aikerneld: ", in->method)));
      }
      return;
    }
    if (in->method == "notifications/tools/list_changed") {
      if (state_ == ServerState::kReady) ListTools(p);
    } else if (in->method == "notifications/message") {
      log_.Write(absl::StrCat("[", in->params.value("level", "log"), "] ",
                              in->params.contains("data") ? in->params["data"].dump() : "",
                              "\n"))
          .IgnoreError();
    }
    // notifications/progress and others: nothing to do.
  }

  void FloodFault(const ProcPtr& p) {
    Fault(p, absl::StrCat("flooding stdout: more than ", kFloodMessages,
                          " unsolicited messages within 1 s"));
  }

  // Ends the process because of `why`; its exit does the rest.
  void Fault(const ProcPtr& p, const std::string& why) {
    if (proc_ != p || !p->fault.empty()) return;
    p->fault = why;
    spdlog::error("mcp {}: {}; killing pid {}", c_.name, why, p->l.pid);
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.last_error = why;
    }
    Event("mcp.fault", "mcp:" + c_.name, {why});
    boost::system::error_code ignored;
    p->out.close(ignored);
    sandbox::KillTree(p->l).IgnoreError();
  }

  void WatchExit(const ProcPtr& p) {
    auto self = shared_from_this();
    p->pid_sd.async_wait(asio::posix::stream_descriptor::wait_read,
                         [self, p](const boost::system::error_code& ec) {
                           if (ec || self->proc_ != p) return;
                           self->Exited(p);
                         });
  }

  void Exited(const ProcPtr& p) {
    StatusOr<std::optional<sandbox::ExitStatus>> r = sandbox::Reap(p->l, false);
    if (r.ok() && !r->has_value()) {
      WatchExit(p);
      return;
    }
    sandbox::KillTree(p->l).IgnoreError();
    // Whatever is left on stderr is the likeliest explanation.
    DrainErr(p);
    std::string why = p->fault;
    if (why.empty()) {
      if (!r.ok()) {
        why = absl::StrCat("waitid: ", r.status().message());
      } else if ((*r)->signaled) {
        why = absl::StrCat("killed by signal ", (*r)->code);
      } else {
        why = absl::StrCat("exited with code ", (*r)->code);
      }
    }
    spdlog::warn("mcp {}: pid {} ended: {}", c_.name, p->l.pid, why);
    bool stable = p->ready_at != Clock::time_point{} && Clock::now() - p->ready_at >= kStableAfter;
    CloseProc(p);
    FailAll(absl::StrCat("mcp server ", c_.name, " ended (", why, ")"));
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.last_error = why;
      view_.pid = 0;
    }
    if (stable) attempt_ = 0;
    Failed(why);
  }

  void DrainErr(const ProcPtr& p) {
    if (!p->err.is_open()) return;
    for (int i = 0; i < 64; ++i) {
      ssize_t n = ::read(p->err.native_handle(), p->err_buf.data(), p->err_buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      log_.Write(std::string_view(p->err_buf.data(), static_cast<size_t>(n))).IgnoreError();
    }
  }

  void CloseProc(const ProcPtr& p) {
    boost::system::error_code ignored;
    p->start_timer.cancel();
    p->in.close(ignored);
    p->out.close(ignored);
    p->err.close(ignored);
    p->pid_sd.close(ignored);
    if (proc_ == p) proc_.reset();
  }

  // Fails every request in flight (handshake included) and every call.
  void FailAll(const std::string& why) {
    std::map<int64_t, Pending> pending;
    pending.swap(pending_);
    for (auto& [id, pd] : pending) pd.reply(absl::UnavailableError(why));
  }

  // The process is gone or never started: back off, then start again.
  void Failed(const std::string& why) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.last_error = why;
    }
    if (stopped_) return;
    int64_t delay = agents::BackoffMs(c_.restart_initial_ms, c_.restart_max_ms, attempt_++);
    spdlog::warn("mcp {}: {}; restarting in {} ms", c_.name, why, delay);
    SetState(ServerState::kBackoff);
    restart_timer_.expires_after(milliseconds(delay));
    auto self = shared_from_this();
    restart_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Start();
    });
  }

  void Shutdown() {
    stopped_ = true;
    restart_timer_.cancel();
    if (ProcPtr p = proc_) {
      sandbox::KillTree(p->l).IgnoreError();
      sandbox::Reap(p->l, true).IgnoreError();
      DrainErr(p);
      CloseProc(p);
    }
    FailAll(absl::StrCat("mcp server ", c_.name, " stopped (daemon shutting down)"));
    std::deque<std::shared_ptr<Call>> waiting;
    waiting.swap(waiting_);
    for (auto& call : waiting) {
      Finish(call, absl::UnavailableError(absl::StrCat("mcp server ", c_.name, " stopped")));
    }
    SetState(ServerState::kStopped);
    log_.Close();
  }

  void SetState(ServerState s) {
    state_ = s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.state = s;
    }
    Changed();
  }

  void Changed() {
    if (d_.on_change) d_.on_change();
  }

  void Event(const std::string& action, const std::string& resource,
             const std::vector<std::string>& details) {
    if (d_.on_event) d_.on_event(action, resource, details);
  }

  ServerView View() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_;
  }

 private:
  struct Pending {
    std::string method;
    Reply reply;
  };

  const ServerConfig c_;
  ServerDeps d_;
  asio::io_context& io_;
  asio::steady_timer restart_timer_;
  agents::LogFile log_;
  ProcPtr proc_;
  ServerState state_ = ServerState::kStopped;
  bool stopped_ = false;
  int64_t attempt_ = 0;
  int64_t next_id_ = 1;
  std::map<int64_t, Pending> pending_;
  std::deque<std::shared_ptr<Call>> waiting_;  // calls made before ready

  mutable std::mutex mu_;
  ServerView view_;  // GUARDED_BY(mu_)

 public:
  std::atomic<uint64_t> tools_version_{0};
};

Server::Server(ServerConfig config, ServerDeps deps)
    : config_(std::move(config)), impl_(std::make_shared<Impl>(config_, std::move(deps))) {}

Server::~Server() = default;

void Server::Start() { impl_->Start(); }

std::shared_ptr<Server::Call> Server::CallTool(const std::string& tool, json args,
                                               milliseconds timeout, Done done) {
  return impl_->CallTool(tool, std::move(args), timeout, std::move(done));
}

void Server::Cancel(const std::shared_ptr<Call>& call, const std::string& reason) {
  impl_->Cancel(call, reason);
}

void Server::RecheckPins() { impl_->RecheckPins(); }
void Server::Shutdown() { impl_->Shutdown(); }
ServerView Server::View() const { return impl_->View(); }
uint64_t Server::ToolsVersion() const { return impl_->tools_version_.load(); }

}  // namespace aikernel::tools::mcp
