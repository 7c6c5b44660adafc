// agents::LogFile: one agent's captured stdout/stderr, rotated by size.
//
// <logs-dir>/agents/<name>.log is the current file; when a write would take
// it past `max_bytes` it is renamed to <name>.log.1 (older ones shift to
// .2 ... .<keep>, the oldest is deleted) and a new file is started. keep = 0
// truncates instead. Writes append whole chunks as they came from the pipe
// (stdout and stderr interleaved in arrival order). Not thread-safe: the
// Supervisor writes from its loop. Readers (followers on other threads) only
// open the files by path; FollowLog() below is their side.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"

namespace aikernel::agents {

class LogFile {
 public:
  LogFile(std::string path, int64_t max_bytes, int keep)
      : path_(std::move(path)), max_bytes_(max_bytes), keep_(keep) {}
  const std::string& path() const { return path_; }
  Status Write(std::string_view data);
  void Close() { fd_.reset(); }
  // Deletes the current and rotated files.
  void RemoveAll();
  // Paths that exist, oldest rotated first, current last.
  std::vector<std::string> Files() const;

 private:
  Status Open();
  Status Rotate();
  std::string path_;
  int64_t max_bytes_;
  int keep_;
  UniqueFd fd_;
  int64_t size_ = 0;
};

// Wakes followers when any log got new data (one per Supervisor).
class LogNotifier {
 public:
  void Notify() {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++gen_;
    }
    cv_.notify_all();
  }
  // Waits until a Notify after `seen` or the timeout; returns the generation.
  uint64_t Wait(uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait_for(l, timeout, [&] { return gen_ != seen; });
    return gen_;
  }
  uint64_t generation() {
    std::lock_guard<std::mutex> l(mu_);
    return gen_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t gen_ = 0;
};

struct FollowOptions {
  bool follow = false;
  int64_t tail_bytes = -1;        // -1: from the start of the current file
  bool include_rotated = false;
};

// Streams `path` (and with include_rotated its rotated files first) to
// `emit`. With follow, keeps reading as the file grows, switches to the new
// file after a rotation, and returns when `emit` returns false or `stop`
// returns true. Runs on the caller's thread; never touches the writer.
Status FollowLog(const std::string& path, const FollowOptions& options, LogNotifier* notifier,
                 const std::function<bool(const std::string&)>& emit,
                 const std::function<bool()>& stop);

}  // namespace aikernel::agents
