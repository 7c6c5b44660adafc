// Status, whoami, ping through the SDK and through `aictl --json`; the audit
// commands; every call in the ledger; SIGTERM writes a final checkpoint.
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <map>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using aikernel::Decision;
using nlohmann::json;

struct Expected {
  std::string action;
  std::string principal;
  Decision decision;
  int code;
};

TEST(Basics, SdkAndAictlCallsAreServedAndEachIsAuditedAsItself) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  std::map<uint64_t, Expected> calls;  // audit sequence -> what it must record

  // --- through the SDK
  auto who = c->Whoami();
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->principal.kind, PrincipalKind::kOperator);
  EXPECT_EQ(who->principal.id, "operator:0");
  EXPECT_EQ(who->principal.uid, 0u);
  EXPECT_EQ(who->principal.pid, getpid());
  EXPECT_EQ(who->node, "it-node");
  ASSERT_NE(who->audit_sequence, 0u);
  calls[who->audit_sequence] = {"kernel.whoami", "operator:0", Decision::kAllow, 0};

  auto st = c->Status();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_FALSE(st->version.empty());
  EXPECT_EQ(st->node, "it-node");
  EXPECT_EQ(st->socket, d.socket());
  EXPECT_EQ(st->state_dir, d.state_dir());
  EXPECT_EQ(st->audit_synchronous, "full");
  // The head is the newest durable record before this call's own.
  EXPECT_EQ(st->ledger.sequence, who->audit_sequence);
  EXPECT_EQ(st->ledger.hash.size(), 32u);
  EXPECT_FALSE(st->ledger.key_id.empty());
  EXPECT_GE(st->calls.total, 2u);
  EXPECT_GE(st->calls.connections, 1u);
  EXPECT_GT(st->audit_sequence, who->audit_sequence);
  calls[st->audit_sequence] = {"admin.status", "operator:0", Decision::kAllow, 0};

  auto ping = c->Ping("hello from the sdk");
  ASSERT_TRUE(ping.ok()) << ping.status().ToString();
  EXPECT_EQ(ping->payload, "hello from the sdk");
  EXPECT_GT(ping->audit_sequence, st->audit_sequence);
  calls[ping->audit_sequence] = {"admin.ping", "operator:0", Decision::kAllow, 0};

  // --- through aictl --json
  CmdResult r = AictlJson(d, {"status"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json js = ParseJson(r.out);
  EXPECT_EQ(js["node"], "it-node");
  EXPECT_EQ(js["socket"], d.socket());
  EXPECT_EQ(js["ledger"]["sequence"].get<uint64_t>(), ping->audit_sequence);
  EXPECT_EQ(js["audit_synchronous"], "full");
  calls[js["audit_sequence"].get<uint64_t>()] = {"admin.status", "operator:0", Decision::kAllow, 0};

  r = AictlJson(d, {"whoami"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json jw = ParseJson(r.out);
  EXPECT_EQ(jw["principal"]["id"], "operator:0");
  EXPECT_EQ(jw["principal"]["kind"], "operator");
  EXPECT_EQ(jw["principal"]["uid"], 0);
  EXPECT_NE(jw["principal"]["pid"].get<int>(), getpid());  // aictl's own pid, not ours
  EXPECT_EQ(jw["node"], "it-node");
  calls[jw["audit_sequence"].get<uint64_t>()] = {"kernel.whoami", "operator:0", Decision::kAllow, 0};

  r = AictlJson(d, {"ping", "cli-payload", "-c", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json jp = ParseJson(r.out);
  ASSERT_EQ(jp["count"], 3);
  ASSERT_EQ(jp["replies"].size(), 3u);
  for (const auto& reply : jp["replies"]) {
    EXPECT_EQ(reply["bytes"], 11);
    calls[reply["audit_sequence"].get<uint64_t>()] = {"admin.ping", "operator:0",
                                                      Decision::kAllow, 0};
  }
  ASSERT_EQ(calls.size(), 8u) << "every reply must carry its own audit sequence";
  // Record 1 is the kernel's own: the policy set loaded at start-up.
  calls[1] = {"policy.load", "kernel", Decision::kAllow, 0};

  // --- every call is in the ledger as itself, and nothing else is.
  std::vector<AuditRecord> all = Query(*c);
  ASSERT_EQ(all.size(), calls.size());
  std::string prev_hash(32, '\0');
  for (size_t i = 0; i < all.size(); ++i) {
    const AuditRecord& rec = all[i];
    EXPECT_EQ(rec.sequence, i + 1);
    ASSERT_TRUE(calls.count(rec.sequence)) << "unexpected record " << rec.sequence;
    const Expected& e = calls[rec.sequence];
    EXPECT_EQ(rec.action, e.action) << "record " << rec.sequence;
    EXPECT_EQ(rec.principal, e.principal) << "record " << rec.sequence;
    EXPECT_EQ(rec.decision, e.decision) << "record " << rec.sequence;
    EXPECT_EQ(rec.code, e.code) << "record " << rec.sequence;
    EXPECT_EQ(rec.node, "it-node");
    if (rec.action != "policy.load") {
      EXPECT_EQ(rec.resource, rec.action == "audit.query" ? "ledger:audit" : "node:it-node");
    }
    EXPECT_EQ(rec.prev_hash, prev_hash) << "record " << rec.sequence;
    EXPECT_EQ(rec.hash.size(), 32u);
    EXPECT_EQ(rec.request_digest.size(), 32u);
    prev_hash = rec.hash;
  }
  uint64_t n = all.size();  // 9 records; the SDK query above made record 10.

  // --- aictl audit query filters
  r = AictlJson(d, {"audit", "query", "--action", "admin.ping"});  // record 11
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json q = ParseJson(r.out);
  ASSERT_TRUE(q.is_array()) << r.out;
  EXPECT_EQ(q.size(), 4u) << r.out;  // one SDK ping, three from aictl
  for (const auto& rec : q) EXPECT_EQ(rec["action"], "admin.ping");

  r = AictlJson(d, {"audit", "query", "--decision", "deny"});  // record 12
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out).size(), 0u) << r.out;

  r = AictlJson(d, {"audit", "query", "--principal", "operator:0", "--action", "kernel.whoami",
                    "--decision", "allow"});  // record 13
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out).size(), 2u) << r.out;

  r = AictlJson(d, {"audit", "query", "--principal", "user:12345"});  // record 14
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out).size(), 0u) << r.out;

  r = AictlJson(d, {"audit", "query", "--after", "3", "--limit", "2"});  // record 15
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json lim = ParseJson(r.out);
  ASSERT_EQ(lim.size(), 2u) << r.out;
  EXPECT_EQ(lim[0]["sequence"], 4);
  EXPECT_EQ(lim[1]["sequence"], 5);

  // --since / --until at record 4's exact time (calls were sequential, so
  // times increase with sequence).
  r = AictlJson(d, {"audit", "query", "--decision", "maybe"});  // usage error: no call
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  std::string t4 = lim[0]["time"].get<std::string>();  // RFC 3339, ns precision
  r = AictlJson(d, {"audit", "query", "--since", t4, "--until", "2200-01-01T00:00:00Z",
                    "--action", "admin.ping"});  // record 16
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json since = ParseJson(r.out);
  for (const auto& rec : since) EXPECT_GE(rec["sequence"].get<uint64_t>(), 4u) << r.out;
  EXPECT_EQ(since.size(), 4u) << "pings at or after record 4 (" << t4 << "): " << r.out;
  r = AictlJson(d, {"audit", "query", "--until", t4});  // record 17
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out).size(), 3u) << "records before record 4: " << r.out;

  // --- aictl audit tail: the newest records, oldest first, one JSON per line.
  r = AictlJson(d, {"audit", "tail", "-n", "3"});  // record 18
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto tail = ParseJsonLines(r.out);
  ASSERT_EQ(tail.size(), 3u) << r.out;
  EXPECT_EQ(tail[0]["sequence"], 15);
  EXPECT_EQ(tail[1]["sequence"], 16);
  EXPECT_EQ(tail[2]["sequence"], 17);
  for (const auto& rec : tail) EXPECT_EQ(rec["action"], "audit.query");

  r = AictlJson(d, {"audit", "tail", "-n", "5", "--action", "admin.ping"});  // record 19
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJsonLines(r.out).size(), 4u) << r.out;

  // --- aictl audit export --format jsonl: every record, every field, chained.
  r = RunAictl({"--socket", d.socket(), "audit", "export", "--format", "jsonl"});  // record 20
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  auto exported = ParseJsonLines(r.out);
  ASSERT_EQ(exported.size(), 19u) << r.out;
  std::string prev = std::string(64, '0');
  for (size_t i = 0; i < exported.size(); ++i) {
    const json& e = exported[i];
    EXPECT_EQ(e["sequence"], i + 1);
    EXPECT_EQ(e["prev_hash"], prev) << "record " << i + 1;
    prev = e["hash"].get<std::string>();
    for (const char* field : {"time", "time_ns", "node", "principal", "action", "resource",
                              "request_digest", "decision", "rule_ids", "code", "latency_ns"}) {
      EXPECT_TRUE(e.contains(field)) << field << " missing in " << e.dump();
    }
  }
  for (uint64_t s = 1; s <= n; ++s) {
    EXPECT_EQ(exported[s - 1]["action"], calls[s].action);
  }
  for (uint64_t s = n + 1; s <= 19; ++s) {
    EXPECT_EQ(exported[s - 1]["action"], "audit.query") << "record " << s;
    EXPECT_EQ(exported[s - 1]["principal"], "operator:0");
  }
  // The usage error above reached no daemon and wrote no record: 19 records
  // plus the export's own.
  auto st2 = c->Status();
  ASSERT_TRUE(st2.ok()) << st2.status().ToString();
  EXPECT_EQ(st2->ledger.sequence, 20u);

  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
  r = RunAictl({"audit", "verify", "--db", d.audit_db(), "--pubkey", d.pubkey()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.Describe();
}

uint64_t SqliteScalar(const std::string& db, const char* sql) {
  sqlite3* h = nullptr;
  uint64_t v = 0;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      v = static_cast<uint64_t>(sqlite3_column_int64(st, 0));
    } else {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(h);
    }
    sqlite3_finalize(st);
  } else {
    ADD_FAILURE() << "open " << db << ": " << sqlite3_errmsg(h);
  }
  sqlite3_close(h);
  return v;
}

TEST(Basics, SigtermExitsZeroAfterAFinalCheckpoint) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  // No periodic checkpoint can happen during the test: only the final one.
  d.WriteConfig(DaemonConfig::With(
      "", "checkpoint_every_records = 100000000\ncheckpoint_every_ms = 86400000\n"));
  ASSERT_TRUE(d.Start());
  {
    auto c = ConnectTo(d);
    ASSERT_NE(c, nullptr);
    for (int i = 0; i < 5; ++i) {
      auto p = c->Ping("p" + std::to_string(i));
      ASSERT_TRUE(p.ok()) << p.status().ToString();
    }
    auto st = c->Status();
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->ledger.sequence, 6u);  // the start-up policy load, then 5 pings
    EXPECT_EQ(st->ledger.checkpoint_sequence, 0u) << "a periodic checkpoint was not expected";
  }
  d.DrainNotifications();
  d.Signal(SIGTERM);
  EXPECT_TRUE(d.WaitForNotification("STOPPING=1"));
  EXPECT_EQ(d.WaitForExit(), 0) << d.Log();
  EXPECT_EQ(SqliteScalar(d.audit_db(), "SELECT max(seq) FROM records"), 7u);
  EXPECT_EQ(SqliteScalar(d.audit_db(), "SELECT max(seq) FROM checkpoints"), 7u)
      << "the final checkpoint must cover the last record";
  EXPECT_FALSE(std::filesystem::exists(d.socket())) << "socket left behind after a clean stop";

  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  auto st = c->Status();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  // The restart's own policy load (record 8) comes after the final
  // checkpoint; the status call sees it as the head.
  EXPECT_EQ(st->ledger.sequence, 8u);
  EXPECT_EQ(st->ledger.checkpoint_sequence, 7u);
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Basics, SecondSigtermDuringTheDrainStillExitsZeroWithTheFinalCheckpoint) {
  // systemd sends one SIGTERM, but an operator's second Ctrl-C or `kill`
  // while the daemon drains must not cut the drain short and lose the final
  // checkpoint. An idle connection that never finishes the HTTP/2 handshake
  // currently holds the drain open for drain_timeout_ms, which gives the
  // second signal a window to land in.
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(DaemonConfig::With(
      "drain_timeout_ms = 3000\n",
      "checkpoint_every_records = 100000000\ncheckpoint_every_ms = 86400000\n"));
  ASSERT_TRUE(d.Start());
  {
    auto c = ConnectTo(d);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->Ping("one").ok());
  }
  int idle = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", d.socket().c_str());
  ASSERT_EQ(connect(idle, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // The daemon has accepted it once a Status counts two connections.
  {
    auto c = ConnectTo(d);
    ASSERT_NE(c, nullptr);
    auto st = c->Status();
    ASSERT_TRUE(st.ok());
    EXPECT_GE(st->calls.connections, 2u);
  }
  d.DrainNotifications();
  d.Signal(SIGTERM);
  ASSERT_TRUE(d.WaitForNotification("STOPPING=1"));
  d.Signal(SIGTERM);
  int code = d.WaitForExit();
  close(idle);
  EXPECT_EQ(code, 0) << "a second SIGTERM during the drain killed the daemon (status " << code
                     << ")\n--- daemon log ---\n" << d.Log();
  EXPECT_EQ(SqliteScalar(d.audit_db(), "SELECT max(seq) FROM checkpoints"),
            SqliteScalar(d.audit_db(), "SELECT max(seq) FROM records"))
      << "no final checkpoint";
}

TEST(Basics, SigtermWithAnIdleClientConnectedStopsWithoutWaitingOutTheDrainTimeout) {
  // The drain is for in-flight calls. A connected client with no call in
  // flight (an agent holding its SDK connection) must not hold the stop for
  // the whole daemon.drain_timeout_ms.
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(DaemonConfig::With("drain_timeout_ms = 8000\n"));
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->Ping("idle after this").ok());
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 4000) << "SIGTERM to exit took " << ms
                      << " ms with one idle SDK connection and no call in flight";
}

TEST(Basics, AuditQuerySinceAFarFutureTimeMatchesNothing) {
  // Times past 2262 do not fit int64 nanoseconds; aictl must reject them or
  // clamp them, never wrap them into the past (which turns "since the year
  // 2999" into "everything").
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());
  CmdResult r = AictlJson(d, {"ping"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = AictlJson(d, {"audit", "query", "--since", "2999-01-01T00:00:00Z"});
  if (r.exit_code == 0) {
    EXPECT_EQ(ParseJson(r.out).size(), 0u) << "--since 2999 matched records:\n" << r.Describe();
  } else {
    EXPECT_EQ(r.exit_code, 2) << r.Describe();
    EXPECT_NE(r.err.find("--since"), std::string::npos) << r.Describe();
  }
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

}  // namespace
}  // namespace aikernel::testing
