#include "kernel/explain.h"

#include "kernel/kernel.h"

namespace aikernel::kernel {
namespace {

constexpr std::string_view kLoadResourcePrefix = "policyset:sha256:";

// The newest record before `before` matching `f` whose check passes.
StatusOr<std::optional<audit::Record>> NewestBefore(
    audit::Reader& reader, audit::Filter f, uint64_t before,
    const std::function<bool(const audit::Record&)>& check) {
  f.before_sequence = before;
  std::optional<audit::Record> found;
  // Oldest first: the last match seen is the newest.
  AIK_RETURN_IF_ERROR(reader
                          .Query(f,
                                 [&](const audit::Record& r) {
                                   if (check(r)) found = r;
                                   return true;
                                 })
                          .status());
  return found;
}

void Classify(Explanation* e) {
  std::string tag;
  for (const std::string& id : e->record.rule_ids) {
    if (id.starts_with("error:")) {
      e->errored.push_back(id.substr(6));
    } else if (id.starts_with(kPolicySetTag)) {
      tag = id.substr(std::string_view(kPolicySetTag).size());
    } else if (id == "authn" || id.starts_with("quota:") || id.starts_with("approval:") ||
               id.starts_with("awaiting:") || id.starts_with("corr:")) {
      e->notes.push_back(id);
    } else {
      e->determining.push_back(id);
    }
  }
  if (e->record.principal == "kernel") {
    e->decided_by = "kernel";
  } else if (e->record.rule_ids == std::vector<std::string>{"authn"}) {
    e->decided_by = "authentication";
  } else if (!e->record.rule_ids.empty() && e->record.rule_ids[0].starts_with("quota:")) {
    e->decided_by = "quota";
  } else {
    e->decided_by = "policy";
  }
  e->set_digest = tag;  // a prefix until resolved
}

}  // namespace

StatusOr<Explanation> ExplainRecord(audit::Reader& reader, uint64_t sequence,
                                    const policy::PolicyStore* current) {
  if (sequence == 0) return absl::InvalidArgumentError("sequence: must be 1 or more");
  Explanation e;
  bool found = false;
  audit::Filter one;
  one.after_sequence = sequence - 1;
  one.limit = 1;
  AIK_RETURN_IF_ERROR(reader
                          .Query(one,
                                 [&](const audit::Record& r) {
                                   found = r.sequence == sequence;
                                   if (found) e.record = r;
                                   return false;
                                 })
                          .status());
  if (!found) return absl::NotFoundError(absl::StrCat("no audit record #", sequence));
  Classify(&e);
  if (current != nullptr) e.current_digest = current->digest;
  if (e.decided_by != "policy") {
    e.set_digest.clear();
    return e;
  }

  // The set that decided: the tagged one, else the last one loaded before.
  const std::string prefix = e.set_digest;
  audit::Filter loads;
  loads.action = "policy.load";
  loads.decision = audit::Decision::kAllow;
  AIK_ASSIGN_OR_RETURN(
      std::optional<audit::Record> load,
      NewestBefore(reader, loads, sequence, [&](const audit::Record& r) {
        return r.resource.starts_with(kLoadResourcePrefix) &&
               std::string_view(r.resource).substr(kLoadResourcePrefix.size()).starts_with(prefix);
      }));
  e.set_digest.clear();
  if (load) {
    e.set_digest = load->resource.substr(kLoadResourcePrefix.size());
    e.set_load_sequence = load->sequence;
  }
  if (e.set_digest.empty() || current == nullptr) return e;
  e.set_changed = e.set_digest != current->digest;
  if (e.set_changed) return e;
  auto add = [&](const std::string& id, const char* role) {
    const policy::Policy* p = current->policies->Find(id);
    if (p == nullptr) return;
    e.policies.push_back({id, role, p->file, p->loc.line, policy::PolicySource(*current, *p)});
  };
  for (const std::string& id : e.determining) add(id, "determining");
  for (const std::string& id : e.errored) add(id, "errored");
  return e;
}

}  // namespace aikernel::kernel
