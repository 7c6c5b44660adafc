// bench_net's raw baseline (raw_mtls.cc): `calls` unary calls from `threads`
// client threads to a bare Peer service over mutual TLS on loopback, node
// certificates made under `dir`. Returns calls/s; sets p50/p99 in µs.
#pragma once

#include <string>

namespace aikernel::bench {

double RawUnaryOverMtls(int calls, int threads, const std::string& dir, double* p50,
                        double* p99);

}  // namespace aikernel::bench
