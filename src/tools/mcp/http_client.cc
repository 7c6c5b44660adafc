#include "tools/mcp/http_client.h"

#include <pthread.h>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace aikernel::tools::mcp {

namespace {

using Clock = std::chrono::steady_clock;

struct Transfer {
  uint64_t id = 0;
  HttpExchange x;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::map<std::string, std::string> response_headers;
  bool responded = false;
  char error[CURL_ERROR_SIZE] = {};

  ~Transfer() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }

  void Respond() {
    if (responded) return;
    responded = true;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (x.on_response) x.on_response(status, response_headers);
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {  // a new response (after 100 Continue)
    t->response_headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name(line.substr(0, colon));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.front()))) {
    value.remove_prefix(1);
  }
  while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) {
    value.remove_suffix(1);
  }
  t->response_headers[name] = std::string(value);
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->Respond();
  if (t->x.on_data && !t->x.on_data(std::string_view(data, size * n))) return 0;
  return size * n;
}

}  // namespace

void SetMcpCurlOptions(void* easy, std::chrono::milliseconds connect_timeout) {
  CURL* e = easy;
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_PROXY, "");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_timeout.count()));
}

class HttpClient::Impl {
 public:
  explicit Impl(std::string name) : name_(std::move(name)) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    multi_ = curl_multi_init();
    thread_ = std::thread([this] { Loop(); });
  }

  ~Impl() {
    Stop(std::chrono::milliseconds(0));
    curl_multi_cleanup(multi_);
  }

  uint64_t Start(HttpExchange x) {
    std::unique_lock<std::mutex> l(mu_);
    uint64_t id = next_id_++;
    if (stopping_) {
      l.unlock();
      if (x.on_done) x.on_done(absl::CancelledError("the MCP HTTP client is stopped"));
      return id;
    }
    auto t = std::make_unique<Transfer>();
    t->id = id;
    t->x = std::move(x);
    starts_.push_back(std::move(t));
    curl_multi_wakeup(multi_);
    return id;
  }

  void Abort(uint64_t id) {
    std::lock_guard<std::mutex> l(mu_);
    aborts_.push_back(id);
    curl_multi_wakeup(multi_);
  }

  void Stop(std::chrono::milliseconds grace) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!stopping_) {
        stopping_ = true;
        stop_by_ = Clock::now() + grace;
      }
      curl_multi_wakeup(multi_);
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    pthread_setname_np(pthread_self(), name_.c_str());
    for (;;) {
      std::vector<std::unique_ptr<Transfer>> starts;
      std::vector<uint64_t> aborts;
      bool stopping;
      Clock::time_point stop_by;
      {
        std::lock_guard<std::mutex> l(mu_);
        starts.swap(starts_);
        aborts.swap(aborts_);
        stopping = stopping_;
        stop_by = stop_by_;
      }
      for (auto& t : starts) Add(std::move(t));
      for (uint64_t id : aborts) Finish(id, absl::CancelledError("aborted"));
      if (stopping && (live_.empty() || Clock::now() >= stop_by)) {
        while (!live_.empty()) {
          Finish(live_.begin()->first, absl::CancelledError("the MCP HTTP client stopped"));
        }
        return;
      }
      int running = 0;
      curl_multi_perform(multi_, &running);
      int left = 0;
      while (CURLMsg* m = curl_multi_info_read(multi_, &left)) {
        if (m->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
        if (t == nullptr) continue;
        Status s = absl::OkStatus();
        if (m->data.result != CURLE_OK) {
          s = absl::UnavailableError(absl::StrCat(
              t->x.method, " ", t->x.url, ": ",
              t->error[0] != '\0' ? t->error : curl_easy_strerror(m->data.result)));
        }
        Finish(t->id, s);
      }
      curl_multi_poll(multi_, nullptr, 0, stopping ? 50 : 1000, nullptr);
    }
  }

  void Add(std::unique_ptr<Transfer> t) {
    CURL* e = curl_easy_init();
    t->easy = e;
    if (e == nullptr) {
      if (t->x.on_done) t->x.on_done(absl::InternalError("curl_easy_init failed"));
      return;
    }
    curl_easy_setopt(e, CURLOPT_URL, t->x.url.c_str());
    SetMcpCurlOptions(e, t->x.connect_timeout);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    if (t->x.timeout.count() > 0) {
      curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(t->x.timeout.count()));
    }
    if (t->x.method == "POST") {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->x.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->x.body.size()));
    } else if (t->x.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->x.method.c_str());
    }
    for (const std::string& h : t->x.headers) t->headers = curl_slist_append(t->headers, h.c_str());
    // No "Expect: 100-continue" round trip for larger bodies.
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_multi_add_handle(multi_, e);
    uint64_t id = t->id;
    live_[id] = std::move(t);
  }

  // Ends exchange `id` (if still live) with `s`.
  void Finish(uint64_t id, Status s) {
    auto it = live_.find(id);
    if (it == live_.end()) return;
    std::unique_ptr<Transfer> t = std::move(it->second);
    live_.erase(it);
    curl_multi_remove_handle(multi_, t->easy);
    if (s.ok()) t->Respond();
    if (t->x.on_done) t->x.on_done(s);
  }

  const std::string name_;
  CURLM* multi_ = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Transfer>> live_;  // the thread's own

  std::mutex mu_;
  std::vector<std::unique_ptr<Transfer>> starts_;  // GUARDED_BY(mu_)
  std::vector<uint64_t> aborts_;                   // GUARDED_BY(mu_)
  bool stopping_ = false;                          // GUARDED_BY(mu_)
  Clock::time_point stop_by_;                      // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                           // GUARDED_BY(mu_)
  std::thread thread_;
};

HttpClient::HttpClient(std::string thread_name)
    : impl_(std::make_unique<Impl>(std::move(thread_name))) {}
HttpClient::~HttpClient() = default;
uint64_t HttpClient::Start(HttpExchange x) { return impl_->Start(std::move(x)); }
void HttpClient::Abort(uint64_t id) { impl_->Abort(id); }
void HttpClient::Stop(std::chrono::milliseconds grace) { impl_->Stop(grace); }

}  // namespace aikernel::tools::mcp
