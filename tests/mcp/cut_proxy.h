// A loopback TCP proxy for tests, put between aikerneld and a real MCP
// server over streamable HTTP. It relays bytes both ways unchanged and
// records everything clients sent (request lines, headers, bodies), so a
// test can see what reached the server. CutAfterFirstEvent(marker) arms a
// one-time cut: once a request on a connection contains `marker`, the
// proxy passes that request's answer up to the end of its first SSE event
// that carries an id, then closes both sides of the connection (the fake
// part: a network cut; the server stays the real one). RefuseResumes()
// makes it answer every request carrying Last-Event-ID itself with HTTP 405,
// as a server that cannot resume would, without passing it on.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aikernel::testing {

class CutProxy {
 public:
  explicit CutProxy(int upstream_port) : upstream_port_(upstream_port) {}
  ~CutProxy() { Stop(); }

  // "" when listening, else why not.
  std::string Start() {
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(0);
    socklen_t len = sizeof(a);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return "cut proxy: cannot listen on loopback";
    }
    port_ = ntohs(a.sin_port);
    accept_ = std::thread([this] { AcceptLoop(); });
    return "";
  }

  void Stop() {
    if (stop_fd_ < 0) return;
    uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof(one));
    accept_.join();  // no connection thread starts after this
    for (std::thread& t : threads_) t.join();
    threads_.clear();
    ::close(listen_fd_);
    ::close(stop_fd_);
    stop_fd_ = -1;
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }

  // Makes the server look like one without resumability: "id:" lines of
  // its answers become "xx:" (same length, so chunk sizes stay right),
  // a field SSE ignores.
  void HideEventIds() {
    std::lock_guard<std::mutex> l(mu_);
    hide_ids_ = true;
  }

  void RefuseResumes() {
    std::lock_guard<std::mutex> l(mu_);
    refuse_resumes_ = true;
  }
  int ResumesRefused() const {
    std::lock_guard<std::mutex> l(mu_);
    return resumes_refused_;
  }

  void CutAfterFirstEvent(const std::string& marker) {
    std::lock_guard<std::mutex> l(mu_);
    marker_ = marker;
  }
  // The id of the last event passed before the cut ("" : no cut yet).
  std::string CutAfterId() const {
    std::lock_guard<std::mutex> l(mu_);
    return cut_after_id_;
  }
  std::string Requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }
  size_t EventsAfterCut(const std::string& what) const {
    std::lock_guard<std::mutex> l(mu_);
    return DistinctEvents(after_cut_, what);
  }
  std::string AnswersAfterCut() const {
    std::lock_guard<std::mutex> l(mu_);
    return after_cut_;
  }
  // Waits until clients sent `what` (true), or `timeout` passed.
  bool WaitForRequest(const std::string& what, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return requests_.find(what) != std::string::npos; });
  }
  // Waits until the server's answers after the cut, on any connection,
  // carried `n` events with distinct ids whose data holds `what`.
  bool WaitForEventsAfterCut(const std::string& what, size_t n,
                             std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, timeout, [&] { return DistinctEvents(after_cut_, what) >= n; });
  }

 private:
  static sockaddr_in Loopback(int port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    return a;
  }

  static bool WriteAll(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return false;
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void AcceptLoop() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (::poll(p, 2, -1) < 0 && errno == EINTR) continue;
      if (p[1].revents != 0) return;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      threads_.emplace_back([this, c] { Relay(c); });
    }
  }

  // Where the first SSE event with an id in `s` ends (past its blank line
  // and the chunk's CRLF when it follows), and that id; npos if none yet.
  // Events ("id: X" then a "data:" line) in `s` whose data holds `what`,
  // counted once per id.
  static size_t DistinctEvents(const std::string& s, const std::string& what) {
    std::vector<std::string> ids;
    for (size_t at = 0; (at = s.find("\nid: ", at)) != std::string::npos; ++at) {
      size_t eol = s.find('\n', at + 1);
      if (eol == std::string::npos) break;
      size_t data_end = s.find('\n', eol + 1);
      if (data_end == std::string::npos) break;
      if (s.substr(eol + 1, data_end - eol - 1).find(what) == std::string::npos) continue;
      std::string id = s.substr(at + 5, eol - at - 5);
      bool seen = false;
      for (const std::string& i : ids) seen |= i == id;
      if (!seen) ids.push_back(id);
    }
    return ids.size();
  }

  // Rewrites "\nid:" to "\nxx:" in `buf`, also across reads (`tail`: the
  // last bytes of the previous read).
  static void HideIds(char* buf, size_t n, std::string* tail) {
    std::string s = *tail + std::string(buf, n);
    for (size_t at = 0; (at = s.find("\nid:", at)) != std::string::npos; ++at) {
      for (size_t k = 1; k <= 2; ++k) {
        if (at + k >= tail->size()) buf[at + k - tail->size()] = 'x';
      }
    }
    *tail = s.size() >= 3 ? s.substr(s.size() - 3) : s;
  }

  static size_t FirstEventEnd(const std::string& s, std::string* id) {
    size_t at = s.find("\nid: ");
    if (at == std::string::npos) at = s.find("\nxx: ");
    if (at == std::string::npos) return std::string::npos;
    size_t eol = s.find('\n', at + 1);
    size_t end = s.find("\n\n", at + 1);
    if (eol == std::string::npos || end == std::string::npos) return std::string::npos;
    *id = s.substr(at + 5, eol - at - 5);
    end += 2;
    if (s.compare(end, 2, "\r\n") == 0) end += 2;
    return end;
  }

  void Relay(int client) {
    int up = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a = Loopback(upstream_port_);
    if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
      ::close(up);
      ::close(client);
      return;
    }
    std::string sent, answer;  // this connection's request text; the armed answer
    std::string tail;          // HideIds' carry-over
    bool armed = false;
    char buf[65536];
    for (;;) {
      pollfd p[3] = {{client, POLLIN, 0}, {up, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
      if (::poll(p, 3, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      if (p[2].revents != 0) break;
      if (p[0].revents != 0) {
        ssize_t n = ::recv(client, buf, sizeof(buf), 0);
        if (n <= 0) break;
        bool refuse = false;
        {
          std::lock_guard<std::mutex> l(mu_);
          // A resuming GET's header arrives in one read (it has no body).
          refuse = refuse_resumes_ &&
                   std::string(buf, static_cast<size_t>(n)).find("Last-Event-ID:") !=
                       std::string::npos;
          resumes_refused_ += refuse;
          requests_.append(buf, static_cast<size_t>(n));
          cv_.notify_all();
          sent.append(buf, static_cast<size_t>(n));
          if (!marker_.empty() && sent.find(marker_) != std::string::npos) {
            marker_.clear();
            armed = true;
          }
        }
        if (refuse) {
          static constexpr char k405[] =
              "HTTP/1.1 405 Method Not Allowed\r\nAllow: POST\r\nContent-Length: 0\r\n\r\n";
          if (!WriteAll(client, k405, sizeof(k405) - 1)) break;
          continue;
        }
        if (!WriteAll(up, buf, static_cast<size_t>(n))) break;
      }
      if (p[1].revents != 0) {
        ssize_t n = ::recv(up, buf, sizeof(buf), 0);
        if (n <= 0) break;
        size_t pass = static_cast<size_t>(n);
        bool hide;
        {
          std::lock_guard<std::mutex> l(mu_);
          hide = hide_ids_;
          if (!cut_after_id_.empty()) {
            after_cut_.append(buf, static_cast<size_t>(n));
            cv_.notify_all();
          }
        }
        if (hide) HideIds(buf, pass, &tail);
        bool cut = false;
        if (armed) {
          size_t before = answer.size();
          answer.append(buf, static_cast<size_t>(n));
          std::string id;
          size_t end = FirstEventEnd(answer, &id);
          if (end != std::string::npos) {
            pass = end - before;
            cut = true;
            std::lock_guard<std::mutex> l(mu_);
            cut_after_id_ = id;
          }
        }
        if (!WriteAll(client, buf, pass) || cut) break;
      }
    }
    ::shutdown(client, SHUT_RDWR);
    ::close(client);
    ::close(up);
  }

  const int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1, stop_fd_ = -1;
  std::thread accept_;
  std::vector<std::thread> threads_;  // one per connection; appended by accept_ only

  mutable std::mutex mu_;
  std::string marker_;        // GUARDED_BY(mu_)
  bool hide_ids_ = false;     // GUARDED_BY(mu_)
  bool refuse_resumes_ = false;  // GUARDED_BY(mu_)
  int resumes_refused_ = 0;      // GUARDED_BY(mu_)
  std::string cut_after_id_;  // GUARDED_BY(mu_)
  std::string requests_;      // GUARDED_BY(mu_)
  std::string after_cut_;     // GUARDED_BY(mu_): answers relayed after the cut
  std::condition_variable cv_;
};

}  // namespace aikernel::testing
