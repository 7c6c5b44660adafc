#include "cli/views.h"

#include <grp.h>

#include <algorithm>
#include <cctype>

#include "cli/format.h"
#include "cli/timeparse.h"

namespace aikernel::cli {

using json = nlohmann::ordered_json;

namespace {
int64_t Ns(Timestamp t) { return t.time_since_epoch().count(); }
std::string Seq(uint64_t s) { return s == 0 ? "-" : "#" + std::to_string(s); }
std::string Short(const std::string& hex) { return hex.size() > 16 ? hex.substr(0, 16) + "…" : hex; }
std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}
// "<gid>(<name>)" when this host's group database knows the gid, else
// "<gid>". A display aid only: the daemon decides on numbers.
std::string GroupName(uint32_t gid) {
  std::vector<char> buf(16384);
  group grp{};
  group* found = nullptr;
  if (getgrgid_r(static_cast<gid_t>(gid), &grp, buf.data(), buf.size(), &found) == 0 &&
      found != nullptr) {
    return std::to_string(gid) + "(" + found->gr_name + ")";
  }
  return std::to_string(gid);
}
std::string GroupList(const std::vector<uint32_t>& gids) {
  std::vector<std::string> names;
  for (uint32_t g : gids) names.push_back(GroupName(g));
  return names.empty() ? "-" : Join(names, ", ");
}
}  // namespace

json WhoamiJson(const WhoamiResult& r) {
  const Principal& p = r.principal;
  json pj = {{"kind", PrincipalKindName(p.kind)},
             {"id", p.id},
             {"uid", p.uid},
             {"gid", p.gid},
             {"pid", p.pid}};
  pj["groups"] = p.groups;
  pj["admin"] = p.admin;
  if (!p.admin_via.empty()) pj["admin_via"] = p.admin_via;
  pj["admin_gid"] = p.admin_gid;
  if (!p.spiffe_id.empty()) pj["spiffe_id"] = p.spiffe_id;
  if (!p.instance_id.empty()) pj["instance_id"] = p.instance_id;
  if (!p.agent_groups.empty()) pj["agent_groups"] = p.agent_groups;
  return {{"principal", pj}, {"node", r.node}, {"audit_sequence", r.audit_sequence}};
}

std::string WhoamiText(const WhoamiResult& r) {
  const Principal& p = r.principal;
  std::vector<std::pair<std::string, std::string>> f = {
      {"principal", p.id},
      {"kind", PrincipalKindName(p.kind)},
      {"uid", std::to_string(p.uid)},
      {"gid", GroupName(p.gid)},
      {"groups", GroupList(p.groups)},
      {"pid", std::to_string(p.pid)},
      {"admin", p.admin ? "yes (" + p.admin_via + ")"
                        : p.admin_gid < 0
                              ? "no (only uid 0 is; daemon.admin_group is not set)"
                              : "no (not uid 0, not in admin group " +
                                    GroupName(static_cast<uint32_t>(p.admin_gid)) + ")"},
  };
  if (!p.spiffe_id.empty()) f.emplace_back("spiffe id", p.spiffe_id);
  if (!p.instance_id.empty()) f.emplace_back("instance", p.instance_id);
  if (!p.agent_groups.empty()) f.emplace_back("agent groups", Join(p.agent_groups, ", "));
  f.emplace_back("node", r.node);
  f.emplace_back("audit record", Seq(r.audit_sequence));
  return RenderFields(f);
}

json StatusJson(const NodeStatus& s) {
  return {
      {"version", s.version},
      {"node", s.node},
      {"started_at", FormatRfc3339(Ns(s.started_at), 9)},
      {"uptime_seconds", static_cast<double>(s.uptime.count()) / 1e9},
      {"socket", s.socket},
      {"state_dir", s.state_dir},
      {"audit_synchronous", s.audit_synchronous},
      {"ledger",
       {{"sequence", s.ledger.sequence},
        {"hash", HexEncode(s.ledger.hash)},
        {"checkpoint_sequence", s.ledger.checkpoint_sequence},
        {"key_id", s.ledger.key_id}}},
      {"calls",
       {{"total", s.calls.total},
        {"denied", s.calls.denied},
        {"failed", s.calls.failed},
        {"connections", s.calls.connections}}},
      {"confinement",
       {{"summary", s.confinement.summary},
        {"mechanisms", s.confinement.mechanisms},
        {"profiles", s.confinement.profiles}}},
      {"agents",
       {{"total", s.agents_total}, {"running", s.agents_running}, {"queued", s.agents_queued}}},
      {"audit_sequence", s.audit_sequence},
  };
}

std::string StatusText(const NodeStatus& s) {
  std::string head = Seq(s.ledger.sequence);
  if (!s.ledger.hash.empty()) head += "  " + Short(HexEncode(s.ledger.hash));
  std::string cp = s.ledger.checkpoint_sequence == 0 ? "none" : Seq(s.ledger.checkpoint_sequence);
  if (!s.ledger.key_id.empty()) cp += "  (key " + s.ledger.key_id + ")";
  return RenderFields({
      {"node", s.node},
      {"version", s.version},
      {"uptime", FormatDurationHuman(s.uptime.count()) + "  (since " +
                     FormatRfc3339(Ns(s.started_at), 0) + ")"},
      {"socket", s.socket},
      {"state dir", s.state_dir},
      {"ledger head", head},
      {"checkpoint", cp},
      {"audit sync", s.audit_synchronous},
      {"calls", std::to_string(s.calls.total) + " total, " + std::to_string(s.calls.denied) +
                    " denied, " + std::to_string(s.calls.failed) + " failed"},
      {"connections", std::to_string(s.calls.connections)},
      {"agents", std::to_string(s.agents_total) + " total, " + std::to_string(s.agents_running) +
                     " running, " + std::to_string(s.agents_queued) + " queued"},
      {"confinement", s.confinement.summary.empty() ? "agents disabled" : s.confinement.summary},
      {"in force", s.confinement.mechanisms.empty() ? "-" : Join(s.confinement.mechanisms, " ")},
      {"profiles", s.confinement.profiles.empty() ? "-" : Join(s.confinement.profiles, "; ")},
      {"audit record", Seq(s.audit_sequence)},
  });
}

json ReloadJson(const ReloadResult& r) {
  return {{"applied", r.applied},
          {"needs_restart", r.needs_restart},
          {"audit_sequence", r.audit_sequence}};
}

std::string ReloadText(const ReloadResult& r) {
  std::string out;
  if (r.applied.empty() && r.needs_restart.empty()) {
    out = "configuration reloaded: nothing changed\n";
  } else {
    out = "configuration reloaded\n";
    std::vector<std::pair<std::string, std::string>> f;
    if (!r.applied.empty()) f.emplace_back("  applied", Join(r.applied, ", "));
    if (!r.needs_restart.empty()) f.emplace_back("  needs restart", Join(r.needs_restart, ", "));
    out += RenderFields(f);
  }
  out += "audit record " + Seq(r.audit_sequence) + "\n";
  return out;
}

json RecordJson(const AuditRecord& r) {
  return {
      {"sequence", r.sequence},
      {"time", FormatRfc3339(Ns(r.time), 9)},
      {"time_ns", Ns(r.time)},
      {"node", r.node},
      {"principal", r.principal},
      {"action", r.action},
      {"resource", r.resource},
      {"request_digest", HexEncode(r.request_digest)},
      {"decision", DecisionName(r.decision)},
      {"rule_ids", r.rule_ids},
      {"code", r.code},
      {"code_name", StatusCodeName(StatusCodeFromInt(r.code))},
      {"latency_ns", r.latency.count()},
      {"prev_hash", HexEncode(r.prev_hash)},
      {"hash", HexEncode(r.hash)},
  };
}

const std::vector<std::string>& RecordHeader() {
  static const std::vector<std::string> h = {"SEQ",      "TIME (UTC)", "PRINCIPAL", "ACTION",
                                             "RESOURCE", "DECISION",   "CODE",      "LATENCY",
                                             "RULES"};
  return h;
}

const std::vector<size_t>& RecordStreamWidths() {
  static const std::vector<size_t> w = {6, 24, 14, 16, 16, 8, 17, 8};
  return w;
}

std::vector<std::string> RecordRow(const AuditRecord& r) {
  return {std::to_string(r.sequence),
          FormatRfc3339(Ns(r.time), 3),
          r.principal,
          r.action,
          r.resource.empty() ? "-" : r.resource,
          DecisionName(r.decision),
          StatusCodeName(StatusCodeFromInt(r.code)),
          FormatDurationHuman(r.latency.count()),
          r.rule_ids.empty() ? "-" : Join(r.rule_ids, ",")};
}

namespace {
// The daemon's messages may already start with the words aictl puts first.
std::string WithoutPrefix(const std::string& msg, std::string_view prefix) {
  if (msg.size() >= prefix.size() &&
      std::equal(prefix.begin(), prefix.end(), msg.begin(),
                 [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
    return msg.substr(prefix.size());
  }
  return msg;
}
}  // namespace

std::string DescribeError(std::string_view command, const Status& s) {
  std::string out = "aictl: " + std::string(command) + ": ";
  switch (s.code()) {
    case StatusCode::kPermissionDenied:
      out += "permission denied: " + WithoutPrefix(s.message(), "permission denied: ");
      break;
    case StatusCode::kUnauthenticated:
      out += "not authenticated: " +
             WithoutPrefix(WithoutPrefix(s.message(), "unauthenticated: "), "not authenticated: ");
      break;
    case StatusCode::kDeadlineExceeded:
      out += s.message() + " (see --timeout)";
      break;
    default:
      out += s.message().empty() ? StatusCodeName(s.code())
                                 : s.message() + " (" + StatusCodeName(s.code()) + ")";
  }
  if (s.audit_sequence() != 0) out += " [audit record #" + std::to_string(s.audit_sequence()) + "]";
  return out;
}

std::string DescribeConnectError(const Status& s) {
  std::string out = "aictl: " + s.message();
  if (s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
      s.code() == StatusCode::kPermissionDenied) {
    out += " (see --socket)";
  }
  return out;
}

int ExitCodeFor(const Status& s) { return ExitCodeForGrpcCode(static_cast<int>(s.code())); }

}  // namespace aikernel::cli
