// audit::Verify: offline verification of a ledger file.
//
// Reads the file directly (read-only; the daemon may be running or not) and
// checks, in sequence order: sequence numbers start at 1 with no gaps; each
// record's prev_hash equals the previous record's hash; each record's hash
// equals SHA-256 of its canonical encoding; each checkpoint's signature
// verifies with the node public key and its head hash equals the hash of the
// record at its sequence; no checkpoint names a sequence beyond the last
// record (a truncated tail); each time mark (schema 3) bounds the times of
// its records, so time queries miss none. Records after the last checkpoint
// are covered by the chain only: a truncation there cannot be detected
// offline.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace aikernel::audit {

struct VerifyOptions {
  std::string db_path;
  // Ed25519 public key (PEM) that signs checkpoints. Empty: use the key
  // recorded in the ledger's meta table, and say so in the report (a key in
  // the same file proves consistency, not origin).
  std::string public_key_pem;
};

struct VerifyReport {
  bool ok = false;
  uint64_t records = 0;       // records checked
  uint64_t checkpoints = 0;   // checkpoints whose signature verified
  uint64_t head_sequence = 0;
  std::string head_hash_hex;
  uint64_t first_bad_sequence = 0;  // 0 if ok or the fault has no sequence
  std::string error;                // what is wrong, naming the sequence
  bool key_from_ledger = false;     // true if no external key was given
};

// Returns an error Status only if the file cannot be read at all; a ledger
// that fails verification is a VerifyReport with ok == false.
StatusOr<VerifyReport> Verify(const VerifyOptions& options);

}  // namespace aikernel::audit
