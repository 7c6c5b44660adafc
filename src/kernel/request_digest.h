// kernel::RequestDigester: the request digest written to the audit ledger.
//
// digest = SHA-256( full message type name || 0x00 || deterministic protobuf
// serialization of the request with every string/bytes field whose name is
// in the redaction set replaced by "[redacted]" ), recursively through
// nested and repeated messages. Redacting before hashing keeps a
// low-entropy secret from being recovered from its digest by guessing.
// Thread-safe; the redaction set can be replaced at any time (SIGHUP).
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "audit/record.h"

namespace google::protobuf {
class Descriptor;
class Message;
}

namespace aikernel::kernel {

class RequestDigester {
 public:
  void SetRedactedFields(const std::vector<std::string>& names);
  audit::Hash Digest(const google::protobuf::Message& request) const;
  // The redaction set in force (tool arguments are redacted by the same names).
  std::vector<std::string> Fields() const {
    auto n = names();
    return {n->begin(), n->end()};
  }

 private:
  using NameSet = std::set<std::string, std::less<>>;
  std::shared_ptr<const NameSet> names() const;
  // Whether any field reachable from `d` may be redacted under the current
  // set (cached per message type: the walk is the same for every request of
  // that type); `*names` is that set.
  bool MayRedact(const google::protobuf::Descriptor* d,
                 std::shared_ptr<const NameSet>* names) const;

  mutable std::mutex mu_;
  std::shared_ptr<const NameSet> names_ = std::make_shared<NameSet>();
  // guarded by mu_; cleared when the set changes
  mutable std::unordered_map<const google::protobuf::Descriptor*, bool> may_redact_;
};

}  // namespace aikernel::kernel
