// audit::Record: one entry of the audit ledger, and its canonical encoding.
//
// The canonical encoding is the byte string a record's hash is computed over;
// docs/ledger-format.md specifies it so a third party can verify a ledger
// without this code. Pure functions; thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace aikernel::audit {

using Hash = std::array<uint8_t, 32>;

enum class Decision : uint8_t { kAllow = 1, kDeny = 2 };

struct Record {
  uint64_t sequence = 0;  // assigned by the ledger on append; starts at 1
  int64_t time_ns = 0;    // receipt time, ns since the Unix epoch
  std::string node;
  std::string principal;  // canonical principal string, e.g. "operator:0"
  std::string action;     // syscall name, e.g. "admin.status"
  std::string resource;
  Hash request_digest{};  // SHA-256 of the redacted request
  Decision decision = Decision::kDeny;
  std::vector<std::string> rule_ids;
  int32_t code = 0;        // gRPC status code of the outcome
  int64_t latency_ns = 0;  // receipt to end of execution
  Hash prev_hash{};        // assigned by the ledger on append
  Hash hash{};             // assigned by the ledger on append
};

// The bytes `hash` is computed over: every field but `hash`, in a fixed
// order and length-prefixed form (docs/ledger-format.md).
std::string CanonicalEncoding(const Record& r);

// SHA-256 over the canonical encoding.
Hash ComputeHash(const Record& r);
// SHA-256 of `data` with a per-thread digest context (no per-call OpenSSL
// context allocation or algorithm fetch, which the one-shot SHA256() does).
Hash Sha256Of(std::string_view data);

// The bytes a checkpoint signature covers: domain tag, sequence, head hash.
std::string CheckpointMessage(uint64_t sequence, const Hash& head);

std::string ToHex(const uint8_t* data, size_t n);
inline std::string ToHex(const Hash& h) { return ToHex(h.data(), h.size()); }
const char* DecisionName(Decision d);  // "allow" / "deny"

}  // namespace aikernel::audit
