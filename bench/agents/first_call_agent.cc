// The agent bench_agents spawns: one Kernel.Whoami over AIKERNEL_FD (the
// "first call reaches the kernel" the benchmark times), then exit.
#include "aikernel/client.h"

int main() {
  auto c = aikernel::Client::Connect({});
  if (!c.ok()) return 2;
  return (*c)->Whoami().ok() ? 0 : 3;
}
