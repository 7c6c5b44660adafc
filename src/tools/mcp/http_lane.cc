#include "tools/mcp/http_lane.h"

#include <curl/curl.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "tools/mcp/http_client.h"
#include "tools/mcp/protocol.h"
#include "tools/mcp/sse.h"

namespace aikernel::tools::mcp {

using std::chrono::milliseconds;

namespace {

// How long a caller waits between looks at its deadline and cancel.
constexpr milliseconds kSlice{20};
// After the answer, how long the rest of the exchange (the end of the SSE
// stream) may take before the caller leaves it (the connection is then
// closed instead of kept).
constexpr milliseconds kAfterAnswer{100};
constexpr milliseconds kConnectTimeout{5000};

}  // namespace

std::string HttpSnippet(const std::string& body) {
  std::string s = body.substr(0, 200);
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  return s;
}

std::string HttpError(const std::string& what, long status, const std::string& body) {
  return absl::StrCat(what, ": HTTP ", status, body.empty() ? "" : ": ", HttpSnippet(body));
}

bool SeenEventIds::FirstTime(const std::string& id) {
  std::lock_guard<std::mutex> l(mu_);
  if (!seen_.insert(id).second) return false;
  order_.push_back(id);
  if (order_.size() > keep_) {
    seen_.erase(order_.front());
    order_.pop_front();
  }
  return true;
}

struct HttpLane::Handle {
  CURLM* multi = curl_multi_init();
  CURL* easy = curl_easy_init();
  ~Handle() {
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }
};

// One POST in progress, filled by libcurl's write callback on the caller's
// thread.
struct HttpLane::Exchange {
  Exchange(HttpLane& l, int64_t i, CURL* e) : lane(l), id(i), easy(e), sse(l.max_bytes_) {}
  HttpLane& lane;
  const int64_t id;
  CURL* easy;
  bool started = false;
  long status = 0;
  bool event_stream = false;
  bool events = false;   // an SSE event came
  bool too_big = false;  // why: `why`
  std::string why;
  std::string body;  // a JSON answer, or the start of an error answer
  SseParser sse;
  std::string last_id;
  std::optional<std::string> answer;

  void Start() {
    started = true;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    char* ct = nullptr;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
    event_stream = ct != nullptr && std::string_view(ct).rfind("text/event-stream", 0) == 0;
  }

  // One message of the exchange: ours, or the loop's.
  void Message(std::string m) {
    StatusOr<Incoming> in = ParseIncoming(m);
    if (!answer && in.ok() && in->kind == Incoming::Kind::kResponse &&
        in->id.is_number_integer() && in->id.get<int64_t>() == id) {
      answer = std::move(m);
      return;
    }
    lane.deliver_(std::move(m));  // the loop faults on a malformed one
  }

  bool Data(std::string_view data) {
    if (!started) Start();
    if (event_stream && status / 100 == 2) {
      std::vector<SseEvent> out;
      Status s = sse.Feed(data, &out);
      for (SseEvent& e : out) {
        events = true;
        if (!e.id.empty()) last_id = e.id;
        if (e.own_id && !lane.seen_->FirstTime(e.id)) continue;
        if (!e.data.empty()) Message(std::move(e.data));
      }
      if (!s.ok()) {
        too_big = true;
        why = std::string(s.message());
      }
      return s.ok();
    }
    if (body.size() + data.size() > lane.max_bytes_) {
      too_big = true;
      why = absl::StrCat("http: message larger than ", lane.max_bytes_, " bytes");
      return false;
    }
    body.append(data);
    return true;
  }

  // A JSON body: one message, or (2025-03-26) a batch of them.
  void Body() {
    size_t first = body.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return;
    nlohmann::json batch;
    if (body[first] == '[') batch = nlohmann::json::parse(body, nullptr, false);
    if (!batch.is_array()) {
      Message(body);
      return;
    }
    for (const nlohmann::json& m : batch) Message(m.dump());
  }
};

namespace {

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<HttpLane::Exchange*>(user);
  return x->Data(std::string_view(data, size * n)) ? size * n : 0;
}

}  // namespace

HttpLane::HttpLane(std::string url, size_t max_bytes, std::shared_ptr<SeenEventIds> seen,
                   std::function<void(std::string)> deliver, std::function<void(std::string)> fault)
    : url_(std::move(url)),
      max_bytes_(max_bytes),
      seen_(std::move(seen)),
      deliver_(std::move(deliver)),
      fault_(std::move(fault)),
      headers_(std::make_shared<std::vector<std::string>>()) {}

HttpLane::~HttpLane() = default;

void HttpLane::SetHeaders(std::vector<std::string> headers) {
  auto h = std::make_shared<const std::vector<std::string>>(std::move(headers));
  std::lock_guard<std::mutex> l(mu_);
  headers_ = std::move(h);
}

void HttpLane::Close(const std::string& why) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_.empty()) closed_ = why.empty() ? "closed" : why;
  idle_.clear();
}

std::string HttpLane::Closed() {
  std::lock_guard<std::mutex> l(mu_);
  return closed_;
}

std::unique_ptr<HttpLane::Handle> HttpLane::Take() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Handle> h = std::move(idle_.back());
      idle_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  if (h->multi == nullptr || h->easy == nullptr) return nullptr;
  SetMcpCurlOptions(h->easy, kConnectTimeout);
  curl_easy_setopt(h->easy, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(h->easy, CURLOPT_POST, 1L);
  curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, OnBody);
  return h;
}

void HttpLane::Give(std::unique_ptr<Handle> h) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_.empty() && idle_.size() < kIdleHandles) idle_.push_back(std::move(h));
}

HttpLaneResult HttpLane::Post(int64_t id, const std::string& body, Clock::time_point deadline,
                              const std::function<bool()>& cancelled) {
  HttpLaneResult r;
  std::shared_ptr<const std::vector<std::string>> headers;
  {
    std::lock_guard<std::mutex> l(mu_);
    r.why = closed_;
    headers = headers_;
  }
  if (!r.why.empty()) return r;
  std::unique_ptr<Handle> h = Take();
  if (!h) {
    r.why = "curl_easy_init failed";
    return r;
  }
  curl_slist* list = nullptr;
  for (const std::string& s : *headers) list = curl_slist_append(list, s.c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  char error[CURL_ERROR_SIZE] = {};
  Exchange x(*this, id, h->easy);
  curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &x);
  curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, error);
  curl_multi_add_handle(h->multi, h->easy);

  std::optional<CURLcode> done;
  std::optional<HttpLaneResult::End> gave_up;
  Clock::time_point answered_at{}, next_look = Clock::now() + kSlice;
  for (;;) {
    int running = 0;
    curl_multi_perform(h->multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(h->multi, &left)) {
      if (m->msg == CURLMSG_DONE) done = m->data.result;
    }
    if (done) break;
    const Clock::time_point now = Clock::now();
    if (x.answer) {
      if (answered_at == Clock::time_point{}) answered_at = now;
      if (now - answered_at >= kAfterAnswer) break;  // leave the rest
    } else if (now >= deadline) {
      gave_up = HttpLaneResult::End::kTimeout;
      break;
    } else if (now >= next_look) {
      next_look = now + kSlice;
      if (r.why = Closed(); !r.why.empty()) break;
      if (cancelled && cancelled()) {
        gave_up = HttpLaneResult::End::kCancelled;
        break;
      }
    }
    auto wait = std::min<Clock::duration>(kSlice, (x.answer ? answered_at + kAfterAnswer
                                                            : std::min(deadline, next_look)) -
                                                      now);
    int ms = static_cast<int>(std::chrono::ceil<milliseconds>(wait).count());
    curl_multi_poll(h->multi, nullptr, 0, std::max(ms, 0), nullptr);
  }
  curl_multi_remove_handle(h->multi, h->easy);
  curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(list);
  Give(std::move(h));
  if (x.answer) {
    r.end = HttpLaneResult::End::kAnswer;
    r.answer = std::move(*x.answer);
    return r;
  }
  if (gave_up) {
    r.end = *gave_up;
    return r;
  }
  if (!done) return r;  // closed: r.why
  // As the loop's path: a 404 ends the session only if the POST named one
  // (a server that issues no session ids just failed this call).
  const bool with_session =
      std::any_of(headers->begin(), headers->end(), [](const std::string& h) {
        return h.rfind(kSessionHeaderPrefix, 0) == 0;
      });
  return Finish(x, *done, error, with_session);
}

// The exchange ended (`code`) without the answer: why, and whether the
// session can go on.
HttpLaneResult HttpLane::Finish(Exchange& x, int code, const char* curl_error,
                               bool with_session) {
  HttpLaneResult r;
  auto fault = [&](std::string why) {
    fault_(why);
    r.fault = true;
    r.why = std::move(why);
    return r;
  };
  if (x.too_big) return fault(x.why);
  if (!x.started) x.Start();
  const bool stream = x.event_stream && x.status / 100 == 2;
  const std::string broke =
      absl::StrCat("POST ", url_, ": ",
                   curl_error[0] != '\0' ? curl_error
                                         : curl_easy_strerror(static_cast<CURLcode>(code)));
  if (code != CURLE_OK && !(stream && x.events)) return fault(broke);
  if (stream) {
    r.end = HttpLaneResult::End::kCut;
    r.why = code == CURLE_OK
                ? absl::StrCat("POST ", url_, ": the event stream ended before the answer")
                : broke;
    r.last_id = x.last_id;
    r.retry_ms = x.sse.retry_ms();
    return r;
  }
  if (x.status == 404 && with_session) {
    return fault(absl::StrCat("http: session expired (HTTP 404 from ", url_, ")"));
  }
  if (x.status / 100 == 2) {
    x.Body();
    if (x.answer) {
      r.end = HttpLaneResult::End::kAnswer;
      r.answer = std::move(*x.answer);
      return r;
    }
    r.why = absl::StrCat("POST ", url_, ": HTTP ", x.status, " ended without an answer");
    return r;
  }
  r.why = HttpError(absl::StrCat("POST ", url_), x.status, x.body);
  return r;
}

}  // namespace aikernel::tools::mcp
