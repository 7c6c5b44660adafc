#include "audit/row.h"

#include <cstring>

#include "audit/time_marks.h"
#include "common/text.h"

namespace aikernel::audit::internal {

// Indexes: each was measured on append (bench_ledger, "index cost" and
// "--only one" under callgrind). An index on principal inserts at scattered
// positions (instance ids make it high-cardinality) and cut durable appends
// about 3x (≈80k/s → ≈250k/s without it), so principal filters scan (by
// seq, newest first for `last`). Version 1 also had records_action: every
// commit of a lone record (the common case: one kernel call, one commit)
// wrote its b-tree page to the WAL too, about 11k instructions (a WAL frame
// checksum, a 4 KiB write, the b-tree descent) of about 56k per append, so
// version 2 drops it and action filters scan like principal filters.
// Version 3 drops records_time, the last per-commit index page (about 18%
// of a governed call's daemon time went to the append, half of its WAL
// frames to that page): time ranges are narrowed to sequence ranges by the
// sparse time_marks table (time_marks.h), written once per checkpoint.
const store::Migrations& Schema() {
  static const store::Migrations* kSchema = new store::Migrations{
      // Version 1.
      R"sql(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE records(
  seq            INTEGER PRIMARY KEY,
  time_ns        INTEGER NOT NULL,
  node           TEXT NOT NULL,
  principal      TEXT NOT NULL,
  action         TEXT NOT NULL,
  resource       TEXT NOT NULL,
  request_digest BLOB NOT NULL,
  decision       INTEGER NOT NULL,
  rule_ids       TEXT NOT NULL,
  code           INTEGER NOT NULL,
  latency_ns     INTEGER NOT NULL,
  prev_hash      BLOB NOT NULL,
  hash           BLOB NOT NULL
);
CREATE TABLE checkpoints(
  seq       INTEGER PRIMARY KEY,
  head_hash BLOB NOT NULL,
  time_ns   INTEGER NOT NULL,
  key_id    TEXT NOT NULL,
  signature BLOB NOT NULL
);
CREATE INDEX records_action ON records(action);
CREATE INDEX records_time ON records(time_ns);
CREATE TRIGGER records_no_update BEFORE UPDATE ON records
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER records_no_delete BEFORE DELETE ON records
  BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
INSERT INTO meta(key, value) VALUES ('format', 'aikernel.audit.v1');
)sql",
      // Version 2: records_action is gone (see above). The encoding and the
      // format are unchanged.
      R"sql(
DROP INDEX IF EXISTS records_action;
)sql",
      // Version 3: time_marks replaces records_time (see time_marks.h).
      kTimeMarksMigration,
  };
  return *kSchema;
}

bool CopyHash(std::string_view blob, Hash* out) {
  if (blob.size() != out->size()) return false;
  std::memcpy(out->data(), blob.data(), out->size());
  return true;
}

std::string EncodeRuleIds(const std::vector<std::string>& ids) {
  std::string out;
  EncodeRuleIds(ids, &out);
  return out;
}

void EncodeRuleIds(const std::vector<std::string>& ids, std::string* out_ptr) {
  static const char* kHex = "0123456789abcdef";
  std::string& out = *out_ptr;
  out.assign(1, '[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (unsigned char c : ids[i]) {
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c < 0x20) {
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
    out.push_back('"');
  }
  out.push_back(']');
}

namespace {

bool ParseHex4(std::string_view s, size_t i, uint32_t* v) {
  if (i + 4 > s.size()) return false;
  *v = 0;
  for (size_t k = i; k < i + 4; ++k) {
    int h = HexDigitValue(s[k]);
    if (h < 0) return false;
    *v = (*v << 4) | static_cast<uint32_t>(h);
  }
  return true;
}

void SkipSpace(std::string_view s, size_t* i) {
  while (*i < s.size() &&
         (s[*i] == ' ' || s[*i] == '\n' || s[*i] == '\t' || s[*i] == '\r')) {
    ++*i;
  }
}

}  // namespace

bool DecodeRuleIds(std::string_view s, std::vector<std::string>* out) {
  size_t n = 0;  // entries filled (reusing out's strings)
  size_t i = 0;
  SkipSpace(s, &i);
  if (i >= s.size() || s[i++] != '[') return false;
  SkipSpace(s, &i);
  if (i < s.size() && s[i] == ']') {
    ++i;
  } else {
    for (;;) {
      SkipSpace(s, &i);
      if (i >= s.size() || s[i++] != '"') return false;
      if (out->size() <= n) out->emplace_back();
      std::string& cur = (*out)[n++];
      cur.clear();
      for (;;) {
        if (i >= s.size()) return false;
        char c = s[i++];
        if (c == '"') break;
        if (c != '\\') {
          cur.push_back(c);
          continue;
        }
        if (i >= s.size()) return false;
        char e = s[i++];
        switch (e) {
          case '"':
            cur.push_back('"');
            break;
          case '\\':
            cur.push_back('\\');
            break;
          case '/':
            cur.push_back('/');
            break;
          case 'b':
            cur.push_back('\b');
            break;
          case 'f':
            cur.push_back('\f');
            break;
          case 'n':
            cur.push_back('\n');
            break;
          case 'r':
            cur.push_back('\r');
            break;
          case 't':
            cur.push_back('\t');
            break;
          case 'u': {
            uint32_t cp;
            if (!ParseHex4(s, i, &cp)) return false;
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() &&
                s[i] == '\\' && s[i + 1] == 'u') {
              uint32_t lo;
              if (ParseHex4(s, i + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
              }
            }
            AppendUtf8(cp, &cur);
            break;
          }
          default:
            return false;
        }
      }
      SkipSpace(s, &i);
      if (i >= s.size()) return false;
      char c = s[i++];
      if (c == ']') break;
      if (c != ',') return false;
    }
  }
  SkipSpace(s, &i);
  if (i != s.size()) return false;
  out->resize(n);
  return true;
}

Status ReadRecordRow(const store::Statement& st, Record* out) {
  out->sequence = static_cast<uint64_t>(st.ColumnInt64(0));
  out->time_ns = st.ColumnInt64(1);
  out->node.assign(st.ColumnText(2));
  out->principal.assign(st.ColumnText(3));
  out->action.assign(st.ColumnText(4));
  out->resource.assign(st.ColumnText(5));
  auto bad = [&](const char* what) {
    return absl::DataLossError(
        absl::StrCat("record ", st.ColumnInt64(0), ": malformed ", what));
  };
  if (!CopyHash(st.ColumnBlob(6), &out->request_digest)) {
    return bad("request_digest (not 32 bytes)");
  }
  int64_t decision = st.ColumnInt64(7);
  if (decision < 0 || decision > 255) return bad("decision");
  out->decision = static_cast<Decision>(decision);
  if (!DecodeRuleIds(st.ColumnText(8), &out->rule_ids)) {
    return bad("rule_ids (not a JSON array of strings)");
  }
  int64_t code = st.ColumnInt64(9);
  if (code < INT32_MIN || code > INT32_MAX) return bad("code");
  out->code = static_cast<int32_t>(code);
  out->latency_ns = st.ColumnInt64(10);
  if (!CopyHash(st.ColumnBlob(11), &out->prev_hash)) {
    return bad("prev_hash (not 32 bytes)");
  }
  if (!CopyHash(st.ColumnBlob(12), &out->hash)) {
    return bad("hash (not 32 bytes)");
  }
  return absl::OkStatus();
}

}  // namespace aikernel::audit::internal
