// aictl policy reload | check | eval, and aictl approvals ls | approve | deny.
// `check` and `eval` are offline: they run the daemon's own Cedar engine
// (aik_policy) on files, without a daemon.
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/session.h"
#include "cli/timeparse.h"
#include "cli/views.h"
#include "kernel/syscalls.h"
#include "policy/store.h"

namespace aikernel::cli {
namespace {

std::optional<std::string> ReadText(const std::string& path, std::string* err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *err = path + ": cannot read";
    return std::nullopt;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::vector<std::string> KnownActions() {
  size_t n = 0;
  const kernel::SyscallInfo* all = kernel::AllSyscalls(&n);
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(all[i].action);
  return out;
}

int RunPolicyReload(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->ReloadPolicy();
  if (!r.ok()) return Report("policy reload", r.status());
  if (g.json) {
    std::cout << DumpJson({{"digest", r->digest},
                           {"policies", r->policies},
                           {"files", r->files},
                           {"changed", r->changed},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::string files;
    for (const auto& f : r->files) files += (files.empty() ? "" : ", ") + f;
    std::cout << RenderFields({{"policies", std::to_string(r->policies)},
                               {"files", files.empty() ? "(none: only builtin policies)" : files},
                               {"digest", "sha256:" + r->digest},
                               {"changed", r->changed ? "yes" : "no (same set)"},
                               {"audit", "#" + std::to_string(r->audit_sequence)}});
  }
  return kExitOk;
}

struct CheckArgs {
  std::vector<std::string> files;
  std::string schema;
};

int RunPolicyCheck(const Globals& g, const CheckArgs& a) {
  policy::PolicySet set;
  std::vector<std::string> read;
  nlohmann::ordered_json errors = nlohmann::ordered_json::array();
  int rc = kExitOk;
  for (const std::string& f : a.files) {
    policy::PolicySet one;
    absl::Status s = policy::AddPolicyPath(f, &one, &read);
    if (s.ok()) s = policy::AddPolicyPath(f, &set, nullptr);
    if (!s.ok()) {
      errors.push_back(std::string(s.message()));
      if (!g.json) std::cerr << "error: " << s.message() << "\n";
      rc = kExitError;
    }
  }
  if (!a.schema.empty()) {
    std::string err;
    auto text = ReadText(a.schema, &err);
    absl::Status s = text ? policy::ParseSchema(*text, a.schema).status()
                    : absl::NotFoundError(err);
    if (!s.ok()) {
      errors.push_back(std::string(s.message()));
      if (!g.json) std::cerr << "error: " << s.message() << "\n";
      rc = kExitError;
    }
  }
  std::vector<std::string> lint = policy::LintPolicies(set, KnownActions());
  if (g.json) {
    std::cout << DumpJson({{"ok", rc == kExitOk},
                           {"files", read},
                           {"policies", set.size()},
                           {"errors", errors},
                           {"warnings", lint}},
                          2)
              << "\n";
  } else {
    for (const auto& w : lint) std::cerr << "warning: " << w << "\n";
    if (rc == kExitOk) {
      std::cout << set.size() << " policies in " << read.size() << " files: ok"
                << (lint.empty() ? "" : " (" + std::to_string(lint.size()) + " warnings)") << "\n";
    }
  }
  return rc;
}

struct EvalArgs {
  std::vector<std::string> policies;
  std::string entities, request, schema;
};

int EvalError(const std::string& what) {
  std::cerr << "aictl: policy eval: " << what << "\n";
  return kExitError;
}

int RunPolicyEval(const Globals& g, const EvalArgs& a) {
  policy::PolicySet set;
  for (const auto& p : a.policies) {
    if (absl::Status s = policy::AddPolicyPath(p, &set, nullptr); !s.ok()) {
      return EvalError(std::string(s.message()));
    }
  }
  std::string err;
  std::optional<policy::Schema> schema;
  if (!a.schema.empty()) {
    auto text = ReadText(a.schema, &err);
    if (!text) return EvalError(err);
    auto s = policy::ParseSchema(*text, a.schema);
    if (!s.ok()) return EvalError(std::string(s.status().message()));
    schema = *std::move(s);
  }
  const policy::Schema* sp = schema ? &*schema : nullptr;
  policy::Entities entities;
  if (!a.entities.empty()) {
    auto text = ReadText(a.entities, &err);
    if (!text) return EvalError(err);
    auto e = policy::EntitiesFromJsonText(*text, sp);
    if (!e.ok()) return EvalError(a.entities + ": " + std::string(e.status().message()));
    entities = *std::move(e);
  }
  entities.Finalize();
  auto rtext = ReadText(a.request, &err);
  if (!rtext) return EvalError(err);
  auto rj = policy::ParseJsonText(*rtext);
  if (!rj.ok()) return EvalError(a.request + ": " + std::string(rj.status().message()));
  if (!rj->is_object()) return EvalError(a.request + ": expected a JSON object");
  policy::Request req;
  for (const char* k : {"principal", "action", "resource"}) {
    if (!rj->contains(k)) return EvalError(a.request + ": missing \"" + k + "\"");
    auto uid = policy::UidFromJson((*rj)[k]);
    if (!uid.ok()) {
      return EvalError(a.request + ": " + k + ": " + std::string(uid.status().message()));
    }
    (std::string(k) == "principal" ? req.principal
     : std::string(k) == "action"  ? req.action
                                   : req.resource) = *uid;
  }
  if (rj->contains("context")) {
    auto ctx = policy::ContextFromJson((*rj)["context"], sp, &req.action);
    if (!ctx.ok()) return EvalError(a.request + ": context: " + std::string(ctx.status().message()));
    req.context = *ctx;
  }
  policy::Response r = policy::Authorize(set, req, entities);
  const bool allow = r.decision == policy::Decision::kAllow;
  if (g.json) {
    nlohmann::ordered_json errors = nlohmann::ordered_json::array();
    for (const auto& e : r.errors) errors.push_back(e.policy_id);
    std::cout << DumpJson({{"decision", allow ? "allow" : "deny"},
                           {"reason", r.reasons},
                           {"errors", errors}},
                          -1)
              << "\n";
  } else {
    std::string reasons;
    for (const auto& id : r.reasons) reasons += (reasons.empty() ? "" : ", ") + id;
    std::cout << "decision: " << (allow ? "allow" : "deny") << "\n"
              << "reason:   " << (reasons.empty() ? "(none: default deny)" : reasons) << "\n";
    for (const auto& e : r.errors) std::cout << "error:    " << e.policy_id << ": " << e.message << "\n";
  }
  return kExitOk;
}

int RunApprovalsLs(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->ListApprovals();
  if (!r.ok()) return Report("approvals ls", r.status());
  const int64_t now = NowNs();
  if (g.json) {
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (const auto& a : r->approvals) {
      arr.push_back({{"id", a.id},
                     {"principal", a.principal},
                     {"action", a.action},
                     {"resource", a.resource},
                     {"reason", a.reason},
                     {"rule_ids", a.rule_ids},
                     {"requested_at", FormatRfc3339(a.requested_at.time_since_epoch().count(), 3)},
                     {"deadline", FormatRfc3339(a.deadline.time_since_epoch().count(), 3)}});
    }
    std::cout << DumpJson({{"approvals", arr}}, 2) << "\n";
    return kExitOk;
  }
  if (r->approvals.empty()) {
    std::cout << "no calls are waiting for approval\n";
    return kExitOk;
  }
  Table t({"ID", "WAITING", "EXPIRES IN", "PRINCIPAL", "ACTION", "RESOURCE", "REASON"});
  for (const auto& a : r->approvals) {
    t.AddRow({std::to_string(a.id),
              FormatDurationHuman(now - a.requested_at.time_since_epoch().count()),
              FormatDurationHuman(std::max<int64_t>(0, a.deadline.time_since_epoch().count() - now)),
              a.principal, a.action, a.resource, a.reason});
  }
  std::cout << t.Render();
  return kExitOk;
}

struct DecideArgs {
  uint64_t id = 0;
  std::string reason;
};

int RunDecide(const Globals& g, const DecideArgs& a, bool approve) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  const char* cmd = approve ? "approvals approve" : "approvals deny";
  auto r = client->DecideApproval(a.id, approve, a.reason);
  if (!r.ok()) return Report(cmd, r.status());
  if (g.json) {
    std::cout << DumpJson({{"id", a.id}, {"approved", approve}, {"audit_sequence", *r}}, 2) << "\n";
  } else {
    std::cout << "approval " << a.id << (approve ? " approved" : " denied") << " (audit record #"
              << *r << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddPolicyCommands(CLI::App& app, Context& ctx) {
  CLI::App* pol = app.add_subcommand(
      "policy", "The Cedar policy set: reload it in the daemon, check files and decide requests "
                "offline");
  pol->require_subcommand(1);
  pol->footer(kGlobalFooter);

  CLI::App* reload = pol->add_subcommand(
      "reload", "Make the daemon re-read its policy store (policy.dir); a set with any error is "
                "refused naming file:line:col and the running set stays (Policy.ReloadPolicy)");
  reload->footer(kGlobalFooter);
  reload->callback([&ctx] { ctx.exit_code = RunPolicyReload(ctx.globals); });

  auto check = std::make_shared<CheckArgs>();
  CLI::App* c = pol->add_subcommand(
      "check", "Parse and lint policy files offline (no daemon): syntax errors with "
               "file:line:col, duplicate ids, unknown actions, @approval on a forbid, "
               "permit-everything policies. Exit 1 on any error; warnings do not fail");
  c->add_option("files", check->files, "Policy files or directories of *.cedar")
      ->required()
      ->type_name("FILE");
  c->add_option("--schema", check->schema, "Also parse this Cedar schema")->type_name("FILE");
  c->footer(kGlobalFooter);
  c->callback([&ctx, check] { ctx.exit_code = RunPolicyCheck(ctx.globals, *check); });

  auto eval = std::make_shared<EvalArgs>();
  CLI::App* e = pol->add_subcommand(
      "eval", "Decide one request offline with aikerneld's Cedar engine and print decision, "
              "reasons and errors (--json: {\"decision\",\"reason\",\"errors\"})");
  e->add_option("--policies", eval->policies, "Policy file or directory (repeatable)")
      ->required()
      ->type_name("PATH");
  e->add_option("--entities", eval->entities, "Cedar entities JSON")->type_name("FILE");
  e->add_option("--request", eval->request,
                "JSON {\"principal\",\"action\",\"resource\" (each {\"type\",\"id\"}), "
                "\"context\"}")
      ->required()
      ->type_name("FILE");
  e->add_option("--schema", eval->schema, "Cedar schema to read entities and context with")
      ->type_name("FILE");
  e->footer(kGlobalFooter);
  e->callback([&ctx, eval] { ctx.exit_code = RunPolicyEval(ctx.globals, *eval); });
  AddPolicyExplainCommand(*pol, ctx);

  CLI::App* ap = app.add_subcommand(
      "approvals", "Calls an @approval policy parked for an operator: list, approve, deny");
  ap->require_subcommand(1);
  ap->footer(kGlobalFooter);
  CLI::App* ls = ap->add_subcommand("ls", "List waiting calls (Policy.ListApprovals)");
  ls->footer(kGlobalFooter);
  ls->callback([&ctx] { ctx.exit_code = RunApprovalsLs(ctx.globals); });
  auto approve = std::make_shared<DecideArgs>();
  CLI::App* ok = ap->add_subcommand("approve", "Let a waiting call run (Policy.DecideApproval)");
  ok->add_option("id", approve->id, "Approval id (aictl approvals ls)")->required();
  ok->add_option("--reason", approve->reason, "Why (recorded)");
  ok->footer(kGlobalFooter);
  ok->callback([&ctx, approve] { ctx.exit_code = RunDecide(ctx.globals, *approve, true); });
  auto deny = std::make_shared<DecideArgs>();
  CLI::App* no = ap->add_subcommand("deny", "Refuse a waiting call (Policy.DecideApproval)");
  no->add_option("id", deny->id, "Approval id (aictl approvals ls)")->required();
  no->add_option("--reason", deny->reason, "Why (shown to the caller and recorded)");
  no->footer(kGlobalFooter);
  no->callback([&ctx, deny] { ctx.exit_code = RunDecide(ctx.globals, *deny, false); });
}

}  // namespace aikernel::cli
