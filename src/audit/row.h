// Internal to the audit part: the ledger's SQLite schema, the mapping between
// a records row and audit::Record, and the hashing helpers shared by the
// ledger, the reader and verify. Not a public header. Pure functions;
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "audit/record.h"
#include "common/status.h"
#include "store/database.h"

namespace aikernel::audit::internal {

// meta keys and the format this build writes.
inline constexpr char kFormat[] = "aikernel.audit.v1";
inline constexpr char kMetaFormat[] = "format";
inline constexpr char kMetaPublicKey[] = "public_key_pem";
inline constexpr char kMetaKeyId[] = "key_id";

// Schema migrations (PRAGMA user_version 0 -> 1 -> ...).
const store::Migrations& Schema();

// Column list matching ReadRecordRow, for "SELECT <cols> FROM records".
inline constexpr char kRecordColumns[] =
    "seq, time_ns, node, principal, action, resource, request_digest, "
    "decision, rule_ids, code, latency_ns, prev_hash, hash";

// Decodes the current row of `st` (selected with kRecordColumns) into `out`,
// reusing its storage. DATA_LOSS naming the sequence if a column is malformed.
Status ReadRecordRow(const store::Statement& st, Record* out);

// rule_ids column: a JSON array of strings, e.g. ["p1","p2"]; [] if none.
std::string EncodeRuleIds(const std::vector<std::string>& ids);
// The same into `out` (replaced), reusing its storage.
void EncodeRuleIds(const std::vector<std::string>& ids, std::string* out);
bool DecodeRuleIds(std::string_view json, std::vector<std::string>* out);

// Canonical encoding into `out` (cleared first), SHA-256, and both.
void AppendCanonical(const Record& r, std::string* out);
Hash Sha256(std::string_view data);
Hash HashRecord(const Record& r, std::string* scratch);

bool CopyHash(std::string_view blob, Hash* out);  // false unless 32 bytes

}  // namespace aikernel::audit::internal
