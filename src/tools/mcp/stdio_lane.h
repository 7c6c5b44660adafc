// mcp::StdioLane: the two pipes of a stdio MCP server (its stdin and
// stdout), usable from any thread, so that a gRPC thread making a tool call
// writes the request and reads the answer itself instead of handing the
// call to the daemon's loop and back (two thread wake-ups per call, which
// on these machines cost more than the server's own work).
//
// Contract
// - Write() is thread-safe and never blocks: a line goes out whole, in the
//   order Write() was called. What the pipe does not take at once (the
//   server is not reading) is queued and written by the lane's thread when
//   the pipe has room; lines written meanwhile queue behind it.
// - Reading stdout is a token: one thread at a time reads, splits lines
//   (LineFramer, max_line_bytes) and hands each to `on_line`, in stream
//   order. The holder is either a caller inside Await() or the lane's own
//   thread. The lane's thread reads only while no caller has awaited for
//   `idle_after`, so in a stream of calls every answer is read by a caller;
//   after a quiet spell the lane's thread reads (server notifications), and
//   the first caller then waits for it to deliver its answer; delivering a
//   caller's answer counts as a caller, so the thread steps back.
// - Await(done, until) returns when done() is true (checked with the lane's
//   lock held; `on_line` and Notify() make it re-check), at `until`, or when
//   the lane ends (stdout EOF, an overlong line, Close()). It reads stdout
//   while it holds the token. done() must not call into the lane.
// - `on_line` and `on_error` run on whichever thread reads, never with the
//   lane's lock held; `on_error` is called at most once (RESOURCE_EXHAUSTED:
//   a line over the cap; the lane stops reading). EOF is not an error: the
//   owner learns about the exit from the process.
// - Close() ends the lane: wakes every waiter and reader, joins the lane's
//   thread, then closes both pipes. Idempotent; the destructor calls it.
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "common/status.h"
#include "common/unique_fd.h"
#include "tools/mcp/protocol.h"

namespace aikernel::tools::mcp {

struct StdioLaneOptions {
  size_t max_line_bytes = 4 << 20;
  std::chrono::milliseconds idle_after{200};
  // Called for each line read from stdout (without the newline). True if
  // the line answered a caller: when the lane's thread read it, a caller is
  // evidently active, so the thread leaves reading to callers again.
  std::function<bool(std::string line)> on_line;
  // Called once if stdout cannot be read on (an overlong line).
  std::function<void(Status why)> on_error;
};

class StdioLane {
 public:
  using Clock = std::chrono::steady_clock;

  // `in` is the write end of the server's stdin, `out` the read end of its
  // stdout; the lane makes both non-blocking and owns them.
  StdioLane(UniqueFd in, UniqueFd out, StdioLaneOptions options);
  ~StdioLane();
  StdioLane(const StdioLane&) = delete;
  StdioLane& operator=(const StdioLane&) = delete;

  // Starts the lane's thread. Separate from the constructor so that the
  // owner can finish wiring `on_line`'s target first.
  Status Start();
  // UNAVAILABLE once closed or once the server closed its stdin (EPIPE).
  Status Write(std::string_view line);
  void Await(const std::function<bool()>& done, Clock::time_point until);
  // Makes waiters re-check done() (after their state changed elsewhere).
  void Notify();
  void Close();

  // Tests: how many lines callers (not the lane's thread) read.
  uint64_t lines_read_by_callers() const;

 private:
  // Reads what stdout has now (one poll of up to `wait`), delivering
  // lines. Called by the token holder, without mu_.
  void ReadSome(std::chrono::milliseconds wait, bool by_caller);
  void DrainQueueLocked();  // mu_ held
  void Run();               // the lane's thread
  void Kick();

  UniqueFd in_, out_;
  UniqueFd stop_fd_;  // eventfd: set once by Close(), never drained
  UniqueFd kick_fd_;  // eventfd: the queue gained bytes, or idle changed
  StdioLaneOptions o_;
  // Only the token holder touches these.
  LineFramer framer_;
  static constexpr size_t kReadChunk = 65536;
  std::array<char, kReadChunk> read_buf_{};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool reading_ = false;  // the token is held
  int callers_ = 0;       // threads inside Await()
  Clock::time_point last_caller_{};
  bool out_ended_ = false;  // EOF or an error: nobody reads any more
  bool in_broken_ = false;  // EPIPE: writes fail
  bool closed_ = false;
  std::deque<std::string> queue_;  // bytes the pipe has not taken yet
  size_t queue_front_off_ = 0;
  uint64_t caller_lines_ = 0;
  std::thread thread_;
};

}  // namespace aikernel::tools::mcp
