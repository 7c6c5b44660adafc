#include "cli/views.h"

#include <gtest/gtest.h>

namespace aikernel::cli {
namespace {

using namespace std::chrono_literals;

AuditRecord Sample() {
  AuditRecord r;
  r.sequence = 7;
  r.time = Timestamp(std::chrono::seconds(1'700'000'000) + 123'456'789ns);
  r.node = "node-a";
  r.principal = "user:1000";
  r.action = "admin.status";
  r.resource = "node:node-a";
  r.request_digest = std::string("\x01\x02", 2);
  r.decision = Decision::kDeny;
  r.rule_ids = {"admin-operators-only", "r2"};
  r.code = 7;
  r.latency = 45'600ns;
  r.prev_hash = std::string(2, '\xab');
  r.hash = std::string(2, '\xcd');
  return r;
}

TEST(RecordJson, AllFieldsHashesHex) {
  nlohmann::ordered_json j = RecordJson(Sample());
  EXPECT_EQ(j["sequence"], 7);
  EXPECT_EQ(j["time"], "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(j["time_ns"], 1'700'000'000'123'456'789LL);
  EXPECT_EQ(j["node"], "node-a");
  EXPECT_EQ(j["principal"], "user:1000");
  EXPECT_EQ(j["action"], "admin.status");
  EXPECT_EQ(j["resource"], "node:node-a");
  EXPECT_EQ(j["request_digest"], "0102");
  EXPECT_EQ(j["decision"], "deny");
  EXPECT_EQ(j["rule_ids"], nlohmann::ordered_json({"admin-operators-only", "r2"}));
  EXPECT_EQ(j["code"], 7);
  EXPECT_EQ(j["code_name"], "PERMISSION_DENIED");
  EXPECT_EQ(j["latency_ns"], 45'600);
  EXPECT_EQ(j["prev_hash"], "abab");
  EXPECT_EQ(j["hash"], "cdcd");
}

TEST(RecordRow, HumanCells) {
  auto row = RecordRow(Sample());
  ASSERT_EQ(row.size(), RecordHeader().size());
  EXPECT_EQ(row[0], "7");
  EXPECT_EQ(row[1], "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(row[5], "deny");
  EXPECT_EQ(row[6], "PERMISSION_DENIED");
  EXPECT_EQ(row[7], "45.6µs");
  EXPECT_EQ(row[8], "admin-operators-only,r2");
}

TEST(WhoamiViews, JsonAndText) {
  WhoamiResult w;
  w.principal.kind = PrincipalKind::kUser;
  w.principal.id = "user:1000";
  w.principal.uid = 1000;
  w.principal.gid = 1000;
  w.principal.pid = 55;
  w.node = "n";
  w.audit_sequence = 3;
  auto j = WhoamiJson(w);
  EXPECT_EQ(j["principal"]["kind"], "user");
  EXPECT_EQ(j["principal"]["id"], "user:1000");
  EXPECT_FALSE(j["principal"].contains("spiffe_id"));
  EXPECT_EQ(j["audit_sequence"], 3);
  std::string t = WhoamiText(w);
  EXPECT_NE(t.find("principal     user:1000\n"), std::string::npos) << t;
  EXPECT_NE(t.find("audit record  #3\n"), std::string::npos) << t;
}

TEST(StatusViews, JsonHasLedgerAndCalls) {
  NodeStatus s;
  s.version = "0.1.0";
  s.uptime = 90s;
  s.ledger.sequence = 5;
  s.ledger.hash = std::string("\xff", 1);
  s.calls.denied = 2;
  auto j = StatusJson(s);
  EXPECT_EQ(j["ledger"]["sequence"], 5);
  EXPECT_EQ(j["ledger"]["hash"], "ff");
  EXPECT_EQ(j["calls"]["denied"], 2);
  EXPECT_DOUBLE_EQ(j["uptime_seconds"].get<double>(), 90.0);
  EXPECT_NE(StatusText(s).find("1m30s"), std::string::npos);
}

TEST(Errors, WordedByCause) {
  EXPECT_EQ(DescribeError("status", Status(StatusCode::kPermissionDenied,
                                           "denied by rule admin-operators-only", 42)),
            "aictl: status: permission denied: denied by rule admin-operators-only "
            "[audit record #42]");
  EXPECT_EQ(DescribeError("status", Status(StatusCode::kPermissionDenied,
                                           "Permission denied: user:1 may not call admin.status")),
            "aictl: status: permission denied: user:1 may not call admin.status");
  EXPECT_EQ(DescribeError("whoami", Status(StatusCode::kUnauthenticated, "no principal")),
            "aictl: whoami: not authenticated: no principal");
  EXPECT_EQ(DescribeError("ping", Status(StatusCode::kDeadlineExceeded, "no reply within 5 ms")),
            "aictl: ping: no reply within 5 ms (see --timeout)");
  EXPECT_EQ(DescribeError("reload", Status(StatusCode::kInternal, "boom")),
            "aictl: reload: boom (INTERNAL)");
  EXPECT_EQ(DescribeConnectError(Status(StatusCode::kUnavailable,
                                        "cannot connect to /run/aikernel/aikernel.sock: No such "
                                        "file or directory — is aikerneld running?")),
            "aictl: cannot connect to /run/aikernel/aikernel.sock: No such file or directory — "
            "is aikerneld running? (see --socket)");
}

}  // namespace
}  // namespace aikernel::cli
