// aictl policy explain SEQ: why audited call SEQ was decided as it was
// (Policy.ExplainDecision): the record's principal, action, resource and
// decision, what decided it, the determining and errored policy ids, the
// policy set in force then and, if it is still in force, the policies' text.
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/session.h"
#include "cli/views.h"

namespace aikernel::cli {
namespace {

std::string Join(const std::vector<std::string>& v, const std::string& none) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? none : out;
}

nlohmann::ordered_json ExplainJson(const DecisionExplanation& e) {
  nlohmann::ordered_json policies = nlohmann::ordered_json::array();
  for (const auto& p : e.policies) {
    policies.push_back(
        {{"id", p.id}, {"role", p.role}, {"file", p.file}, {"line", p.line}, {"text", p.text}});
  }
  return {{"record", RecordJson(e.record)},
          {"decided_by", e.decided_by},
          {"determining_policies", e.determining_policies},
          {"errored_policies", e.errored_policies},
          {"notes", e.notes},
          {"policy_set_digest", e.policy_set_digest},
          {"policy_load_sequence", e.policy_load_sequence},
          {"current_policy_set_digest", e.current_policy_set_digest},
          {"policy_set_changed", e.policy_set_changed},
          {"policies", policies},
          {"audit_sequence", e.audit_sequence}};
}

std::string SetText(const DecisionExplanation& e) {
  if (e.decided_by != "policy") return "-";
  if (e.policy_set_digest.empty()) {
    return "unknown: no policy load recorded before this record";
  }
  std::string s = "sha256:" + e.policy_set_digest + " (loaded at #" +
                  std::to_string(e.policy_load_sequence) + ")";
  return s + (e.policy_set_changed ? "; the set has changed since (now sha256:" +
                                         e.current_policy_set_digest.substr(0, 16) +
                                         "...), so its text is not shown"
                                   : "; still in force");
}

std::string ExplainText(const DecisionExplanation& e) {
  const AuditRecord& r = e.record;
  std::string decided = e.decided_by;
  if (decided == "quota") decided = "a hard quota, before policy (not evaluated)";
  if (decided == "kernel") decided = "the kernel (its own record, not a call)";
  std::string out = RenderFields({
      {"record", "#" + std::to_string(r.sequence)},
      {"principal", r.principal},
      {"action", r.action},
      {"resource", r.resource.empty() ? "-" : r.resource},
      {"decision", std::string(DecisionName(r.decision)) + " (code " + std::to_string(r.code) + ")"},
      {"decided by", decided},
      {"determining", Join(e.determining_policies, "-")},
      {"errored", Join(e.errored_policies, "-")},
      {"notes", Join(e.notes, "-")},
      {"policy set", SetText(e)},
  });
  for (const auto& p : e.policies) {
    out += "\n" + p.role + " policy " + p.id + " (" + p.file + ":" + std::to_string(p.line) +
           "):\n" + p.text + "\n";
  }
  return out;
}

int RunExplain(const Globals& g, uint64_t seq) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->ExplainDecision(seq);
  if (!r.ok()) return Report("policy explain", r.status());
  if (g.json) {
    std::cout << DumpJson(ExplainJson(*r), 2) << "\n";
  } else {
    std::cout << ExplainText(*r);
  }
  return kExitOk;
}

}  // namespace

void AddPolicyExplainCommand(CLI::App& policy, Context& ctx) {
  auto seq = std::make_shared<uint64_t>(0);
  CLI::App* x = policy.add_subcommand(
      "explain", "Why audited call SEQ was decided as it was: what decided it, the determining "
                 "policies, the policy set in force then and, if it still is, the policies' "
                 "text (Policy.ExplainDecision)");
  x->add_option("seq", *seq, "Audit record sequence (aictl audit query shows them)")
      ->required()
      ->check(CLI::PositiveNumber);
  x->footer(kGlobalFooter);
  x->callback([&ctx, seq] { ctx.exit_code = RunExplain(ctx.globals, *seq); });
}

}  // namespace aikernel::cli
