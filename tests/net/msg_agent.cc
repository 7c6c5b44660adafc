// aik_msg_agent: an agent program for tests/net/msg_test.cc. It prints one
// line per fact, flushed, so the test reads it from the agent's log. Modes:
//   send TO N [PREFIX]  send N messages to TO (topic "t", payload PREFIX<i>,
//                       message id m<i>), then m0 again; prints
//                       "send i=<i> code=<code>" and "dup=<0|1>", then
//                       "send-done"; then waits for SIGTERM
//   recv N              receive (long poll) until N messages arrived, acking
//                       each batch; prints "got from=<sender> payload=<p>"
//                       per message, then "recv-done"; then tries another
//                       agent's inbox and prints "other-inbox=<code>"; waits
//   tool NAME ARGS      calls tool NAME (e.g. "nb/clock.now", a remote one)
//                       with ARGS (JSON); prints "tool code=<code>
//                       provider=<p> result=<json>" or "tool code=<code>
//                       error=<message>", then "tool-done"; waits
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "aikernel/client.h"
#include "common/agent_program.h"

namespace {

using aikernel::testing::StartAgentProgram;
using aikernel::testing::WaitForTerm;

const char* Code(const aikernel::Status& s) { return aikernel::StatusCodeName(s.code()); }

}  // namespace

int main(int argc, char** argv) {
  StartAgentProgram();
  const std::string mode = argc > 1 ? argv[1] : "";
  auto c = aikernel::Client::Connect({});
  if (!c.ok()) {
    std::printf("connect-error %s\n", c.status().ToString().c_str());
    return 2;
  }
  if (mode == "send" && argc > 3) {
    const std::string to = argv[2];
    const int n = std::atoi(argv[3]);
    const std::string prefix = argc > 4 ? argv[4] : "p";
    for (int i = 0; i < n; ++i) {
      aikernel::MsgSendOptions o;
      o.message_id = "m" + std::to_string(i);
      auto r = (*c)->MsgSend(to, "t", prefix + std::to_string(i), o);
      std::printf("send i=%d code=%s\n", i, Code(r.status()));
    }
    aikernel::MsgSendOptions again;
    again.message_id = "m0";
    auto r = (*c)->MsgSend(to, "t", prefix + "0", again);
    std::printf("dup=%d code=%s\n", r.ok() && r->duplicate ? 1 : 0, Code(r.status()));
    std::printf("send-done\n");
    WaitForTerm();
    return 0;
  }
  if (mode == "recv" && argc > 2) {
    const int n = std::atoi(argv[2]);
    int got = 0;
    while (got < n) {
      aikernel::MsgReceiveOptions o;
      o.wait = std::chrono::seconds(20);
      aikernel::CallOptions call;
      call.timeout = std::chrono::seconds(40);
      auto r = (*c)->MsgReceive(o, call);
      if (!r.ok()) {
        std::printf("recv-error %s\n", r.status().ToString().c_str());
        return 2;
      }
      std::vector<uint64_t> seqs;
      for (const auto& m : r->messages) {
        std::printf("got from=%s payload=%s\n", m.sender.c_str(), m.payload.c_str());
        seqs.push_back(m.seq);
        ++got;
      }
      if (!seqs.empty()) {
        auto a = (*c)->MsgAck(seqs);
        if (!a.ok()) std::printf("ack-error %s\n", a.status().ToString().c_str());
      }
    }
    std::printf("recv-done\n");
    aikernel::MsgReceiveOptions other;
    other.inbox = argc > 3 ? argv[3] : "spiffe://x/agent/y";
    auto r = (*c)->MsgReceive(other);
    std::printf("other-inbox=%s\n", Code(r.status()));
    WaitForTerm();
    return 0;
  }
  if (mode == "tool" && argc > 3) {
    auto r = (*c)->CallTool(argv[2], argv[3]);
    if (r.ok()) {
      std::printf("tool code=OK provider=%s result=%s\n", r->provider.c_str(),
                  r->result_json.c_str());
    } else {
      std::printf("tool code=%s error=%s\n", Code(r.status()), r.status().message().c_str());
    }
    std::printf("tool-done\n");
    WaitForTerm();
    return 0;
  }
  std::printf("usage: aik_msg_agent send TO N [PREFIX] | recv N [OTHER_INBOX] | tool NAME ARGS\n");
  return 2;
}
