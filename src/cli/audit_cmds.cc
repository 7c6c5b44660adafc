// aictl audit tail | query | export: reading the ledger through the daemon
// (Admin.QueryAudit), so the daemon's policy decides who may read it.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/interrupt.h"
#include "cli/session.h"
#include "cli/timeparse.h"
#include "cli/views.h"

namespace aikernel::cli {

namespace {

struct FilterArgs {
  std::string principal;
  std::string action;
  std::string decision;  // "", "allow", "deny"
  std::string since;
  std::string until;
  uint32_t limit = 0;
  uint64_t after = 0;
};

void AddMatchOptions(CLI::App* cmd, FilterArgs& f) {
  cmd->add_option("--principal", f.principal,
                  "Only records of this principal, exactly as in the ledger (e.g. operator:0)")
      ->type_name("ID");
  cmd->add_option("--action", f.action, "Only records of this action (e.g. admin.status)")
      ->type_name("NAME");
  cmd->add_option("--decision", f.decision, "Only allowed or only denied calls")
      ->type_name("")
      ->check(CLI::IsMember({"allow", "deny"}));
}

void AddRangeOptions(CLI::App* cmd, FilterArgs& f) {
  cmd->add_option("--since", f.since,
                  "Only records at or after this time: RFC 3339 (2025-01-02T03:04:05Z), a date, "
                  "or relative (10m, 2h, 1d ago)")
      ->type_name("TIME")
      ->check(TimeValidator());
  cmd->add_option("--until", f.until, "Only records before this time (same forms as --since)")
      ->type_name("TIME")
      ->check(TimeValidator());
  cmd->add_option("--limit", f.limit, "At most this many records (0: no limit)")
      ->type_name("N");
  cmd->add_option("--after", f.after, "Only records with a sequence number above this")
      ->type_name("SEQ");
}

// Builds the SDK filter; on a bad range prints why and returns false.
bool BuildFilter(const FilterArgs& a, const char* command, AuditFilter* out) {
  out->principal = a.principal;
  out->action = a.action;
  out->decision = a.decision == "allow"  ? Decision::kAllow
                  : a.decision == "deny" ? Decision::kDeny
                                         : Decision::kUnspecified;
  out->limit = a.limit;
  out->after_sequence = a.after;
  int64_t now = NowNs();
  std::string err;
  auto to_ts = [](int64_t ns) { return Timestamp(std::chrono::nanoseconds(ns)); };
  if (!a.since.empty()) {
    auto t = ParseTimeArg(a.since, now, &err);
    if (!t) {
      std::cerr << "aictl: " << command << ": --since: " << err << "\n";
      return false;
    }
    out->since = to_ts(*t);
  }
  if (!a.until.empty()) {
    auto t = ParseTimeArg(a.until, now, &err);
    if (!t) {
      std::cerr << "aictl: " << command << ": --until: " << err << "\n";
      return false;
    }
    out->until = to_ts(*t);
  }
  if (out->since && out->until && *out->until <= *out->since) {
    std::cerr << "aictl: " << command << ": --until ("
              << FormatRfc3339(out->until->time_since_epoch().count(), 3)
              << ") is not after --since ("
              << FormatRfc3339(out->since->time_since_epoch().count(), 3) << ")\n";
    return false;
  }
  return true;
}

struct TailArgs {
  FilterArgs filter;
  uint32_t lines = 10;
  bool follow = false;
};

int RunTail(const Globals& g, const TailArgs& a) {
  AuditFilter f;
  if (!BuildFilter(a.filter, "audit tail", &f)) return kExitUsage;
  f.last = true;
  f.limit = a.lines;
  f.follow = a.follow;
  std::unique_ptr<InterruptToStop> interrupt;
  if (a.follow) interrupt = std::make_unique<InterruptToStop>();
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  CallOptions call = StreamCallFor(g);
  if (interrupt) call.stop = interrupt->token();
  if (a.lines == 0) {
    if (!a.follow) return kExitOk;  // nothing asked for
    // Only records newer than the current newest match: find it, then follow
    // from there (the daemon wants a limit with `last`).
    AuditFilter newest = f;
    newest.follow = false;
    newest.limit = 1;
    uint64_t head = 0;
    auto h = client->QueryAudit(
        newest, [&](const AuditRecord& rec) { head = rec.sequence; return true; }, call);
    if (!h.ok()) return Report("audit tail", h.status());
    f.last = false;
    f.limit = 0;
    f.after_sequence = head;
  }

  Table table(RecordHeader());
  if (a.follow && !g.json) std::cout << FixedRow(RecordHeader(), RecordStreamWidths()) << std::flush;
  auto r = client->QueryAudit(
      f,
      [&](const AuditRecord& rec) {
        if (g.json) {
          std::cout << DumpJson(RecordJson(rec)) << "\n";
        } else if (a.follow) {
          std::cout << FixedRow(RecordRow(rec), RecordStreamWidths());
        } else {
          table.AddRow(RecordRow(rec));
        }
        if (a.follow) std::cout.flush();
        return static_cast<bool>(std::cout);
      },
      call);
  if (!r.ok()) return Report("audit tail", r.status());
  if (a.follow && !r->cancelled) {
    std::cout.flush();
    std::cerr << "aictl: audit tail: aikerneld ended the stream (is it shutting down?)\n";
    return kExitError;
  }
  if (!g.json && !a.follow) std::cout << table.Render();
  return kExitOk;
}

int RunQuery(const Globals& g, const FilterArgs& a) {
  AuditFilter f;
  if (!BuildFilter(a, "audit query", &f)) return kExitUsage;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  Table table(RecordHeader());
  bool first = true;
  if (g.json) std::cout << "[";
  auto r = client->QueryAudit(
      f,
      [&](const AuditRecord& rec) {
        if (g.json) {
          std::cout << (first ? "\n  " : ",\n  ") << DumpJson(RecordJson(rec));
          first = false;
        } else {
          table.AddRow(RecordRow(rec));
        }
        return static_cast<bool>(std::cout);
      },
      StreamCallFor(g));
  if (g.json) std::cout << (first ? "]\n" : "\n]\n");
  if (!r.ok()) return Report("audit query", r.status());
  if (!g.json) {
    if (table.rows() == 0) {
      std::cerr << "aictl: audit query: no matching records\n";
    } else {
      std::cout << table.Render();
    }
  }
  return kExitOk;
}

struct ExportArgs {
  FilterArgs filter;
  std::string format = "jsonl";
};

int RunExport(const Globals& g, const ExportArgs& a) {
  AuditFilter f;
  if (!BuildFilter(a.filter, "audit export", &f)) return kExitUsage;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  bool write_failed = false;
  auto r = client->QueryAudit(
      f,
      [&](const AuditRecord& rec) {
        std::cout << DumpJson(RecordJson(rec)) << "\n";
        if (!std::cout) write_failed = true;
        return !write_failed;
      },
      StreamCallFor(g));
  if (!r.ok()) return Report("audit export", r.status());
  std::cout.flush();
  if (write_failed || !std::cout) {
    std::cerr << "aictl: audit export: writing to standard output failed after " << r->records
              << " records\n";
    return kExitError;
  }
  return kExitOk;
}

}  // namespace

void AddAuditCommands(CLI::App& audit, Context& ctx) {
  auto tail_args = std::make_shared<TailArgs>();
  CLI::App* tail = audit.add_subcommand(
      "tail", "Show the newest audit records; with -f keep printing new ones as they become "
              "durable (until Ctrl-C). --json prints one JSON object per line");
  tail->add_option("-n,--lines", tail_args->lines, "How many of the newest records")
      ->type_name("N")
      ->capture_default_str();
  tail->add_flag("-f,--follow", tail_args->follow, "Keep streaming new records");
  AddMatchOptions(tail, tail_args->filter);
  tail->footer(kGlobalFooter);
  tail->callback([&ctx, tail_args] { ctx.exit_code = RunTail(ctx.globals, *tail_args); });

  auto query_args = std::make_shared<FilterArgs>();
  CLI::App* query = audit.add_subcommand(
      "query", "List audit records matching a filter, oldest first. --json prints one JSON "
               "array");
  AddMatchOptions(query, *query_args);
  AddRangeOptions(query, *query_args);
  query->footer(kGlobalFooter);
  query->callback([&ctx, query_args] { ctx.exit_code = RunQuery(ctx.globals, *query_args); });

  auto export_args = std::make_shared<ExportArgs>();
  CLI::App* exp = audit.add_subcommand(
      "export", "Write audit records to standard output, one JSON object per line with every "
                "field (hashes and digests in hex), oldest first");
  exp->add_option("--format", export_args->format, "Output format")
      ->type_name("")
      ->check(CLI::IsMember({"jsonl"}))
      ->capture_default_str();
  AddMatchOptions(exp, export_args->filter);
  AddRangeOptions(exp, export_args->filter);
  exp->footer(kGlobalFooter);
  exp->callback([&ctx, export_args] { ctx.exit_code = RunExport(ctx.globals, *export_args); });
}

}  // namespace aikernel::cli
