// aik_bench_msg_agent: the agents of bench_net, spawned by aikerneld.
//   send TO N THREADS   N messages to TO from THREADS threads (payload: the
//                       send time in ns, CLOCK_REALTIME, padded to 64 bytes);
//                       prints "send-done n=<ok> errors=<e> secs=<s>
//                       p50_us=<p50> p99_us=<p99>" (the durable Send call)
//   recv N              long-polls until N messages arrived (acking each
//                       batch); prints "recv-done n=<n> secs=<first..last>
//                       p50_us=<p50> p99_us=<p99>" (send -> received)
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "aikernel/client.h"
#include "common/agent_program.h"

namespace {

using aikernel::testing::StartAgentProgram;
using aikernel::testing::WaitForTerm;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Pct(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return static_cast<double>(v[i]) / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  StartAgentProgram();
  const std::string mode = argc > 1 ? argv[1] : "";
  auto c = aikernel::Client::Connect({});
  if (!c.ok()) {
    std::printf("connect-error %s\n", c.status().ToString().c_str());
    return 2;
  }
  aikernel::Client& client = **c;
  if (mode == "send" && argc > 4) {
    const std::string to = argv[2];
    const int n = std::atoi(argv[3]);
    const int threads = std::max(1, std::atoi(argv[4]));
    std::atomic<int> next{0}, errors{0};
    std::vector<std::vector<int64_t>> lat(static_cast<size_t>(threads));
    const int64_t t0 = NowNs();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) {
      ts.emplace_back([&, t] {
        for (;;) {
          int i = next.fetch_add(1);
          if (i >= n) return;
          std::string payload = std::to_string(NowNs());
          payload.resize(64, ' ');
          aikernel::MsgSendOptions o;
          o.message_id = "b" + std::to_string(i);
          const int64_t s = NowNs();
          auto r = client.MsgSend(to, "bench", payload, o);
          lat[static_cast<size_t>(t)].push_back(NowNs() - s);
          if (!r.ok()) {
            if (errors.fetch_add(1) < 3) std::printf("send-error %s\n", r.status().ToString().c_str());
          }
        }
      });
    }
    for (auto& t : ts) t.join();
    const double secs = static_cast<double>(NowNs() - t0) / 1e9;
    std::vector<int64_t> all;
    for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
    std::printf("send-done n=%d errors=%d secs=%.3f p50_us=%.0f p99_us=%.0f t0=%lld\n",
                n - errors.load(), errors.load(), secs, Pct(all, 0.50), Pct(all, 0.99),
                static_cast<long long>(t0));
    WaitForTerm();
    return 0;
  }
  if (mode == "recv" && argc > 2) {
    const int n = std::atoi(argv[2]);
    std::vector<int64_t> lat;
    int64_t first = 0, last = 0;
    while (static_cast<int>(lat.size()) < n) {
      aikernel::MsgReceiveOptions o;
      o.wait = std::chrono::seconds(30);
      o.max_messages = 1000;
      aikernel::CallOptions call;
      call.timeout = std::chrono::seconds(60);
      auto r = client.MsgReceive(o, call);
      if (!r.ok()) {
        std::printf("recv-error %s\n", r.status().ToString().c_str());
        return 2;
      }
      const int64_t now = NowNs();
      if (first == 0 && !r->messages.empty()) first = now;
      std::vector<uint64_t> seqs;
      for (const auto& m : r->messages) {
        lat.push_back(now - std::atoll(m.payload.c_str()));
        seqs.push_back(m.seq);
      }
      if (!r->messages.empty()) last = now;
      if (!seqs.empty()) (void)client.MsgAck(seqs);
    }
    std::printf("recv-done n=%zu secs=%.3f p50_us=%.0f p99_us=%.0f last=%lld\n", lat.size(),
                static_cast<double>(last - first) / 1e9, Pct(lat, 0.50), Pct(lat, 0.99),
                static_cast<long long>(last));
    WaitForTerm();
    return 0;
  }
  std::printf("usage: aik_bench_msg_agent send TO N THREADS | recv N\n");
  return 2;
}
