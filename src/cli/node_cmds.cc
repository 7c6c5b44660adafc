// aictl status | whoami | ping | reload: one call each to the daemon.
#include <algorithm>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/session.h"
#include "cli/views.h"

namespace aikernel::cli {

namespace {

int RunWhoami(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->Whoami();
  if (!r.ok()) return Report("whoami", r.status());
  std::cout << (g.json ? DumpJson(WhoamiJson(*r), 2) + "\n" : WhoamiText(*r));
  return kExitOk;
}

int RunStatus(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->Status();
  if (!r.ok()) return Report("status", r.status());
  std::cout << (g.json ? DumpJson(StatusJson(*r), 2) + "\n" : StatusText(*r));
  return kExitOk;
}

int RunReload(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->Reload();
  if (!r.ok()) return Report("reload", r.status());
  std::cout << (g.json ? DumpJson(ReloadJson(*r), 2) + "\n" : ReloadText(*r));
  return kExitOk;
}

struct PingArgs {
  std::string payload = "aictl";
  unsigned count = 1;
};

int RunPing(const Globals& g, const PingArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  nlohmann::ordered_json replies = nlohmann::ordered_json::array();
  int64_t min_ns = INT64_MAX, max_ns = 0, sum_ns = 0;
  for (unsigned i = 0; i < a.count; ++i) {
    auto r = client->Ping(a.payload);
    if (!r.ok()) return Report("ping", r.status());
    if (r->payload != a.payload) {
      std::cerr << "aictl: ping: the reply's payload differs from the request's ("
                << r->payload.size() << " bytes back, " << a.payload.size() << " sent)\n";
      return kExitError;
    }
    int64_t ns = r->round_trip.count();
    min_ns = std::min(min_ns, ns);
    max_ns = std::max(max_ns, ns);
    sum_ns += ns;
    if (g.json) {
      replies.push_back({{"bytes", r->payload.size()},
                         {"round_trip_ns", ns},
                         {"audit_sequence", r->audit_sequence}});
    } else {
      std::cout << r->payload.size() << " bytes from " << client->endpoint().ToString()
                << ": audit record #" << r->audit_sequence
                << " time=" << FormatDurationHuman(ns) << "\n";
    }
  }
  int64_t avg_ns = sum_ns / static_cast<int64_t>(a.count);
  if (g.json) {
    std::cout << DumpJson({{"endpoint", client->endpoint().ToString()},
                           {"count", a.count},
                           {"replies", replies},
                           {"min_ns", min_ns},
                           {"avg_ns", avg_ns},
                           {"max_ns", max_ns}},
                          2)
              << "\n";
  } else if (a.count > 1) {
    std::cout << a.count << " replies, round trip min/avg/max = " << FormatDurationHuman(min_ns)
              << "/" << FormatDurationHuman(avg_ns) << "/" << FormatDurationHuman(max_ns) << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddNodeCommands(CLI::App& app, Context& ctx) {
  CLI::App* status = app.add_subcommand(
      "status", "Show the daemon's version, uptime, node, ledger head and call counters "
                "(Admin.Status; operators only)");
  status->footer(kGlobalFooter);
  status->callback([&ctx] { ctx.exit_code = RunStatus(ctx.globals); });

  CLI::App* whoami = app.add_subcommand(
      "whoami", "Show who the daemon thinks you are: the principal bound to this connection "
                "(Kernel.Whoami; allowed for everyone)");
  whoami->footer(kGlobalFooter);
  whoami->callback([&ctx] { ctx.exit_code = RunWhoami(ctx.globals); });

  auto ping_args = std::make_shared<PingArgs>();
  CLI::App* ping = app.add_subcommand(
      "ping", "Send a governed no-op through the daemon's full path (authenticate, authorize, "
              "audit) and print the round trip (Admin.Ping; operators only)");
  ping->add_option("payload", ping_args->payload, "Bytes to echo (at most 4096)")
      ->type_name("TEXT")
      ->capture_default_str();
  ping->add_option("-c,--count", ping_args->count, "Number of pings")
      ->type_name("N")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  ping->footer(kGlobalFooter);
  ping->callback([&ctx, ping_args] { ctx.exit_code = RunPing(ctx.globals, *ping_args); });

  CLI::App* reload = app.add_subcommand(
      "reload", "Make the daemon re-read its configuration (as SIGHUP does) and show what took "
                "effect and what needs a restart (Admin.Reload; operators only)");
  reload->footer(kGlobalFooter);
  reload->callback([&ctx] { ctx.exit_code = RunReload(ctx.globals); });
}

}  // namespace aikernel::cli
