#include "tools/mcp/server.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <deque>
#include <future>
#include <map>

#include <spdlog/spdlog.h>

#include "agents/log_file.h"
#include "agents/schedule.h"
#include "tools/mcp/headers.h"
#include "tools/mcp/http_transport.h"
#include "tools/mcp/stdio_lane.h"
#include "tools/mcp/stdio_transport.h"

namespace aikernel::tools::mcp {

namespace asio = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

bool RunOnLoop(asio::io_context& io, std::function<void()> fn, std::chrono::milliseconds limit) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> f = done->get_future();
  asio::post(io, [fn = std::move(fn), done] {
    fn();
    done->set_value();
  });
  return f.wait_for(limit) == std::future_status::ready;
}

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
    view_.url = c_.url;
    view_.headers = ShownHeaders(c_.headers);
  }

  // ------------------------------------------------------------ connection
  // One connection attempt (a process, or an HTTP session) and the protocol
  // state that lives as long as it. Handlers check `conn_ == p` so a
  // callback of an earlier attempt never touches the current one.
  struct Conn {
    explicit Conn(asio::io_context& io) : start_timer(io) {}
    std::unique_ptr<Transport> t;
    asio::steady_timer start_timer;
    bool down = false;  // failed or faulted: no more messages are handled
    Clock::time_point ready_at{};
    Clock::time_point flood_window{};
    int flood_count = 0;
    bool listing = false, relist = false;
    std::vector<ToolDef> listed;  // pages collected so far
  };
  using ProcPtr = std::shared_ptr<Conn>;

  std::unique_ptr<Transport> MakeTransport() {
    if (!c_.url.empty()) return std::make_unique<HttpTransport>(c_, io_, *d_.http, log_);
    return std::make_unique<StdioTransport>(c_, d_.profile, io_, *d_.launch_thread, *d_.launcher,
                                            log_);
  }

  void Start() {
    if (stopped_) return;
    SetState(ServerState::kStarting);
    auto p = std::make_shared<Conn>(io_);
    p->t = MakeTransport();
    proc_ = p;
    auto self = shared_from_this();
    TransportEvents ev;
    ev.opened = [self, p](int pid) {
      if (self->proc_ == p) self->Opened(p, pid);
    };
    ev.message = [self, p](std::string m) {
      if (self->proc_ == p && !p->down) self->HandleLine(p, m);
    };
    // Not `self`: the transport holds this, and the Server holds it.
    std::weak_ptr<Impl> weak = self;
    ev.direct = [weak](const std::string& m) {
      auto s = weak.lock();
      return s && s->TakeLaneAnswer(m);
    };
    ev.unanswered = [self, p](int64_t id, std::string why) {
      if (self->proc_ == p) self->Unanswered(id, why);
    };
    ev.waiting = [self, p](int64_t id) {
      return self->proc_ == p && self->pending_.count(id) != 0;
    };
    ev.resumed = [self](const std::string&) {
      std::lock_guard<std::mutex> lock(self->mu_);
      ++self->view_.resumes;
    };
    ev.failed = [self, p](std::string why, bool fault) {
      if (fault) {
        self->Fault(p, why);
      } else {
        self->Ended(p, why);
      }
    };
    p->t->Open(std::move(ev));
  }

  void Opened(const ProcPtr& p, int pid) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.pid = pid;
      ++view_.starts;
    }
    SetState(ServerState::kInitializing);
    p->start_timer.expires_after(milliseconds(c_.start_timeout_ms));
    auto self = shared_from_this();
    p->start_timer.async_wait([self, p](const boost::system::error_code& ec) {
      if (ec || self->proc_ != p || self->state_ == ServerState::kReady) return;
      self->Fault(p, absl::StrCat("not ready within start_timeout_ms (", self->c_.start_timeout_ms,
                                  " ms) after ", self->c_.url.empty() ? "spawn" : "connecting"));
    });
    SendRequest(p, "initialize", InitializeParams(d_.client_version),
                [self, p](StatusOr<json> r) { self->Initialized(p, std::move(r)); });
  }

  // The transport can no longer answer request `id`.
  void Unanswered(int64_t id, const std::string& why) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    Pending pd = std::move(it->second);
    pending_.erase(it);
    pd.reply(absl::UnavailableError(absl::StrCat("mcp ", c_.name, ": ", pd.method, ": ", why)));
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
    p->t->Negotiated(version);
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
      {
        std::lock_guard<std::mutex> lock(lane_mu_);
        lane_ = p->t->caller_lane();
      }
      SetHttpLane(p->t->http_lane());
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
  // The caller's deadline (0: none), but never longer than the server's own
  // limit. Any thread: c_.call_timeout_ms does not change.
  milliseconds CallLimit(milliseconds timeout) const {
    const milliseconds limit(c_.call_timeout_ms);
    return timeout.count() > 0 && timeout < limit ? timeout : limit;
  }

  std::shared_ptr<Call> CallTool(const std::string& tool, json args, milliseconds timeout,
                                 Done done) {
    auto call = std::make_shared<Call>(io_);
    call->tool = tool;
    call->args = std::move(args);
    call->timeout = CallLimit(timeout);
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
    } else if (state_ == ServerState::kBackoff) {
      // Down (crashed, unreachable): say so now rather than at the deadline.
      Finish(call, absl::UnavailableError(absl::StrCat(
                       "mcp server ", c_.name, " is unavailable (restarting after: ",
                       View().last_error, ")")));
    } else {
      waiting_.push_back(call);
    }
    return call;
  }

  // Checks the tool against the mounted list at send time (the list may
  // have changed since the caller looked).
  void Send(const ProcPtr& p, const std::shared_ptr<Call>& call) {
    Status callable;
    {
      std::lock_guard<std::mutex> lock(mu_);
      callable = CallableLocked(call->tool);
      if (callable.ok()) ++view_.calls;
    }
    if (!callable.ok()) {
      Finish(call, callable);
      return;
    }
    Changed();
    auto self = shared_from_this();
    json params = {{"name", call->tool}, {"arguments", call->args}};
    // Over HTTP, progress notifications give a long call's answer stream
    // events (with ids) before the answer, so a cut can be resumed from them.
    // The token is the id SendRequest gives this request (only the loop
    // takes ids for a url server: the lane is stdio's).
    if (!c_.url.empty()) params["_meta"] = {{"progressToken", next_id_.load()}};
    call->id = SendRequest(p, "tools/call", params,
                           [self, call](StatusOr<json> r) { self->Finish(call, std::move(r)); });
  }

  // OK if `tool` is mounted and not refused (its pin changed); mu_ held.
  Status CallableLocked(const std::string& tool) const {
    for (const MountedTool& t : view_.tools) {
      if (t.def.name != tool) continue;
      if (!t.refused.empty()) return absl::FailedPreconditionError(t.refused);
      return absl::OkStatus();
    }
    return absl::NotFoundError(absl::StrCat("mcp server ", c_.name, " has no tool '", tool, "'"));
  }

  // A call that got no answer in time; `why` says what was done about it.
  Status NoAnswer(const std::string& tool, milliseconds limit, const std::string& why) const {
    return absl::DeadlineExceededError(absl::StrCat("mcp ", c_.name, ".", tool,
                                                    ": no answer within ", limit.count(),
                                                    " ms (", why, ")"));
  }

  // A call given up on for `reason` (the caller's cancel, a shutdown).
  Status Cancelled(const std::string& tool, const std::string& reason) const {
    return absl::CancelledError(absl::StrCat("mcp ", c_.name, ".", tool, ": ", reason));
  }

  // A response's outcome: its result, or its JSON-RPC error named.
  StatusOr<json> Outcome(Incoming& in, const std::string& method) const {
    if (in.error) {
      return absl::UnknownError(absl::StrCat("mcp ", c_.name, ": ", method,
                                             ": JSON-RPC error ", DescribeError(*in.error)));
    }
    return std::move(in.result);
  }

  void TimedOut(const std::shared_ptr<Call>& call) {
    bool sent = call->id != 0;
    if (sent) SendCancel(call, "timeout");
    Finish(call, NoAnswer(call->tool, call->timeout,
                          sent ? "notifications/cancelled sent"
                               : absl::StrCat("server not ready: ", StateName(state_))));
  }

  void Cancel(const std::shared_ptr<Call>& call, const std::string& reason) {
    if (call->finished) return;
    if (call->id != 0) SendCancel(call, reason);
    Finish(call, Cancelled(call->tool, reason));
  }

  void SendCancel(const std::shared_ptr<Call>& call, const std::string& reason) {
    pending_.erase(call->id);
    if (!proc_) return;
    proc_->t->Abandon(call->id);
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
    p->t->Send(MakeRequest(id, method, params), id);
    return id;
  }

  void Write(const ProcPtr& p, std::string message) { p->t->Send(std::move(message), 0); }

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
      Fault(p, absl::StrCat(p->t->channel(), ": ", in.status().message()));
      return;
    }
    if (in->kind == Incoming::Kind::kResponse) {
      auto it = in->id.is_number_integer() ? pending_.find(in->id.get<int64_t>())
                                           : pending_.end();
      if (it == pending_.end()) {
        // Late answer to a call that timed out or was cancelled.
        {
          std::lock_guard<std::mutex> lock(mu_);
          ++view_.late_answers;
        }
        if (Flooding(p)) FloodFault(p);
        return;
      }
      Pending pd = std::move(it->second);
      pending_.erase(it);
      pd.reply(Outcome(*in, pd.method));
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
      // A server's params may have any shape: json::value() would throw
      // on the loop for params that are not an object or a level that is
      // not a string.
      auto level = in->params.is_object() ? in->params.find("level") : in->params.end();
      log_.Write(absl::StrCat("[",
                              level != in->params.end() && level->is_string()
                                  ? level->get<std::string>()
                                  : "log",
                              "] ",
                              in->params.contains("data") ? in->params["data"].dump() : "",
                              "\n"))
          .IgnoreError();
    }
    // notifications/progress and others: nothing to do.
  }

  void FloodFault(const ProcPtr& p) {
    Fault(p, absl::StrCat("flooding ", p->t->channel(), ": more than ", kFloodMessages,
                          " unsolicited messages within 1 s"));
  }

  // Ends the connection because of `why` (a ledger mcp.fault record), then
  // as if it had ended by itself.
  void Fault(const ProcPtr& p, const std::string& why) {
    if (proc_ != p || p->down) return;
    spdlog::error("mcp {}: {}; closing the connection", c_.name, why);
    Event("mcp.fault", "mcp:" + c_.name, {why});
    Ended(p, why);
  }

  // The connection is gone (or was ended by Fault): fail what waits on it,
  // back off, start again.
  void Ended(const ProcPtr& p, const std::string& why) {
    if (proc_ != p || p->down) return;
    p->down = true;
    spdlog::warn("mcp {}: connection ended: {}", c_.name, why);
    bool stable = p->ready_at != Clock::time_point{} && Clock::now() - p->ready_at >= kStableAfter;
    const std::string failure = absl::StrCat("mcp server ", c_.name, " ended (", why, ")");
    CloseLane(failure);
    SetHttpLane(nullptr, failure);
    CloseProc(p);
    FailAll(failure);
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.last_error = why;
      view_.pid = 0;
    }
    if (stable) attempt_ = 0;
    Failed(why);
  }

  void CloseProc(const ProcPtr& p) {
    p->start_timer.cancel();
    p->t->Close();
    if (proc_ == p) proc_.reset();
  }

  // ------------------------------------------------------- the caller lane
  // A tools/call made on the caller's thread over the stdio pipes
  // (StdioLane): no hand-off to the loop and back. nullopt when there is no
  // lane now (not ready yet, restarting, or HTTP): the caller then goes
  // through CallTool on the loop, which waits for the server to be ready.
  std::optional<StatusOr<json>> CallOnLane(const std::string& tool, const json& args,
                                           milliseconds timeout,
                                           const std::function<bool()>& cancelled) {
    std::shared_ptr<StdioLane> lane;
    auto call = std::make_shared<LaneCall>();
    int64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(lane_mu_);
      if (!lane_) return std::nullopt;
      lane = lane_;
      StatusOr<int64_t> begun = BeginCallerCall(tool);
      if (!begun.ok()) return StatusOr<json>(begun.status());
      id = *begun;
      lane_calls_[id] = call;
    }
    const milliseconds limit = CallLimit(timeout);
    const Clock::time_point deadline = Clock::now() + limit;
    auto answered = [this, &call] {
      std::lock_guard<std::mutex> lock(lane_mu_);
      return call->answered;
    };
    Status sent = lane->Write(MakeRequest(id, "tools/call", {{"name", tool}, {"arguments", args}}));
    const char* gave_up = nullptr;
    // In slices, so the caller's cancel is seen while the server works;
    // cancelled() is asked only after a slice passed without the answer
    // (for a gRPC caller it polls the call's completion queue).
    while (sent.ok()) {
      lane->Await(answered, std::min(deadline, Clock::now() + milliseconds(20)));
      if (answered()) break;
      if (Clock::now() >= deadline) {
        gave_up = "timeout";
        break;
      }
      if (cancelled && cancelled()) {
        gave_up = kCallerCancelled;
        break;
      }
    }
    {
      std::lock_guard<std::mutex> lock(lane_mu_);
      if (call->answered) {
        if (!call->result.ok()) CountFailed();
        return std::move(call->result);
      }
      lane_calls_.erase(id);
    }
    CountFailed();
    if (!sent.ok()) {
      return StatusOr<json>(absl::UnavailableError(
          absl::StrCat("mcp server ", c_.name, ": ", sent.message())));
    }
    lane->Write(MakeNotification("notifications/cancelled",
                                 {{"requestId", id}, {"reason", gave_up}}))
        .IgnoreError();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++view_.cancellations;
    }
    if (std::string_view(gave_up) == "timeout") {
      return StatusOr<json>(NoAnswer(tool, limit, "notifications/cancelled sent"));
    }
    return StatusOr<json>(Cancelled(tool, gave_up));
  }

  // A call made on the caller's thread (either lane): `tool` checked
  // against the mounted list, counted, and its request id.
  StatusOr<int64_t> BeginCallerCall(const std::string& tool) {
    std::lock_guard<std::mutex> view_lock(mu_);
    AIK_RETURN_IF_ERROR(CallableLocked(tool));
    ++view_.calls;
    ++view_.lane_calls;
    ++view_.requests;
    return next_id_++;
  }

  // Any thread (the lane's reader): takes `line` if it answers a lane call.
  bool TakeLaneAnswer(const std::string& line) {
    StatusOr<Incoming> in = ParseIncoming(line);
    if (!in.ok() || in->kind != Incoming::Kind::kResponse || !in->id.is_number_integer()) {
      return false;  // the loop handles (and faults on) it
    }
    std::lock_guard<std::mutex> lock(lane_mu_);
    auto it = lane_calls_.find(in->id.get<int64_t>());
    if (it == lane_calls_.end()) return false;  // the loop's, or a late answer
    LaneCall& call = *it->second;
    call.result = Outcome(*in, "tools/call");
    call.answered = true;
    lane_calls_.erase(it);
    return true;  // the lane wakes the caller after this batch
  }

  // No more lane calls; those in flight fail UNAVAILABLE with `why`.
  void CloseLane(const std::string& why) {
    std::shared_ptr<StdioLane> lane;
    {
      std::lock_guard<std::mutex> lock(lane_mu_);
      lane.swap(lane_);
      for (auto& [id, call] : lane_calls_) {
        call->result = absl::UnavailableError(why);
        call->answered = true;
      }
      lane_calls_.clear();
    }
    if (lane) lane->Notify();
  }

  // ------------------------------------------------- the HTTP caller path
  // A tools/call to a ready url server POSTed and read on the caller's
  // thread (HttpLane); the loop keeps the session. See server.h.
  std::optional<StatusOr<json>> CallOverHttp(const std::string& tool, const json& args,
                                             milliseconds timeout,
                                             const std::function<bool()>& cancelled,
                                             std::optional<HttpHandover>* handover) {
    std::shared_ptr<HttpLane> lane;
    int64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(http_mu_);
      if (!http_lane_) return std::nullopt;
      lane = http_lane_;
      StatusOr<int64_t> begun = BeginCallerCall(tool);
      if (!begun.ok()) return StatusOr<json>(begun.status());
      id = *begun;
    }
    const milliseconds limit = CallLimit(timeout);
    const Clock::time_point deadline = Clock::now() + limit;
    // The progress token gives a long call's stream event ids to resume from.
    json params = {{"name", tool}, {"arguments", args}, {"_meta", {{"progressToken", id}}}};
    HttpLaneResult r = lane->Post(id, MakeRequest(id, "tools/call", params), deadline, cancelled);
    using End = HttpLaneResult::End;
    if (r.end == End::kCut) {
      *handover = HttpHandover{id, tool, std::move(r), limit, deadline, std::move(lane)};
      return std::nullopt;
    }
    // As the loop's path words it: a fault ends the session.
    StatusOr<json> out = absl::UnavailableError(
        r.fault ? absl::StrCat("mcp server ", c_.name, " ended (", r.why, ")")
                : absl::StrCat("mcp ", c_.name, ": tools/call: ", r.why));
    if (r.end == End::kAnswer) {
      StatusOr<Incoming> in = ParseIncoming(r.answer);
      out = in.ok() ? Outcome(*in, "tools/call") : StatusOr<json>(in.status());
    } else if (r.end == End::kTimeout) {
      PostCancel(id, "timeout");
      out = NoAnswer(tool, limit, "notifications/cancelled sent");
    } else if (r.end == End::kCancelled) {
      PostCancel(id, kCallerCancelled);
      out = Cancelled(tool, kCallerCancelled);
    }
    if (!out.ok()) CountFailed();
    if (r.fault) AfterLoop();
    return out;
  }

  // Waits (at most 2 s) until the loop has run what was posted to it so
  // far: the lane's fault is then handled (ledger record, restart) before
  // the caller learns of it, as on the loop's path.
  void AfterLoop() { RunOnLoop(io_, [] {}, std::chrono::seconds(2)); }

  // notifications/cancelled for a lane call, sent by the loop.
  void PostCancel(int64_t id, const std::string& reason) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++view_.cancellations;
    }
    auto self = shared_from_this();
    asio::post(io_, [self, id, reason] {
      if (!self->proc_ || self->proc_->down) return;
      self->Write(self->proc_, MakeNotification("notifications/cancelled",
                                                {{"requestId", id}, {"reason", reason}}));
    });
  }

  std::shared_ptr<Call> ResumeCall(HttpHandover h, Done done) {
    auto call = std::make_shared<Call>(io_);
    call->tool = h.tool;
    call->timeout = h.limit;
    call->done = std::move(done);
    if (!proc_ || proc_->down || proc_->t->http_lane() != h.lane) {
      Finish(call, absl::UnavailableError(absl::StrCat(
                       "mcp ", c_.name, ": tools/call: ", h.cut.why,
                       "; the session ended before the answer stream could be resumed")));
      return call;
    }
    call->id = h.id;
    auto self = shared_from_this();
    pending_[h.id] = Pending{"tools/call", [self, call](StatusOr<json> r) {
                               self->Finish(call, std::move(r));
                             }};
    call->timer.expires_at(h.deadline);
    call->timer.async_wait([self, call](const boost::system::error_code& ec) {
      if (ec || call->finished) return;
      self->TimedOut(call);
    });
    proc_->t->Adopt(h.id, h.cut);
    return call;
  }

  // A url server's own headers, for this session's requests from now on
  // and for later sessions (a reload re-read headers_from_file).
  void SetHeaders(std::vector<HttpHeader> headers) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.headers = ShownHeaders(headers);
    }
    c_.headers = headers;
    if (proc_) proc_->t->SetHeaders(std::move(headers));
  }

  // The HTTP lane callers use now (null: none); the one it replaces is
  // closed, so its calls in flight fail UNAVAILABLE with `why`.
  void SetHttpLane(std::shared_ptr<HttpLane> lane, const std::string& why = "") {
    std::lock_guard<std::mutex> lock(http_mu_);
    if (http_lane_ && http_lane_ != lane) http_lane_->Close(why);
    http_lane_ = std::move(lane);
  }

  void CountFailed() {
    std::lock_guard<std::mutex> lock(mu_);
    ++view_.calls_failed;
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
    FailWaiting(absl::StrCat("mcp server ", c_.name, " is unavailable (", why, ")"));
    int64_t delay = agents::BackoffMs(c_.restart_initial_ms, c_.restart_max_ms, attempt_++);
    spdlog::warn("mcp {}: {}; restarting in {} ms", c_.name, why, delay);
    SetState(ServerState::kBackoff);
    restart_timer_.expires_after(milliseconds(delay));
    auto self = shared_from_this();
    restart_timer_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->Start();
    });
  }

  void FailWaiting(const std::string& why) {
    std::deque<std::shared_ptr<Call>> waiting;
    waiting.swap(waiting_);
    for (auto& call : waiting) Finish(call, absl::UnavailableError(why));
  }

  void Shutdown() {
    stopped_ = true;
    restart_timer_.cancel();
    CloseLane(absl::StrCat("mcp server ", c_.name, " stopped (daemon shutting down)"));
    SetHttpLane(nullptr, absl::StrCat("mcp server ", c_.name, " stopped (daemon shutting down)"));
    if (ProcPtr p = proc_) {
      p->down = true;
      CloseProc(p);
    }
    FailAll(absl::StrCat("mcp server ", c_.name, " stopped (daemon shutting down)"));
    FailWaiting(absl::StrCat("mcp server ", c_.name, " stopped"));
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
  struct LaneCall {
    bool answered = false;  // GUARDED_BY(lane_mu_), like result
    StatusOr<nlohmann::json> result = absl::UnknownError("no answer");
  };

  ServerConfig c_;  // headers replaced by SetHeaders (on the loop)
  ServerDeps d_;
  asio::io_context& io_;
  asio::steady_timer restart_timer_;
  agents::LogFile log_;
  ProcPtr proc_;
  ServerState state_ = ServerState::kStopped;
  bool stopped_ = false;
  int64_t attempt_ = 0;
  std::atomic<int64_t> next_id_{1};  // the loop's requests and lane calls
  std::map<int64_t, Pending> pending_;
  std::deque<std::shared_ptr<Call>> waiting_;  // calls made before ready

  mutable std::mutex mu_;
  ServerView view_;  // GUARDED_BY(mu_)

  // Taken before mu_ when both are. Never held while calling into a lane
  // except Notify().
  std::mutex lane_mu_;
  std::shared_ptr<StdioLane> lane_;  // GUARDED_BY(lane_mu_): set while ready over stdio
  std::map<int64_t, std::shared_ptr<LaneCall>> lane_calls_;  // GUARDED_BY(lane_mu_)

  std::mutex http_mu_;  // taken before mu_ when both are
  std::shared_ptr<HttpLane> http_lane_;  // GUARDED_BY(http_mu_): set while ready over HTTP

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

std::optional<StatusOr<json>> Server::CallOnLane(const std::string& tool, const json& args,
                                                 milliseconds timeout,
                                                 const std::function<bool()>& cancelled) {
  return impl_->CallOnLane(tool, args, timeout, cancelled);
}

std::optional<StatusOr<json>> Server::CallOverHttp(const std::string& tool, const json& args,
                                                   milliseconds timeout,
                                                   const std::function<bool()>& cancelled,
                                                   std::optional<HttpHandover>* handover) {
  return impl_->CallOverHttp(tool, args, timeout, cancelled, handover);
}

std::shared_ptr<Server::Call> Server::ResumeCall(HttpHandover handover, Done done) {
  return impl_->ResumeCall(std::move(handover), std::move(done));
}

void Server::Cancel(const std::shared_ptr<Call>& call, const std::string& reason) {
  impl_->Cancel(call, reason);
}

void Server::RecheckPins() { impl_->RecheckPins(); }
void Server::SetHeaders(std::vector<HttpHeader> headers) { impl_->SetHeaders(std::move(headers)); }
void Server::Shutdown() { impl_->Shutdown(); }
ServerView Server::View() const { return impl_->View(); }
uint64_t Server::ToolsVersion() const { return impl_->tools_version_.load(); }

}  // namespace aikernel::tools::mcp
