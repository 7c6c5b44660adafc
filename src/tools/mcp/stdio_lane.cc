#include "tools/mcp/stdio_lane.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace aikernel::tools::mcp {

namespace {

using std::chrono::milliseconds;

void SetNonBlocking(int fd) {
  if (fd >= 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int PollMs(StdioLane::Clock::duration d) {
  auto ms = std::chrono::ceil<milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 60'000));
}

}  // namespace

StdioLane::StdioLane(UniqueFd in, UniqueFd out, StdioLaneOptions options)
    : in_(std::move(in)),
      out_(std::move(out)),
      stop_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      kick_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      o_(std::move(options)),
      framer_(o_.max_line_bytes) {
  SetNonBlocking(in_.get());
  SetNonBlocking(out_.get());
}

StdioLane::~StdioLane() { Close(); }

Status StdioLane::Start() {
  if (!stop_fd_.valid() || !kick_fd_.valid()) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "aik-mcp-lane");
    Run();
  });
  return absl::OkStatus();
}

void StdioLane::Kick() {
  uint64_t one = 1;
  ssize_t ignored = ::write(kick_fd_.get(), &one, sizeof(one));
  (void)ignored;
}

Status StdioLane::Write(std::string_view line) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return absl::UnavailableError("the server's stdin is closed");
  if (in_broken_) return absl::UnavailableError("the server closed its stdin");
  if (!queue_.empty()) {
    queue_.emplace_back(line);  // behind what is already waiting for room
    return absl::OkStatus();
  }
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(in_.get(), line.data() + off, line.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    in_broken_ = true;
    return absl::UnavailableError(absl::StrCat("writing the server's stdin: ",
                                               std::strerror(errno)));
  }
  if (off < line.size()) {
    queue_.emplace_back(line.substr(off));
    queue_front_off_ = 0;
    Kick();
  }
  return absl::OkStatus();
}

void StdioLane::DrainQueueLocked() {
  while (!queue_.empty() && !in_broken_) {
    const std::string& front = queue_.front();
    ssize_t n = ::write(in_.get(), front.data() + queue_front_off_,
                        front.size() - queue_front_off_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
      in_broken_ = true;  // EPIPE: the server is going; its exit is reported elsewhere
      queue_.clear();
      return;
    }
    queue_front_off_ += static_cast<size_t>(n);
    if (queue_front_off_ == front.size()) {
      queue_.pop_front();
      queue_front_off_ = 0;
    }
  }
}

void StdioLane::ReadSome(milliseconds wait, bool by_caller) {
  pollfd fds[2] = {{out_.get(), POLLIN, 0}, {stop_fd_.get(), POLLIN, 0}};
  int r = ::poll(fds, 2, static_cast<int>(wait.count()));
  if (r <= 0 || (fds[1].revents & POLLIN) || fds[0].revents == 0) return;
  std::vector<std::string> lines;
  Status framing = absl::OkStatus();
  bool ended = false;
  std::array<char, kReadChunk>& buf = read_buf_;  // the token makes it ours
  for (int i = 0; i < 16 && framing.ok(); ++i) {
    ssize_t n = ::read(out_.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      ended = true;  // EOF or a read error: the process is going
      break;
    }
    framing = framer_.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), &lines);
    if (static_cast<size_t>(n) < buf.size()) break;
  }
  size_t answers = 0;
  for (std::string& line : lines) {
    if (o_.on_line && o_.on_line(std::move(line))) ++answers;
  }
  bool report = false;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (by_caller) caller_lines_ += lines.size();
    if (answers > 0) last_caller_ = Clock::now();
    if (!framing.ok() && !out_ended_) report = true;
    if (ended || !framing.ok()) out_ended_ = true;
    cv_.notify_all();
  }
  if (report && o_.on_error) o_.on_error(framing);
}

void StdioLane::Await(const std::function<bool()>& done, Clock::time_point until) {
  std::unique_lock<std::mutex> l(mu_);
  ++callers_;
  while (!done() && !closed_) {
    Clock::time_point now = Clock::now();
    if (now >= until) break;
    if (!reading_ && !out_ended_) {
      reading_ = true;
      l.unlock();
      // Bounded, so a caller whose answer another path completed (a fault
      // failing every call) notices within this slice.
      ReadSome(std::min(milliseconds(50), std::chrono::ceil<milliseconds>(until - now)), true);
      l.lock();
      reading_ = false;
      cv_.notify_all();
    } else {
      cv_.wait_until(l, until);
    }
  }
  --callers_;
  last_caller_ = Clock::now();
}

void StdioLane::Notify() {
  std::lock_guard<std::mutex> l(mu_);
  cv_.notify_all();
}

void StdioLane::Run() {
  for (;;) {
    bool hold = false, want_out = false;
    int timeout_ms = -1;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (closed_) return;
      Clock::time_point now = Clock::now();
      Clock::time_point idle_at = last_caller_ + o_.idle_after;
      if (!out_ended_ && !reading_ && callers_ == 0 && now >= idle_at) {
        reading_ = true;
        hold = true;
      }
      want_out = !queue_.empty() && !in_broken_;
      // Not holding: look again once callers may have gone quiet.
      if (!hold && !out_ended_) timeout_ms = PollMs(std::max(idle_at - now, Clock::duration(o_.idle_after)));
    }
    pollfd fds[4];
    nfds_t n = 0;
    fds[n++] = {stop_fd_.get(), POLLIN, 0};
    fds[n++] = {kick_fd_.get(), POLLIN, 0};
    const nfds_t out_at = n;
    if (hold) fds[n++] = {out_.get(), POLLIN, 0};
    const nfds_t in_at = n;
    if (want_out) fds[n++] = {in_.get(), POLLOUT, 0};
    int r = ::poll(fds, n, timeout_ms);
    bool stop = r > 0 && (fds[0].revents & POLLIN);
    if (r > 0 && (fds[1].revents & POLLIN)) {
      uint64_t v;
      ssize_t ignored = ::read(kick_fd_.get(), &v, sizeof(v));
      (void)ignored;
    }
    if (!stop && want_out && r > 0 && fds[in_at].revents != 0) {
      std::lock_guard<std::mutex> l(mu_);
      DrainQueueLocked();
    }
    if (hold) {
      if (!stop && r > 0 && fds[out_at].revents != 0) ReadSome(milliseconds(0), false);
      std::lock_guard<std::mutex> l(mu_);
      reading_ = false;
      cv_.notify_all();
    }
    if (stop) return;
  }
}

void StdioLane::Close() {
  std::unique_lock<std::mutex> l(mu_);
  if (closed_) return;
  closed_ = true;
  cv_.notify_all();
  uint64_t one = 1;
  ssize_t ignored = ::write(stop_fd_.get(), &one, sizeof(one));
  (void)ignored;
  l.unlock();
  if (thread_.joinable()) thread_.join();
  l.lock();
  // A caller reading right now sees stop_fd_ and gives the token back.
  cv_.wait(l, [this] { return !reading_; });
  in_.reset();
  out_.reset();
  queue_.clear();
}

uint64_t StdioLane::lines_read_by_callers() const {
  std::lock_guard<std::mutex> l(mu_);
  return caller_lines_;
}

}  // namespace aikernel::tools::mcp
