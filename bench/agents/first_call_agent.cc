// The agent bench_agents spawns: one Kernel.Whoami over AIKERNEL_FD (the
// "first call reaches the kernel" the benchmark times), then exit.
//
// On success it prints one line to stdout (the daemon captures it into the
// agent's log, where bench_agents reads it) with CLOCK_REALTIME stamps in ns:
//   aik-probe start=<first code run after exec> main=<main entered, static
//   initialisers done> connected=<Client::Connect returned> reply=<Whoami
//   answered>
// `start` is taken from .preinit_array, which runs before every static
// initialiser (gRPC's, protobuf's), so start..main is their cost.
#include <time.h>

#include <cstdio>

#include "aikernel/client.h"

namespace {

long long g_start_ns = 0;

long long RealNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void StampStart(int, char**, char**) { g_start_ns = RealNs(); }

}  // namespace

__attribute__((section(".preinit_array"), used)) static void (*const g_preinit)(int, char**,
                                                                                 char**) =
    StampStart;

int main() {
  const long long main_ns = RealNs();
  auto c = aikernel::Client::Connect({});
  if (!c.ok()) return 2;
  const long long connected_ns = RealNs();
  if (!(*c)->Whoami().ok()) return 3;
  const long long reply_ns = RealNs();
  std::printf("aik-probe start=%lld main=%lld connected=%lld reply=%lld\n", g_start_ns, main_ns,
              connected_ns, reply_ns);
  return 0;
}
