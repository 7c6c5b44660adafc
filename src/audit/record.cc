#include "audit/record.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <cstring>

#include "audit/row.h"
#include "common/text.h"

namespace aikernel::audit {

namespace {

constexpr char kRecordTag[] = "aikernel.audit.record.v1";
constexpr char kCheckpointTag[] = "aikernel.audit.checkpoint.v1";

void PutU32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
               static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}
void PutU64(std::string* out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (56 - 8 * i));
  out->append(b, 8);
}
void PutStr(std::string* out, const std::string& s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}
void PutHash(std::string* out, const Hash& h) {
  out->append(reinterpret_cast<const char*>(h.data()), h.size());
}

// SHA-256 with a prefetched algorithm and a per-thread context: OpenSSL 3's
// implicit fetch in EVP_Digest/SHA256() costs more than hashing a record.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

struct CtxHolder {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~CtxHolder() { EVP_MD_CTX_free(ctx); }
};

}  // namespace

namespace internal {

void AppendCanonical(const Record& r, std::string* out) {
  out->clear();
  out->append(kRecordTag, sizeof(kRecordTag) - 1);
  PutU64(out, r.sequence);
  PutU64(out, static_cast<uint64_t>(r.time_ns));
  PutStr(out, r.node);
  PutStr(out, r.principal);
  PutStr(out, r.action);
  PutStr(out, r.resource);
  PutHash(out, r.request_digest);
  out->push_back(static_cast<char>(r.decision));
  PutU32(out, static_cast<uint32_t>(r.rule_ids.size()));
  for (const auto& id : r.rule_ids) PutStr(out, id);
  PutU32(out, static_cast<uint32_t>(r.code));
  PutU64(out, static_cast<uint64_t>(r.latency_ns));
  PutHash(out, r.prev_hash);
}

Hash Sha256(std::string_view data) {
  thread_local CtxHolder holder;
  Hash h{};
  unsigned int len = 0;
  if (holder.ctx == nullptr || Sha256Md() == nullptr ||
      EVP_DigestInit_ex2(holder.ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(holder.ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(holder.ctx, h.data(), &len) != 1 || len != 32) {
    // Only if OpenSSL is broken (no SHA-256 provider): an impossible state.
    std::abort();
  }
  return h;
}

Hash HashRecord(const Record& r, std::string* scratch) {
  AppendCanonical(r, scratch);
  return Sha256(*scratch);
}

}  // namespace internal

std::string CanonicalEncoding(const Record& r) {
  std::string out;
  internal::AppendCanonical(r, &out);
  return out;
}

Hash ComputeHash(const Record& r) {
  thread_local std::string scratch;
  return internal::HashRecord(r, &scratch);
}

Hash Sha256Of(std::string_view data) { return internal::Sha256(data); }

std::string CheckpointMessage(uint64_t sequence, const Hash& head) {
  std::string out(kCheckpointTag, sizeof(kCheckpointTag) - 1);
  PutU64(&out, sequence);
  PutHash(&out, head);
  return out;
}

std::string ToHex(const uint8_t* data, size_t n) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(data), n));
}

const char* DecisionName(Decision d) {
  switch (d) {
    case Decision::kAllow:
      return "allow";
    case Decision::kDeny:
      return "deny";
  }
  return "unknown";
}

}  // namespace aikernel::audit
