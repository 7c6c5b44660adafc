#include "tools/mcp/http_transport.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "tools/mcp/http_lane.h"
#include "tools/mcp/sse.h"

namespace aikernel::tools::mcp {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// How long a notification POST (and the DELETE at close) may take.
constexpr milliseconds kShortExchange{10000};
constexpr milliseconds kDeleteTimeout{2000};
constexpr milliseconds kReopenStream{1000};
// Resumption (GET with Last-Event-ID). A resumed stream that brings nothing
// for `idle` is resumed again from its latest id, `idle` doubling up to
// kResumeIdleMax while nothing comes and back to kResumeIdle when something
// does: a server may replay what it stored and then hold the connection
// without writing what follows to it (server-everything's event store
// does), so only a fresh resume brings the rest. A resume that fails (no
// connection, an HTTP error, ended having brought nothing) is retried after
// kResumeBackoff doubling, at most kMaxResumeFailures times in a row.
constexpr milliseconds kResumeIdle{500};
constexpr milliseconds kResumeIdleMax{30000};
constexpr milliseconds kResumeBackoff{100};
constexpr milliseconds kMaxRetryDelay{5000};
constexpr int kMaxResumeFailures = 5;
// Event ids remembered to drop what a replay repeats (per session).
constexpr size_t kSeenIds = 4096;
// The stream key of the GET stream; request ids are positive.
constexpr int64_t kGetStream = -1;

enum class Kind { kPost, kGet, kResume };

// What the client thread learns of one exchange; read on the loop once the
// exchange is done (the post that carries it orders the two).
struct Exchange {
  Exchange(int64_t k, Kind kd, size_t max) : key(k), kind(kd), max_bytes(max), sse(max) {}
  int64_t key;  // request id (kPost, kResume), kGetStream, or 0: a notification or reply
  Kind kind;
  size_t max_bytes;
  uint64_t xfer = 0;    // set on the loop when started
  bool events = false;  // on the loop: it brought at least one new event
  long status = 0;
  bool event_stream = false;
  bool too_big = false;
  std::string body;  // a JSON answer, or the start of an error answer
  SseParser sse;
};

bool ValidSessionId(const std::string& s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (ch < 0x21 || ch > 0x7e) return false;  // visible ASCII (spec)
  }
  return true;
}

}  // namespace

class HttpTransport::Impl : public std::enable_shared_from_this<HttpTransport::Impl> {
 public:
  Impl(const ServerConfig& c, asio::io_context& io, HttpClient& client, agents::LogFile& log)
      : c_(c), io_(io), client_(client), log_(log), seen_(std::make_shared<SeenEventIds>(kSeenIds)) {}

  void Open(TransportEvents ev) {
    ev_ = std::move(ev);
    auto self = shared_from_this();
    asio::post(io_, [self] {
      if (!self->closed_ && self->ev_.opened) self->ev_.opened(0);
    });
  }

  void Send(std::string message, int64_t request_id) {
    if (closed_) return;
    HttpExchange x;
    x.method = "POST";
    x.url = c_.url;
    x.headers = Headers("application/json, text/event-stream");
    x.headers.push_back("Content-Type: application/json");
    x.body = std::move(message);
    if (request_id == 0) x.timeout = kShortExchange;
    uint64_t xfer = Begin(std::move(x), request_id, Kind::kPost);
    if (request_id != 0) NewStream(request_id).xfer = xfer;
  }

  void Abandon(int64_t request_id) { Drop(request_id); }

  void Negotiated(const std::string& version) {
    version_ = version;
    MakeLane();
    OpenStream();
  }

  void SetHeaders(std::vector<HttpHeader> headers) {
    c_.headers = std::move(headers);
    if (lane_) SetLaneHeaders();
  }

  std::shared_ptr<HttpLane> lane() const { return failed_ || closed_ ? nullptr : lane_; }

  // A lane call's answer stream was cut (`cut`): resume it like one of ours.
  void Adopt(int64_t request_id, const HttpLaneResult& cut) {
    if (closed_ || failed_) return;
    Stream& st = NewStream(request_id);
    st.last_id = cut.last_id;
    st.retry_ms = cut.retry_ms;
    Resume(request_id, cut.why);
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (lane_) lane_->Close("the session was closed");
    for (const auto& [key, st] : streams_) {
      st->timer.cancel();
      if (st->xfer != 0) client_.Abort(st->xfer);
    }
    streams_.clear();
    if (!session_.empty() && !expired_) {
      HttpExchange x;
      x.method = "DELETE";
      x.url = c_.url;
      x.headers = Headers("");
      x.timeout = kDeleteTimeout;
      std::string name = c_.name;
      x.on_done = [name](Status s) {
        if (!s.ok() && !absl::IsCancelled(s)) {
          spdlog::info("mcp {}: ending the session: {}", name, std::string(s.message()));
        }
      };
      client_.Start(std::move(x));
    }
  }

 private:
  // One SSE stream of the session: a request's answer stream (the POST,
  // then GETs resuming it), or the GET stream.
  struct Stream {
    Stream(asio::io_context& io, int64_t k) : key(k), timer(io) {}
    const int64_t key;
    uint64_t xfer = 0;     // the exchange carrying it now; 0: none (a timer runs)
    std::string last_id;   // the last event id it brought: Last-Event-ID
    int failures = 0;      // resumes in a row that brought nothing
    milliseconds idle = kResumeIdle;
    int64_t retry_ms = -1;  // the server's "retry:"
    uint64_t gen = 0;       // bumped per timer arm: a stale expiry does nothing
    asio::steady_timer timer;
  };

  std::vector<std::string> Headers(const std::string& accept,
                                   const std::string& last_event_id = "") const {
    std::vector<std::string> h;
    if (!accept.empty()) h.push_back("Accept: " + accept);
    if (!session_.empty()) h.push_back(kSessionHeaderPrefix + session_);
    if (!version_.empty()) h.push_back("MCP-Protocol-Version: " + version_);
    if (!last_event_id.empty()) h.push_back("Last-Event-ID: " + last_event_id);
    // curl drops "Name:" with nothing after it; "Name;" sends it empty.
    for (const HttpHeader& x : c_.headers) {
      h.push_back(x.value.empty() ? x.name + ";" : x.name + ": " + x.value);
    }
    return h;
  }

  // Requests (tools/call) made on the callers' threads; messages other than
  // their answers, and faults, come back to the loop.
  void MakeLane() {
    if (lane_) return;
    std::weak_ptr<Impl> weak = shared_from_this();
    lane_ = std::make_shared<HttpLane>(
        c_.url, static_cast<size_t>(c_.max_message_bytes), seen_,
        [weak](std::string m) {
          if (auto self = weak.lock()) self->OnLoop([m = std::move(m)](Impl& i) { i.Deliver(m); });
        },
        [weak](std::string why) {
          if (auto self = weak.lock()) self->OnLoop([why = std::move(why)](Impl& i) { i.Fail(why); });
        });
    SetLaneHeaders();
  }

  void SetLaneHeaders() {
    std::vector<std::string> h = Headers("application/json, text/event-stream");
    h.push_back("Content-Type: application/json");
    lane_->SetHeaders(std::move(h));
  }

  Stream& NewStream(int64_t key) {
    auto& st = streams_[key];
    if (!st) st = std::make_unique<Stream>(io_, key);
    return *st;
  }

  // The stream `ex` carries, if `ex` still carries it (not abandoned,
  // answered or superseded by a newer resume).
  Stream* Current(const Exchange& ex) {
    auto it = streams_.find(ex.key);
    if (it == streams_.end() || it->second->xfer != ex.xfer) return nullptr;
    return it->second.get();
  }

  void Drop(int64_t key) {
    auto it = streams_.find(key);
    if (it == streams_.end()) return;
    it->second->timer.cancel();
    if (it->second->xfer != 0) client_.Abort(it->second->xfer);
    streams_.erase(it);
  }

  bool Waiting(int64_t key) const { return key > 0 && (!ev_.waiting || ev_.waiting(key)); }

  // Starts `x`; its callbacks run on the client's thread and post what they
  // learn to the loop.
  uint64_t Begin(HttpExchange x, int64_t key, Kind kind) {
    auto ex = std::make_shared<Exchange>(key, kind, static_cast<size_t>(c_.max_message_bytes));
    auto self = shared_from_this();
    x.on_response = [self, ex](long status, const std::map<std::string, std::string>& h) {
      ex->status = status;
      auto ct = h.find("content-type");
      ex->event_stream = ct != h.end() && ct->second.rfind("text/event-stream", 0) == 0;
      auto sid = h.find("mcp-session-id");
      if (sid != h.end()) {
        self->OnLoop([sid = sid->second](Impl& i) { i.SetSession(sid); });
      }
    };
    x.on_data = [self, ex](std::string_view data) {
      if (ex->event_stream && ex->status / 100 == 2) {
        std::vector<SseEvent> events;
        Status s = ex->sse.Feed(data, &events);
        int64_t retry = ex->sse.retry_ms();
        for (SseEvent& e : events) {
          self->OnLoop([ex, e = std::move(e), retry](Impl& i) mutable {
            i.Event(*ex, std::move(e), retry);
          });
        }
        if (!s.ok()) {
          ex->too_big = true;
          self->OnLoop([why = std::string(s.message())](Impl& i) { i.Fail(why); });
          return false;
        }
        return true;
      }
      if (ex->body.size() + data.size() > ex->max_bytes) {
        ex->too_big = true;
        self->OnLoop([max = ex->max_bytes](Impl& i) {
          i.Fail(absl::StrCat("http: message larger than ", max, " bytes"));
        });
        return false;
      }
      ex->body.append(data);
      return true;
    };
    x.on_done = [self, ex](Status s) {
      self->OnLoop([ex, s](Impl& i) { i.Ended(*ex, s); });
    };
    ex->xfer = client_.Start(std::move(x));
    return ex->xfer;
  }

  // Runs `fn` on the loop unless the transport is closed by then.
  void OnLoop(std::function<void(Impl&)> fn) {
    auto self = shared_from_this();
    asio::post(io_, [self, fn = std::move(fn)] {
      if (!self->closed_) fn(*self);
    });
  }

  void SetSession(const std::string& sid) {
    if (!session_.empty()) return;
    if (!ValidSessionId(sid)) {
      Fail("http: the server's Mcp-Session-Id is not visible ASCII");
      return;
    }
    session_ = sid;
  }

  // One event of `ex`'s stream.
  void Event(Exchange& ex, SseEvent e, int64_t retry) {
    // A repeated event still moves the stream's position: the server's
    // order is what Last-Event-ID names.
    const bool fresh = !e.own_id || seen_->FirstTime(e.id);
    Stream* st = Current(ex);
    if (st != nullptr) {
      if (!e.id.empty()) st->last_id = e.id;
      st->retry_ms = retry;
      st->failures = 0;
      st->idle = kResumeIdle;
      ex.events = true;
      if (ex.kind == Kind::kResume) ArmIdle(ex.key);
    }
    if (!fresh) return;
    if (!e.data.empty()) Deliver(std::move(e.data));
    // A resumed answer stream is done once the answer came (the server may
    // hold it open).
    if (st != nullptr && ex.kind == Kind::kResume && ex.key > 0 && !Waiting(ex.key)) Drop(ex.key);
  }

  void Deliver(std::string message) {
    if (!failed_ && ev_.message) ev_.message(std::move(message));
  }

  // A JSON answer: one message, or (2025-03-26) a batch of them.
  void DeliverBody(const std::string& body) {
    size_t first = body.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return;
    if (body[first] != '[') {
      Deliver(body);
      return;
    }
    nlohmann::json batch = nlohmann::json::parse(body, nullptr, false);
    if (!batch.is_array()) {
      Deliver(body);  // the Server names what is malformed
      return;
    }
    for (const nlohmann::json& m : batch) Deliver(m.dump());
  }

  void Unanswered(int64_t id, const std::string& why) {
    if (id > 0 && !failed_ && ev_.unanswered) ev_.unanswered(id, why);
  }

  bool Expired(const Exchange& ex) {
    if (ex.status != 404 || session_.empty()) return false;
    expired_ = true;
    Fail(absl::StrCat("http: session expired (HTTP 404 from ", c_.url, ")"));
    return true;
  }

  void Ended(const Exchange& ex, const Status& s) {
    if (ex.key == 0) {
      NotificationDone(ex, s);
      return;
    }
    Stream* st = Current(ex);
    if (st == nullptr) return;  // abandoned, answered, superseded, closed
    st->xfer = 0;
    if (absl::IsCancelled(s) || ex.too_big) {
      streams_.erase(ex.key);
      return;
    }
    switch (ex.kind) {
      case Kind::kPost: return PostEnded(ex, s);
      case Kind::kGet: return StreamEnded(ex, s, *st);
      case Kind::kResume: return ResumeEnded(ex, s, *st);
    }
  }

  void NotificationDone(const Exchange& ex, const Status& s) {
    if (absl::IsCancelled(s) || ex.too_big) return;
    if (!s.ok()) {
      Fail(std::string(s.message()));
      return;
    }
    if (Expired(ex) || ex.status / 100 == 2) return;
    std::string why = HttpError(absl::StrCat("POST ", c_.url), ex.status, ex.body);
    spdlog::warn("mcp {}: {}", c_.name, why);
    log_.Write(why + "\n").IgnoreError();
  }

  void PostEnded(const Exchange& ex, const Status& s) {
    if (ex.event_stream && ex.status / 100 == 2) {
      if (!Waiting(ex.key)) {
        streams_.erase(ex.key);
        return;
      }
      // Cut, or ended early: the spec lets the client resume it.
      Resume(ex.key, s.ok() ? absl::StrCat("POST ", c_.url,
                                           ": the event stream ended before the answer")
                            : std::string(s.message()));
      return;
    }
    streams_.erase(ex.key);
    if (!s.ok()) {
      Fail(std::string(s.message()));
      return;
    }
    if (Expired(ex)) return;
    if (ex.status / 100 == 2) {
      DeliverBody(ex.body);
      // After the answer, if there was one (the Server ignores this then).
      Unanswered(ex.key, absl::StrCat("POST ", c_.url, ": HTTP ", ex.status,
                                      " ended without an answer"));
      return;
    }
    Unanswered(ex.key, HttpError(absl::StrCat("POST ", c_.url), ex.status, ex.body));
  }

  void OpenStream() {
    if (closed_ || failed_ || streams_.count(kGetStream) != 0) return;
    StartGet(NewStream(kGetStream));
  }

  void StartGet(Stream& st) {
    HttpExchange x;
    x.method = "GET";
    x.url = c_.url;
    x.headers = Headers("text/event-stream");
    st.xfer = Begin(std::move(x), kGetStream, Kind::kGet);
  }

  void StreamEnded(const Exchange& ex, const Status& s, Stream& st) {
    if (s.ok() && Expired(ex)) return;
    if (s.ok() && ex.status == 405) {
      spdlog::info("mcp {}: the server offers no GET event stream", c_.name);
      streams_.erase(kGetStream);
      return;
    }
    if (s.ok() && ex.status / 100 != 2) {
      spdlog::warn("mcp {}: GET event stream: HTTP {}: {}", c_.name, ex.status, HttpSnippet(ex.body));
      streams_.erase(kGetStream);
      return;
    }
    std::string why = s.ok() ? "the server ended it" : std::string(s.message());
    if (!st.last_id.empty()) {
      Resume(kGetStream, why);
      return;
    }
    // Nothing to resume from: open it afresh (a cut one only so often).
    if (!s.ok() && ++st.failures > kMaxResumeFailures) {
      Fail(absl::StrCat("event stream: ", why));
      return;
    }
    Later(kGetStream, s.ok() ? kReopenStream : Backoff(st.failures), [](Impl& i, Stream& st) {
      i.StartGet(st);
    });
  }

  static milliseconds Backoff(int failures) {
    return failures <= 0 ? milliseconds(0) : kResumeBackoff * (1 << std::min(failures - 1, 10));
  }

  // Runs `fn` for stream `key` after `delay`, unless the stream is gone or
  // its timer was armed again meanwhile.
  void Later(int64_t key, milliseconds delay, std::function<void(Impl&, Stream&)> fn) {
    Stream& st = NewStream(key);
    uint64_t gen = ++st.gen;
    st.timer.expires_after(delay);
    auto self = shared_from_this();
    st.timer.async_wait([self, key, gen, fn = std::move(fn)](const boost::system::error_code& ec) {
      if (ec || self->closed_) return;
      auto it = self->streams_.find(key);
      if (it == self->streams_.end() || it->second->gen != gen) return;
      fn(*self, *it->second);
    });
  }

  // Stream `key` was cut (`why`): GET it again from its last event id.
  void Resume(int64_t key, const std::string& why) {
    Stream& st = NewStream(key);
    if (st.last_id.empty()) {
      GiveUp(key, absl::StrCat(why, "; the server does not support resumption: its events carry "
                                    "no ids (nothing to send as Last-Event-ID)"));
      return;
    }
    if (st.failures >= kMaxResumeFailures) {
      GiveUp(key, absl::StrCat(why, "; resuming with Last-Event-ID failed ", st.failures,
                               " times in a row"));
      return;
    }
    milliseconds delay = Backoff(st.failures);
    if (st.retry_ms >= 0) delay = std::max(delay, std::min(milliseconds(st.retry_ms), kMaxRetryDelay));
    std::string what = absl::StrCat(key == kGetStream ? "the GET event stream"
                                                      : absl::StrCat("the answer stream of request ", key),
                                    " after event ", st.last_id, " (", why, ")");
    spdlog::info("mcp {}: resuming {}", c_.name, what);
    log_.Write(absl::StrCat("[aikerneld] resuming ", what, "\n")).IgnoreError();
    if (ev_.resumed) ev_.resumed(what);
    Later(key, delay, [](Impl& i, Stream& st) { i.StartResume(st); });
  }

  void StartResume(Stream& st) {
    const int64_t key = st.key;
    HttpExchange x;
    x.method = "GET";
    x.url = c_.url;
    x.headers = Headers("text/event-stream", st.last_id);
    st.xfer = Begin(std::move(x), key, Kind::kResume);
    ArmIdle(key);
  }

  // A resume that brings nothing for a while is resumed again (see kResumeIdle).
  void ArmIdle(int64_t key) {
    Stream& st = NewStream(key);
    Later(key, st.idle, [](Impl& i, Stream& st) {
      if (st.xfer != 0) i.client_.Abort(st.xfer);
      st.xfer = 0;
      st.idle = std::min(st.idle * 2, kResumeIdleMax);
      i.StartResume(st);
    });
  }

  void ResumeEnded(const Exchange& ex, const Status& s, Stream& st) {
    if (s.ok() && Expired(ex)) return;
    std::string get = absl::StrCat("GET ", c_.url, " with Last-Event-ID");
    if (s.ok() && ex.status == 405) {
      GiveUp(ex.key, absl::StrCat("the server does not support resumption (", get, ": HTTP 405)"));
      return;
    }
    if (ex.key > 0 && !Waiting(ex.key)) {
      streams_.erase(ex.key);
      return;
    }
    std::string why;
    if (!s.ok()) {
      why = std::string(s.message());
    } else if (ex.status / 100 != 2) {
      why = HttpError(get, ex.status, ex.body);
    } else if (!ex.event_stream) {
      why = absl::StrCat(get, ": not an event stream");
    } else {
      why = absl::StrCat(get, ": the stream ended");
    }
    if (!ex.events) ++st.failures;
    Resume(ex.key, why);
  }

  // Stream `key` cannot go on: its request fails (UNAVAILABLE, `why`), or
  // for the GET stream the session does.
  void GiveUp(int64_t key, const std::string& why) {
    Drop(key);
    if (key == kGetStream) {
      Fail(absl::StrCat("event stream: ", why));
    } else {
      Unanswered(key, why);
    }
  }

 public:
  void Fail(const std::string& why) {
    if (failed_ || closed_) return;
    failed_ = true;
    if (lane_) lane_->Close(why);
    log_.Write(absl::StrCat("[aikerneld] ", why, "\n")).IgnoreError();
    if (ev_.failed) ev_.failed(why, true);
  }

 private:
  ServerConfig c_;  // headers replaced by SetHeaders (on the loop)
  asio::io_context& io_;
  HttpClient& client_;
  agents::LogFile& log_;
  TransportEvents ev_;
  std::string session_, version_;
  std::map<int64_t, std::unique_ptr<Stream>> streams_;  // request id / kGetStream
  std::shared_ptr<SeenEventIds> seen_;  // event ids, last kSeenIds; shared with the lane
  std::shared_ptr<HttpLane> lane_;      // made once negotiated
  bool failed_ = false, closed_ = false, expired_ = false;
};

HttpTransport::HttpTransport(const ServerConfig& config, asio::io_context& io, HttpClient& client,
                             agents::LogFile& log)
    : impl_(std::make_shared<Impl>(config, io, client, log)) {}

HttpTransport::~HttpTransport() { impl_->Close(); }

void HttpTransport::Open(TransportEvents events) { impl_->Open(std::move(events)); }
void HttpTransport::Send(std::string message, int64_t request_id) {
  impl_->Send(std::move(message), request_id);
}
void HttpTransport::Abandon(int64_t request_id) { impl_->Abandon(request_id); }
void HttpTransport::Negotiated(const std::string& version) { impl_->Negotiated(version); }
void HttpTransport::Close() { impl_->Close(); }
std::shared_ptr<HttpLane> HttpTransport::http_lane() { return impl_->lane(); }
void HttpTransport::SetHeaders(std::vector<HttpHeader> headers) {
  impl_->SetHeaders(std::move(headers));
}
void HttpTransport::Adopt(int64_t request_id, const HttpLaneResult& cut) {
  impl_->Adopt(request_id, cut);
}

}  // namespace aikernel::tools::mcp
