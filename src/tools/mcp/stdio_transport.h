// mcp::StdioTransport: MCP's stdio transport. The server is a child process
// started confined (the sandbox profile its [[mcp]] entry names, from the
// daemon's [profiles.<name>] or the builtins; uid/gid, workdir, env from the
// entry); messages are lines of JSON on its stdin and stdout; its
// stderr goes to the server's log file.
//
// Contract (beyond transport.h)
// - sandbox::Launch blocks until the child has exec'd, so it runs on the
//   Manager's LaunchThread; the result is posted back to the loop. Pipes are
//   non-blocking stream_descriptors; the pidfd is watched for readability
//   and reaped with waitid(P_PIDFD).
// - A stdout line longer than max_message_bytes is a fault (the line is
//   never buffered beyond the cap); the process exiting is `failed` with
//   fault=false ("exited with code N" / "killed by signal N").
// - stdin and stdout are a StdioLane (stdio_lane.h), so a caller on another
//   thread can write a request and read its answer itself (caller_lane());
//   lines the lane does not hand to TransportEvents::direct are delivered
//   on the loop as `message`, in order.
// - Close() SIGKILLs the sandbox (the pid namespace's init, so everything
//   the server started dies too) and reaps it; it blocks only on reaping a
//   SIGKILLed child.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>

#include "agents/log_file.h"
#include "sandbox/launch_thread.h"
#include "sandbox/sandbox.h"
#include "tools/mcp/server_config.h"
#include "tools/mcp/transport.h"

namespace aikernel::tools::mcp {

class StdioTransport : public Transport {
 public:
  // `profile`: the entry's `sandbox`, resolved by the Manager.
  StdioTransport(const ServerConfig& config, sandbox::Profile profile, boost::asio::io_context& io,
                 sandbox::LaunchThread& launch_thread, sandbox::Launcher& launcher,
                 agents::LogFile& log);
  ~StdioTransport() override;

  void Open(TransportEvents events) override;
  void Send(std::string message, int64_t request_id) override;
  void Close() override;
  const char* channel() const override { return "stdout"; }
  std::shared_ptr<StdioLane> caller_lane() override;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;  // shared with its pending handlers
};

}  // namespace aikernel::tools::mcp
