#include "tools/mcp/http_transport.h"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "tools/mcp/sse.h"

namespace aikernel::tools::mcp {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// How long a notification POST (and the DELETE at close) may take.
constexpr milliseconds kShortExchange{10000};
constexpr milliseconds kDeleteTimeout{2000};
constexpr milliseconds kReopenStream{1000};

// What the client thread learns of one exchange; read on the loop once the
// exchange is done (the post that carries it orders the two).
struct Exchange {
  Exchange(int64_t id, size_t max) : request_id(id), max_bytes(max), sse(max) {}
  int64_t request_id;  // 0: a notification, a reply, or the GET stream
  size_t max_bytes;
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
      : c_(c), io_(io), client_(client), log_(log), reopen_(io) {}

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
    uint64_t xfer = Begin(std::move(x), request_id, false);
    if (request_id != 0) inflight_[request_id] = xfer;
  }

  void Abandon(int64_t request_id) {
    auto it = inflight_.find(request_id);
    if (it == inflight_.end()) return;
    client_.Abort(it->second);
    inflight_.erase(it);
  }

  void Negotiated(const std::string& version) {
    version_ = version;
    OpenStream();
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    reopen_.cancel();
    for (const auto& [id, xfer] : inflight_) client_.Abort(xfer);
    inflight_.clear();
    if (stream_ != 0) client_.Abort(stream_);
    stream_ = 0;
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
  std::vector<std::string> Headers(const std::string& accept) const {
    std::vector<std::string> h;
    if (!accept.empty()) h.push_back("Accept: " + accept);
    if (!session_.empty()) h.push_back("Mcp-Session-Id: " + session_);
    if (!version_.empty()) h.push_back("MCP-Protocol-Version: " + version_);
    return h;
  }

  // Starts `x`; its callbacks run on the client's thread and post what they
  // learn to the loop. `stream`: the GET stream (Done differs).
  uint64_t Begin(HttpExchange x, int64_t request_id, bool stream) {
    auto ex = std::make_shared<Exchange>(request_id, static_cast<size_t>(c_.max_message_bytes));
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
        std::vector<std::string> events;
        Status s = ex->sse.Feed(data, &events);
        for (std::string& e : events) {
          self->OnLoop([e = std::move(e)](Impl& i) mutable { i.Deliver(std::move(e)); });
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
    x.on_done = [self, ex, stream](Status s) {
      self->OnLoop([ex, s, stream](Impl& i) {
        if (stream) {
          i.StreamDone(*ex, s);
        } else {
          i.Done(*ex, s);
        }
      });
    };
    return client_.Start(std::move(x));
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
    if (id != 0 && !failed_ && ev_.unanswered) ev_.unanswered(id, why);
  }

  std::string Snippet(const std::string& body) const {
    std::string s = body.substr(0, 200);
    for (char& ch : s) {
      if (ch == '\n' || ch == '\r') ch = ' ';
    }
    return s;
  }

  bool Expired(const Exchange& ex) {
    if (ex.status != 404 || session_.empty()) return false;
    expired_ = true;
    Fail(absl::StrCat("http: session expired (HTTP 404 from ", c_.url, ")"));
    return true;
  }

  void Done(const Exchange& ex, const Status& s) {
    if (ex.request_id != 0) inflight_.erase(ex.request_id);
    if (absl::IsCancelled(s) || ex.too_big) return;
    if (!s.ok()) {
      Fail(std::string(s.message()));
      return;
    }
    if (Expired(ex)) return;
    if (ex.status / 100 == 2) {
      if (!ex.event_stream) DeliverBody(ex.body);
      // After the answer, if there was one (the Server ignores this then).
      Unanswered(ex.request_id, absl::StrCat("POST ", c_.url, ": HTTP ", ex.status,
                                             " ended without an answer"));
      return;
    }
    std::string why = absl::StrCat("POST ", c_.url, ": HTTP ", ex.status,
                                   ex.body.empty() ? "" : ": ", Snippet(ex.body));
    if (ex.request_id != 0) {
      Unanswered(ex.request_id, why);
    } else {
      spdlog::warn("mcp {}: {}", c_.name, why);
      log_.Write(why + "\n").IgnoreError();
    }
  }

  void OpenStream() {
    if (closed_ || failed_ || stream_ != 0) return;
    HttpExchange x;
    x.method = "GET";
    x.url = c_.url;
    x.headers = Headers("text/event-stream");
    stream_ = Begin(std::move(x), 0, true);
  }

  void StreamDone(const Exchange& ex, const Status& s) {
    stream_ = 0;
    if (absl::IsCancelled(s) || ex.too_big) return;
    if (!s.ok()) {
      Fail(absl::StrCat("event stream: ", s.message()));
      return;
    }
    if (Expired(ex)) return;
    if (ex.status == 405) {
      spdlog::info("mcp {}: the server offers no GET event stream", c_.name);
      return;
    }
    if (ex.status / 100 != 2) {
      spdlog::warn("mcp {}: GET event stream: HTTP {}: {}", c_.name, ex.status, Snippet(ex.body));
      return;
    }
    reopen_.expires_after(kReopenStream);
    auto self = shared_from_this();
    reopen_.async_wait([self](const boost::system::error_code& ec) {
      if (!ec) self->OpenStream();
    });
  }

 public:
  void Fail(const std::string& why) {
    if (failed_ || closed_) return;
    failed_ = true;
    log_.Write(absl::StrCat("[aikerneld] ", why, "\n")).IgnoreError();
    if (ev_.failed) ev_.failed(why, true);
  }

 private:
  const ServerConfig c_;
  asio::io_context& io_;
  HttpClient& client_;
  agents::LogFile& log_;
  asio::steady_timer reopen_;
  TransportEvents ev_;
  std::string session_, version_;
  std::map<int64_t, uint64_t> inflight_;  // request id -> exchange
  uint64_t stream_ = 0;                   // the GET stream's exchange, 0: none
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

}  // namespace aikernel::tools::mcp
