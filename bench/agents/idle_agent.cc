// The idle agent bench_agents starts 1,000 of: `idle_agent THREADS` starts
// THREADS threads and then every thread waits for a signal forever. All the
// agents run as the same uid (65534), so this is what shows that RLIMIT_NPROC
// (the pids limit without a pids cgroup) counts each agent's threads apart.
#include <pthread.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace {

void* Wait(void*) {
  for (;;) pause();
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 0;
  for (int i = 0; i < threads; ++i) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&t, &attr, Wait, nullptr) != 0) {
      std::fprintf(stderr, "idle_agent: thread %d of %d: cannot create it\n", i + 1, threads);
      return 1;
    }
  }
  Wait(nullptr);
}
