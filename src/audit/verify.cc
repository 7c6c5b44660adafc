// Verify splits [1, last] into one contiguous range per core. Each range is
// scanned on its own read-only connection: sequence continuity, each
// record's hash, the prev_hash link inside the range, and the checkpoints
// that fall in it. The links between ranges are compared afterwards. The
// first fault (lowest sequence) wins.
#include "audit/verify.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "audit/row.h"
#include "audit/time_marks.h"
#include "identity/node_key.h"
#include "store/database.h"

namespace aikernel::audit {

namespace {

struct StoredCheckpoint {
  uint64_t sequence = 0;
  Hash head{};
  bool head_ok = false;  // head_hash is 32 bytes
  std::string key_id;
  std::string signature;
};

struct Fault {
  uint64_t sequence = 0;  // 0: none
  std::string error;
  int rank = 0;  // at equal sequence, a record fault (0) before a checkpoint's
  bool operator<(const Fault& o) const {
    return sequence != o.sequence ? sequence < o.sequence : rank < o.rank;
  }
};

struct RangeResult {
  Fault fault;
  uint64_t records = 0;
  uint64_t checkpoints = 0;
  Hash first_prev{};  // prev_hash of the first record of the range
  Hash last_hash{};   // hash of the last record scanned
  bool any = false;
};

// Ed25519 verification with the key parsed once; one per thread.
class SignatureChecker {
 public:
  explicit SignatureChecker(EVP_PKEY* key) : key_(key) {}
  bool Check(const std::string& message, const std::string& sig) const {
    if (sig.size() != 64) return false;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    bool ok =
        ctx != nullptr &&
        EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key_) == 1 &&
        EVP_DigestVerify(
            ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
            reinterpret_cast<const unsigned char*>(message.data()),
            message.size()) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok) ERR_clear_error();
    return ok;
  }

 private:
  EVP_PKEY* key_;
};

StatusOr<std::unique_ptr<store::Database>> OpenReadOnly(
    const std::string& path) {
  store::DatabaseOptions o;
  o.path = path;
  o.read_only = true;
  o.mmap_size = int64_t{1} << 32;
  o.cache_size = -65536;  // 64 MiB
  return store::Database::Open(o);
}

Fault CheckCheckpoint(const StoredCheckpoint& cp, const Hash& actual,
                      const std::string& key_id,
                      const SignatureChecker& checker) {
  Fault f;
  auto fail = [&](std::string what) {
    f.sequence = cp.sequence;
    f.rank = 1;
    f.error = absl::StrCat("checkpoint at sequence ", cp.sequence, ": ", what);
    return f;
  };
  if (!cp.head_ok) return fail("malformed head_hash");
  if (cp.head != actual) {
    return fail(absl::StrCat("head hash ", ToHex(cp.head),
                             " differs from the record's hash ",
                             ToHex(actual)));
  }
  if (cp.key_id != key_id) {
    return fail(absl::StrCat("signed by key ", cp.key_id,
                             " but verifying with key ", key_id));
  }
  if (!checker.Check(CheckpointMessage(cp.sequence, cp.head), cp.signature)) {
    return fail("signature does not verify with key " + key_id);
  }
  return f;
}

RangeResult ScanRange(const std::string& path, uint64_t lo, uint64_t hi,
                      const std::vector<StoredCheckpoint>& cps,
                      const std::string& key_id, EVP_PKEY* key) {
  RangeResult out;
  auto fail = [&](uint64_t seq, std::string error) {
    out.fault.sequence = seq;
    out.fault.error = std::move(error);
    return out;
  };
  StatusOr<std::unique_ptr<store::Database>> db = OpenReadOnly(path);
  if (!db.ok()) return fail(lo, std::string(db.status().message()));
  StatusOr<store::Statement> st = (*db)->Prepare(
      absl::StrCat("SELECT ", internal::kRecordColumns,
                   " FROM records WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq"));
  if (!st.ok()) return fail(lo, std::string(st.status().message()));
  st->BindInt64(1, static_cast<int64_t>(lo)).IgnoreError();
  st->BindInt64(2, static_cast<int64_t>(hi)).IgnoreError();

  SignatureChecker checker(key);
  auto cp_it = std::lower_bound(
      cps.begin(), cps.end(), lo,
      [](const StoredCheckpoint& c, uint64_t s) { return c.sequence < s; });
  Record r;
  std::string scratch;
  uint64_t expected = lo;
  Hash prev{};
  for (;;) {
    StatusOr<bool> row = st->Step();
    if (!row.ok()) {
      return fail(expected, absl::StrCat("cannot read record ", expected, ": ",
                                         row.status().message()));
    }
    if (!*row) break;
    Status s = internal::ReadRecordRow(*st, &r);
    uint64_t seq = r.sequence;
    if (seq != expected) {
      return fail(expected,
                  absl::StrCat("record ", expected,
                               " is missing (the next record is ", seq, ")"));
    }
    if (!s.ok()) return fail(seq, std::string(s.message()));
    ++out.records;
    Hash h = internal::HashRecord(r, &scratch);
    if (h != r.hash) {
      return fail(seq,
                  absl::StrCat("record ", seq,
                               ": content does not match its hash "
                               "(stored ",
                               ToHex(r.hash), ", computed ", ToHex(h), ")"));
    }
    if (seq == lo) {
      out.first_prev = r.prev_hash;
    } else if (r.prev_hash != prev) {
      return fail(seq, absl::StrCat("record ", seq,
                                    ": prev_hash does not equal the hash of "
                                    "record ",
                                    seq - 1));
    }
    prev = h;
    out.any = true;
    out.last_hash = h;
    while (cp_it != cps.end() && cp_it->sequence == seq) {
      Fault f = CheckCheckpoint(*cp_it, h, key_id, checker);
      if (f.sequence != 0) {
        out.fault = std::move(f);
        return out;
      }
      ++out.checkpoints;
      ++cp_it;
    }
    ++expected;
  }
  if (expected <= hi) {
    return fail(expected, absl::StrCat("record ", expected, " is missing"));
  }
  return out;
}

}  // namespace

StatusOr<VerifyReport> Verify(const VerifyOptions& options) {
  VerifyReport report;
  AIK_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db,
                       OpenReadOnly(options.db_path));
  AIK_ASSIGN_OR_RETURN(int64_t version, db->UserVersion());
  if (version == 0) {
    return absl::FailedPreconditionError(options.db_path +
                                         " is not an audit ledger");
  }

  // One snapshot for the head and the checkpoints (the ledger may be live).
  AIK_RETURN_IF_ERROR(db->Exec("BEGIN"));
  std::string pem;
  {
    AIK_ASSIGN_OR_RETURN(store::Statement st,
                         db->Prepare("SELECT value FROM meta WHERE key = ?1"));
    AIK_RETURN_IF_ERROR(st.BindText(1, internal::kMetaPublicKey));
    AIK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) pem = std::string(st.ColumnText(0));
  }
  uint64_t min_seq = 0, max_seq = 0;
  {
    AIK_ASSIGN_OR_RETURN(store::Statement st,
                         db->Prepare("SELECT min(seq), max(seq) FROM records"));
    AIK_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row && !st.ColumnIsNull(0)) {
      int64_t mn = st.ColumnInt64(0), mx = st.ColumnInt64(1);
      if (mn < 1) {
        report.error = absl::StrCat("a record has the invalid sequence ", mn);
        return report;
      }
      min_seq = static_cast<uint64_t>(mn);
      max_seq = static_cast<uint64_t>(mx);
    }
  }
  std::vector<StoredCheckpoint> cps;
  {
    AIK_ASSIGN_OR_RETURN(
        store::Statement st,
        db->Prepare("SELECT seq, head_hash, key_id, signature FROM checkpoints "
                    "ORDER BY seq"));
    for (;;) {
      AIK_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      StoredCheckpoint c;
      c.sequence = static_cast<uint64_t>(st.ColumnInt64(0));
      c.head_ok = internal::CopyHash(st.ColumnBlob(1), &c.head);
      c.key_id = std::string(st.ColumnText(2));
      c.signature = std::string(st.ColumnBlob(3));
      cps.push_back(std::move(c));
    }
  }
  db->Exec("COMMIT").IgnoreError();

  // The verifying key.
  if (options.public_key_pem.empty()) {
    report.key_from_ledger = true;
    if (pem.empty()) {
      report.error = "the ledger records no public key and none was given";
      return report;
    }
  } else {
    pem = options.public_key_pem;
  }
  StatusOr<std::string> key_id = identity::KeyIdOfPem(pem);
  if (!key_id.ok()) {
    report.error =
        absl::StrCat("unusable public key: ", key_id.status().message());
    return report;
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key_owner(key, EVP_PKEY_free);
  if (key == nullptr) {
    report.error = "unusable public key";
    return report;
  }

  std::vector<Fault> faults;
  if (max_seq > 0 && min_seq > 1) {
    faults.push_back(
        {1, absl::StrCat("records 1..", min_seq - 1, " are missing"), 0});
  }
  // Checkpoints naming records that are not there: a truncated tail.
  for (const auto& c : cps) {
    if (c.sequence > max_seq || c.sequence < 1) {
      faults.push_back({max_seq + 1,
                        absl::StrCat("checkpoint at sequence ", c.sequence,
                                     " names a record beyond the last record (",
                                     max_seq, "): records ", max_seq + 1, "..",
                                     c.sequence, " were removed"),
                        2});
      break;
    }
  }

  // Parallel scan.
  uint64_t threads = std::max(1u, std::thread::hardware_concurrency());
  threads = std::min<uint64_t>(threads, std::max<uint64_t>(1, max_seq / 20000));
  std::vector<RangeResult> results(threads);
  std::vector<std::pair<uint64_t, uint64_t>> ranges(threads);
  if (max_seq > 0) {
    const uint64_t per = (max_seq + threads - 1) / threads;
    std::vector<std::thread> pool;
    for (uint64_t i = 0; i < threads; ++i) {
      uint64_t lo = 1 + i * per, hi = std::min(max_seq, (i + 1) * per);
      ranges[i] = {lo, hi};
      if (lo > hi) continue;
      auto work = [&, i, lo, hi] {
        results[i] = ScanRange(options.db_path, lo, hi, cps, *key_id, key);
      };
      if (i + 1 == threads) {
        work();
      } else {
        pool.emplace_back(work);
      }
    }
    for (auto& t : pool) t.join();
  }

  const Hash zero{};
  for (uint64_t i = 0; i < threads; ++i) {
    const RangeResult& r = results[i];
    report.records += r.records;
    report.checkpoints += r.checkpoints;
    if (r.fault.sequence != 0) faults.push_back(r.fault);
    if (!r.any) continue;
    const uint64_t lo = ranges[i].first;
    const Hash& expected_prev = i == 0 ? zero : results[i - 1].last_hash;
    const bool prev_complete =
        i == 0 || (results[i - 1].fault.sequence == 0 && results[i - 1].any);
    if (prev_complete && r.first_prev != expected_prev) {
      faults.push_back(
          {lo,
           lo == 1 ? std::string("record 1: prev_hash is not all zeros")
                   : absl::StrCat("record ", lo,
                                  ": prev_hash does not equal the hash of "
                                  "record ",
                                  lo - 1),
           0});
    }
  }

  // The time marks (schema 3) are not covered by the chain, but a mark
  // that does not bound its records would hide them from time queries.
  if (version >= 3 && max_seq > 0) {
    AIK_RETURN_IF_ERROR(db->Exec("BEGIN"));
    StatusOr<std::optional<internal::BadTimeMark>> bad =
        internal::FindBadTimeMark(*db, max_seq);
    db->Exec("COMMIT").IgnoreError();
    if (!bad.ok()) return bad.status();
    if (*bad) {
      faults.push_back(
          {(*bad)->first_seq,
           absl::StrCat("time mark at sequence ", (*bad)->last_seq,
                        " does not bound the times of records ",
                        (*bad)->first_seq, "..", (*bad)->last_seq,
                        ": time queries could miss them"),
           3});
    }
  }

  report.head_sequence = max_seq;
  if (max_seq > 0 && results.back().any) {
    report.head_hash_hex = ToHex(results.back().last_hash);
  }
  if (!faults.empty()) {
    const Fault& first = *std::min_element(faults.begin(), faults.end());
    report.first_bad_sequence = first.sequence;
    report.error = first.error;
    return report;
  }
  report.ok = true;
  return report;
}

}  // namespace aikernel::audit
