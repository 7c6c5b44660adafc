// bench_identity: SVID throughput of the node CA. Prints figures; asserts
// nothing.
//
//   bench_identity [--seconds S] [--dir D]
//
// For 1 and 2 threads: JWT-SVID issue/s (ES256 sign), JWT-SVID validate/s
// (parse, ES256 verify, claims, revocation check), X.509-SVID issue/s (a new
// P-256 key pair per SVID, certificate signing, PEM encoding) and X.509-SVID
// validate/s (chain to the bundle, SAN, revocation), next to peers: raw
// OpenSSL P-256 sign, verify and key generation, measured in the same run. The
// CA directory is a fresh temporary one (tmpfs or disk: only ca.json is
// written, at most once per expiry step).
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "identity/ca.h"
#include "identity/ossl.h"
#include "identity/revocation.h"

using namespace aikernel;
using namespace aikernel::identity;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kAgent = "spiffe://bench.example/agent/worker";

// Runs `op(thread, i)` on `threads` threads for `seconds`; ops/s overall.
double Measure(int threads, double seconds,
               const std::function<bool(int, uint64_t)>& op) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0};
  std::atomic<uint64_t> failures{0};
  std::vector<std::thread> pool;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t, n)) failures.fetch_add(1);
        ++n;
      }
      total.fetch_add(n);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed =
      std::chrono::duration<double>(Clock::now() - start).count();
  if (failures.load() != 0) {
    std::fprintf(stderr, "  (%llu operations failed)\n",
                 static_cast<unsigned long long>(failures.load()));
  }
  return static_cast<double>(total.load()) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2.0;
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S] [--dir D]\n", argv[0]);
      return 2;
    }
  }
  bool remove_dir = false;
  if (dir.empty()) {
    const char* base = getenv("TMPDIR");
    std::string templ =
        std::string(base && *base ? base : "/tmp") + "/aik-bench-id-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) return 1;
    dir = templ;
    remove_dir = true;
  }
  RevocationList revocations;
  // A realistic list: 1,000 revoked instances of other agents.
  for (int i = 0; i < 1000; ++i) {
    (void)revocations.RevokeInstance(
        "spiffe://bench.example/agent/old-" + std::to_string(i % 50),
        "inst-" + std::to_string(i), 1);
  }
  NodeCA::Options opts;
  opts.keys_dir = dir + "/keys";
  opts.trust_domain = "bench.example";
  opts.revocations = &revocations;
  auto ca = NodeCA::Open(opts);
  if (!ca.ok()) {
    std::fprintf(stderr, "cannot open the CA: %s\n",
                 ca.status().ToString().c_str());
    return 1;
  }
  NodeCA& node_ca = **ca;

  // Pre-issued credentials for the validate runs.
  std::vector<std::string> tokens, certs;
  for (int i = 0; i < 64; ++i) {
    auto t = node_ca.IssueJWTSVID({kAgent, "inst-" + std::to_string(i)},
                                  {"bench"}, std::chrono::minutes(10));
    auto c = node_ca.IssueX509SVID({kAgent, "inst-" + std::to_string(i)},
                                   std::chrono::minutes(10));
    if (!t.ok() || !c.ok()) return 1;
    tokens.push_back(t->token);
    certs.push_back(c->cert_pem);
  }
  std::printf(
      "bench_identity: %.1f s per figure, CA kid %s, %zu-byte "
      "token, %d cores\n",
      seconds, node_ca.ActiveKid().c_str(), tokens[0].size(),
      static_cast<int>(std::thread::hardware_concurrency()));
  std::printf("%-34s %14s %14s %8s\n", "operation", "1 thread /s",
              "2 threads /s", "x");

  struct Row {
    const char* name;
    std::function<bool(int, uint64_t)> op;
  };
  // Peers, measured in the same run: the raw OpenSSL operations each SVID
  // operation is built on, so the ratio shows this library's overhead
  // whatever else the machine is doing.
  auto peer_key = ossl::GenerateP256();
  if (!peer_key.ok()) return 1;
  const std::string peer_input(300, 'x');
  const std::string peer_sig =
      ossl::SignEs256(peer_key->get(), peer_input).value();
  std::vector<Row> rows = {
      {"peer: ECDSA P-256 sign (EVP)",
       [&](int, uint64_t) {
         return ossl::SignEs256(peer_key->get(), peer_input).ok();
       }},
      {"peer: ECDSA P-256 verify (EVP)",
       [&](int, uint64_t) {
         return ossl::VerifyEs256(peer_key->get(), peer_input, peer_sig);
       }},
      {"peer: P-256 key generation",
       [&](int, uint64_t) { return ossl::GenerateP256().ok(); }},
      {"JWT-SVID issue (ES256)",
       [&](int t, uint64_t) {
         return node_ca
             .IssueJWTSVID({kAgent, "t" + std::to_string(t)}, {"bench"},
                           std::chrono::minutes(5))
             .ok();
       }},
      {"JWT-SVID validate",
       [&](int, uint64_t n) {
         return node_ca.ValidateJWTSVID(tokens[n % tokens.size()], "bench")
             .ok();
       }},
      {"X.509-SVID issue (with keygen)",
       [&](int t, uint64_t) {
         return node_ca
             .IssueX509SVID({kAgent, "t" + std::to_string(t)},
                            std::chrono::hours(1))
             .ok();
       }},
      {"X.509-SVID validate",
       [&](int, uint64_t n) {
         return node_ca.ValidateX509SVID(certs[n % certs.size()]).ok();
       }},
  };
  for (const Row& row : rows) {
    double one = Measure(1, seconds, row.op);
    double two = Measure(2, seconds, row.op);
    std::printf("%-34s %14.0f %14.0f %8.2f\n", row.name, one, two, two / one);
    std::fflush(stdout);
  }
  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return 0;
}
