// kernel::ExplainRecord: why audit record N was decided as it was, for
// Policy.ExplainDecision (aictl policy explain N).
//
// It reads record N and sorts its rule_ids (Kernel::Dispatch step 6 defines
// them): the determining policy ids (or "default-deny"), the policies that
// errored ("error:<id>"), and notes (quota refusals, approval outcomes,
// authentication, correlation ids). The policy set that decided is the one named by a
// "policyset:<hex16>" entry if there is one, otherwise the one the last
// policy.load record before N installed. When that set is `current` (same
// digest), the determining and errored policies' source text and file:line
// come from it; when not, only the ids are known (set_changed).
//
// NOT_FOUND if there is no record N. Thread-compatible (one Reader per call).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/reader.h"
#include "audit/record.h"
#include "common/status.h"
#include "policy/store.h"

namespace aikernel::kernel {

struct ExplainedPolicy {
  std::string id;
  std::string role;  // "determining" | "errored"
  std::string file;  // as loaded: the path under policy.dir, or "<builtin>"
  int line = 0;
  std::string text;
};

struct Explanation {
  audit::Record record;
  // "policy", "quota" (refused at admission, policy not evaluated),
  // "authentication", or "kernel" (a record the kernel wrote on its own
  // behalf, such as a policy load: not a call).
  std::string decided_by;
  std::vector<std::string> determining;  // policy ids, or "default-deny"
  std::vector<std::string> errored;      // policy ids skipped after an error
  std::vector<std::string> notes;        // the other rule_ids, as recorded
  std::string set_digest;                // hex SHA-256; "" if unknown
  uint64_t set_load_sequence = 0;        // its policy.load record; 0 if none
  std::string current_digest;            // the set in force now
  bool set_changed = false;              // set_digest known and != current
  std::vector<ExplainedPolicy> policies;  // only when the set is current
};

StatusOr<Explanation> ExplainRecord(audit::Reader& reader, uint64_t sequence,
                                    const policy::PolicyStore* current);

}  // namespace aikernel::kernel
