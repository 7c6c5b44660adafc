// The library peer of bench_identity_daemon: the node CA in this process.
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "identity/ca.h"
#include "identity/ops.h"

namespace aikernel::bench {

using namespace std::chrono_literals;

Figures LibraryFigures(const std::string& dir, double seconds) {
  auto die = [](const std::string& what) {
    std::fprintf(stderr, "bench_identity_daemon: %s\n", what.c_str());
    std::exit(1);
  };
  identity::NodeCA::Options o;
  o.keys_dir = dir + "/lib-keys";
  o.trust_domain = "bench";
  auto ca = identity::NodeCA::Open(o);
  if (!ca.ok()) die("library CA: " + ca.status().ToString());
  const identity::Subject subject{"spiffe://bench/agent/idbench", "i-1"};
  auto tok = (*ca)->IssueJWTSVID(subject, {"bench"}, 5min);
  if (!tok.ok()) die("library JWT: " + tok.status().ToString());
  return Run(seconds, [&](int i, int, uint64_t) -> std::string {
    absl::Status s = i == 0   ? (*ca)->IssueJWTSVID(subject, {"bench"}, 5min).status()
                     : i == 1 ? (*ca)->ValidateJWTSVID(tok->token, "bench").status()
                              : (*ca)->IssueX509SVID(subject, 1h).status();
    return s.ok() ? "" : s.ToString();
  });
}

}  // namespace aikernel::bench
