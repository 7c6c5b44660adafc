// hello_agent: the smallest useful agent written against the C++ SDK.
//
// Started by aikerneld (aictl agent run, or a spec in the daemon's agents/
// directory), it inherits its line to the kernel as fd 3 (AIKERNEL_FD=3):
// Client::Connect({}) picks that up, so the agent never names a socket and
// cannot choose who it is. It asks the kernel who it is (Kernel.Whoami), prints
// the answer to stdout (the daemon captures it: aictl agent logs hello), then
// prints a heartbeat every --interval until stopped (SIGTERM ends it cleanly).
//
//   aictl agent run hello -- /path/to/hello_agent --interval 5s
//   aictl agent logs -f hello
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "aikernel/client.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

// "5s", "250ms" or plain milliseconds.
long ParseMs(const char* s) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (std::strcmp(end, "s") == 0) return v * 1000;
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  long interval_ms = 5000;
  long count = -1;  // heartbeats before exiting; -1: until stopped
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--interval") == 0) interval_ms = ParseMs(argv[i + 1]);
    if (std::strcmp(argv[i], "--count") == 0) count = std::strtol(argv[i + 1], nullptr, 10);
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  setvbuf(stdout, nullptr, _IOLBF, 0);

  auto client = aikernel::Client::Connect({});
  if (!client.ok()) {
    std::fprintf(stderr, "hello_agent: cannot reach the kernel: %s\n",
                 client.status().ToString().c_str());
    return 2;
  }
  auto me = (*client)->Whoami();
  if (!me.ok()) {
    std::fprintf(stderr, "hello_agent: whoami: %s\n", me.status().ToString().c_str());
    return 2;
  }
  std::printf("hello from %s (kind %s, instance %s) on node %s; audit record #%llu\n",
              me->principal.spiffe_id.c_str(), aikernel::PrincipalKindName(me->principal.kind),
              me->principal.instance_id.c_str(), me->node.c_str(),
              static_cast<unsigned long long>(me->audit_sequence));
  for (long n = 1; !g_stop && (count < 0 || n <= count); ++n) {
    std::printf("heartbeat %ld\n", n);
    for (long waited = 0; waited < interval_ms && !g_stop; waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::printf("hello_agent: bye\n");
  return 0;
}
