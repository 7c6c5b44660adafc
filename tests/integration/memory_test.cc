// Agent memory through the real daemon: the operator path through aictl and
// the SDK with every call audited; a user principal is refused and the
// refusal audited; compare-and-set; quotas; acknowledged writes surviving
// kill -9; export -> import -> export through aictl, byte for byte.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "integration/helpers.h"

namespace aikernel::testing {
namespace {

using nlohmann::json;

// Every audit record of `action` in call order.
std::vector<AuditRecord> Records(Client& c, const std::string& action,
                                 const std::string& principal = "") {
  AuditFilter f;
  f.action = action;
  f.principal = principal;
  return Query(c, f);
}

const AuditRecord* BySequence(const std::vector<AuditRecord>& recs, uint64_t seq) {
  for (const auto& r : recs) {
    if (r.sequence == seq) return &r;
  }
  return nullptr;
}

TEST(Memory, OperatorPathThroughTheSdkIsServedAndEachCallAudited) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  // audit sequence -> {action, resource, code}
  std::map<uint64_t, std::tuple<std::string, std::string, int>> calls;

  // agent/<name>: created by its first write, with the default quotas.
  auto put = c->MemoryPut("agent/ops", "plan", "step 1");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->entry.version, 1);
  EXPECT_EQ(put->entry.key, "plan");
  EXPECT_FALSE(put->entry.expires_at);
  calls[put->audit_sequence] = {"memory.write", "memory:agent/ops", 0};
  MemoryPutOptions ttl;
  ttl.ttl = std::chrono::hours(1);
  auto put2 = c->MemoryPut("agent/ops", "plan", std::string("\x00\xff step 2", 9), ttl);
  ASSERT_TRUE(put2.ok()) << put2.status().ToString();
  EXPECT_EQ(put2->entry.version, 2);
  ASSERT_TRUE(put2->entry.expires_at);
  EXPECT_GT(*put2->entry.expires_at, put2->entry.created_at + std::chrono::minutes(59));
  calls[put2->audit_sequence] = {"memory.write", "memory:agent/ops", 0};

  auto got = c->MemoryGet("agent/ops", "plan");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->entry.value, std::string("\x00\xff step 2", 9)) << "values are bytes";
  calls[got->audit_sequence] = {"memory.read", "memory:agent/ops", 0};
  auto v1 = c->MemoryGet("agent/ops", "plan", 1);
  ASSERT_TRUE(v1.ok());
  EXPECT_EQ(v1->entry.value, "step 1");

  auto batch = c->MemoryPutBatch("agent/ops", {{"a", "1", {}}, {"b", "2", {}}});
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->versions, (std::vector<int64_t>{1, 1}));
  calls[batch->audit_sequence] = {"memory.write", "memory:agent/ops", 0};

  MemoryListOptions lo;
  lo.page_size = 2;
  auto page = c->MemoryList("agent/ops", lo);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].key, "a");
  EXPECT_EQ(page->next_page_token, "b");
  lo.page_token = page->next_page_token;
  auto page2 = c->MemoryList("agent/ops", lo);
  ASSERT_TRUE(page2.ok());
  ASSERT_EQ(page2->entries.size(), 1u);
  EXPECT_EQ(page2->entries[0].key, "plan");
  EXPECT_TRUE(page2->next_page_token.empty());
  calls[page2->audit_sequence] = {"memory.read", "memory:agent/ops", 0};

  auto del = c->MemoryDelete("agent/ops", "a");
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->version, 2);
  calls[del->audit_sequence] = {"memory.delete", "memory:agent/ops", 0};
  auto gone = c->MemoryGet("agent/ops", "a");
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound) << gone.status().ToString();
  calls[gone.status().audit_sequence()] = {"memory.read", "memory:agent/ops",
                                           static_cast<int>(StatusCode::kNotFound)};
  auto hist = c->MemoryHistory("agent/ops", "a");
  ASSERT_TRUE(hist.ok());
  ASSERT_EQ(hist->entries.size(), 2u);
  EXPECT_TRUE(hist->entries[0].deleted);
  EXPECT_EQ(hist->entries[1].value, "1");

  // Episodic log.
  auto ev = c->MemoryAppendEvent("agent/ops", {std::nullopt, "tool", R"({"b": 2, "a": [1]})", {}});
  ASSERT_TRUE(ev.ok()) << ev.status().ToString();
  EXPECT_EQ(ev->event.seq, 1);
  EXPECT_EQ(ev->event.payload_json, R"({"a":[1],"b":2})") << "stored canonical";
  ASSERT_TRUE(c->MemoryAppendEvent("agent/ops", {std::nullopt, "note", "\"hi\"", {}}).ok());
  MemoryEventQuery eq;
  eq.kinds = {"tool"};
  auto evs = c->MemoryReadEvents("agent/ops", eq);
  ASSERT_TRUE(evs.ok()) << evs.status().ToString();
  ASSERT_EQ(evs->events.size(), 1u);
  EXPECT_EQ(evs->events[0].kind, "tool");

  // Documents and search.
  ASSERT_TRUE(c->MemoryPutDocument("agent/ops", {"d1", "the quick brown fox", R"({"t":"x"})",
                                                 {1, 0, 0}, {}, std::nullopt})
                  .ok());
  ASSERT_TRUE(c->MemoryPutDocument("agent/ops", {"d2", "lazy dogs sleep all day", R"({"t":"y"})",
                                                 {0, 1, 0}, {}, std::nullopt})
                  .ok());
  MemorySearchQuery q;
  q.text = "fox";
  auto hits = c->MemorySearch("agent/ops", q);
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  ASSERT_EQ(hits->hits.size(), 1u);
  EXPECT_EQ(hits->hits[0].document.id, "d1");
  calls[hits->audit_sequence] = {"memory.search", "memory:agent/ops", 0};
  MemorySearchQuery vq;
  vq.embedding = {0.1f, 1.0f, 0.0f};
  vq.filters = {{"t", "\"y\""}};
  auto vhits = c->MemorySearch("agent/ops", vq);
  ASSERT_TRUE(vhits.ok()) << vhits.status().ToString();
  ASSERT_EQ(vhits->hits.size(), 1u);
  EXPECT_EQ(vhits->hits[0].document.id, "d2");
  EXPECT_GT(vhits->hits[0].vector_score, 0.99);
  auto doc = c->MemoryGetDocument("agent/ops", "d2");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->document.embedding, (std::vector<float>{0, 1, 0}));
  ASSERT_TRUE(c->MemoryDeleteDocument("agent/ops", "d2").ok());

  // Namespaces: shared/ ones exist only once an operator creates them.
  auto missing = c->MemoryPut("shared/team", "k", "v");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().ToString();
  EXPECT_NE(missing.status().message().find("shared/team"), std::string::npos);
  auto made = c->MemoryCreateNamespace({"shared/team", 1 << 20, std::nullopt, 0});
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->info.max_bytes, 1 << 20);
  EXPECT_EQ(made->info.max_records, 1'000'000) << "the daemon's default";
  calls[made->audit_sequence] = {"memory.admin", "memory:shared/team", 0};
  ASSERT_TRUE(c->MemoryPut("shared/team", "k", "v").ok());
  auto quota = c->MemorySetQuota("shared/team", 0, 10);
  ASSERT_TRUE(quota.ok()) << quota.status().ToString();
  EXPECT_EQ(quota->info.max_records, 10);
  EXPECT_EQ(quota->info.used_records, 1);
  auto all = c->MemoryListNamespaces();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->namespaces.size(), 2u);
  EXPECT_EQ(all->namespaces[0].name, "agent/ops");
  EXPECT_EQ(all->namespaces[0].dim, 3);
  calls[all->audit_sequence] = {"memory.read", "memories:*", 0};
  auto agents_only = c->MemoryListNamespaces("agent/");
  ASSERT_TRUE(agents_only.ok());
  EXPECT_EQ(agents_only->namespaces.size(), 1u);
  calls[agents_only->audit_sequence] = {"memory.read", "memories:agent/", 0};
  auto compact = c->MemoryCompact("agent/ops");
  ASSERT_TRUE(compact.ok()) << compact.status().ToString();
  EXPECT_EQ(compact->versions_dropped, 3) << "plan v1, and a's v1 with its tombstone";
  calls[compact->audit_sequence] = {"memory.delete", "memory:agent/ops", 0};
  auto drop = c->MemoryDropNamespace("shared/team");
  ASSERT_TRUE(drop.ok()) << drop.status().ToString();
  calls[drop->audit_sequence] = {"memory.admin", "memory:shared/team", 0};
  EXPECT_EQ(c->MemoryGetNamespace("shared/team").status().code(), StatusCode::kNotFound);

  // Every call above is in the ledger as itself.
  std::vector<AuditRecord> recs = Query(*c);
  for (const auto& [seq, want] : calls) {
    const AuditRecord* r = BySequence(recs, seq);
    ASSERT_NE(r, nullptr) << "no audit record #" << seq;
    EXPECT_EQ(r->action, std::get<0>(want)) << "#" << seq;
    EXPECT_EQ(r->resource, std::get<1>(want)) << "#" << seq;
    EXPECT_EQ(r->code, std::get<2>(want)) << "#" << seq;
    EXPECT_EQ(r->principal, "operator:0");
    EXPECT_EQ(r->decision, Decision::kAllow);
    EXPECT_EQ(r->rule_ids, std::vector<std::string>{"default.operators-administer"});
  }
  size_t memory_calls = 0;
  for (const auto& r : recs) memory_calls += r.action.rfind("memory.", 0) == 0;
  EXPECT_EQ(memory_calls, 28u) << "one record per memory call made above";
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Memory, OperatorPathThroughAictl) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());

  CmdResult r = AictlJson(d, {"mem", "ns", "create", "shared/notes", "--max-records", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json ns = ParseJson(r.out);
  EXPECT_EQ(ns["name"], "shared/notes");
  EXPECT_EQ(ns["max_records"], 100);

  r = AictlJson(d, {"mem", "put", "shared/notes", "todo", "buy milk"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json p = ParseJson(r.out);
  EXPECT_EQ(p["version"], 1);
  EXPECT_EQ(p["bytes"], 8);
  uint64_t put_seq = p["audit_sequence"].get<uint64_t>();
  r = AictlJson(d, {"mem", "put", "shared/notes", "todo", "buy bread", "--if-version", "1",
                    "--ttl", "1h"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["version"], 2);
  EXPECT_TRUE(ParseJson(r.out)["expires"].is_string());

  // Plain `mem get` prints the stored bytes and nothing else.
  r = RunAictl({"--socket", d.socket(), "mem", "get", "shared/notes", "todo"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "buy bread");
  r = AictlJson(d, {"mem", "get", "shared/notes", "todo", "--version", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["value"], "buy milk");

  // A value from a file, not UTF-8: --json carries it as value_b64.
  WriteFile(tmp.path() + "/blob", std::string("\x01\x00\xfe", 3));
  r = AictlJson(d, {"mem", "put", "shared/notes", "blob", "--file", tmp.path() + "/blob"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = AictlJson(d, {"mem", "get", "shared/notes", "blob"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["value_b64"], "AQD+");
  r = RunAictl({"--socket", d.socket(), "mem", "get", "shared/notes", "blob"});
  EXPECT_EQ(r.out, std::string("\x01\x00\xfe", 3));

  r = AictlJson(d, {"mem", "ls"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json nss = ParseJson(r.out)["namespaces"];
  ASSERT_EQ(nss.size(), 1u);
  EXPECT_EQ(nss[0]["name"], "shared/notes");
  EXPECT_EQ(nss[0]["used_records"], 3);
  r = AictlJson(d, {"mem", "ls", "shared/notes", "--values"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json keys = ParseJson(r.out)["entries"];
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0]["key"], "blob");
  EXPECT_EQ(keys[1]["key"], "todo");
  EXPECT_EQ(keys[1]["value"], "buy bread");
  r = RunAictl({"--socket", d.socket(), "mem", "ls", "shared/notes"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("todo"), std::string::npos) << r.out;

  r = AictlJson(d, {"mem", "rm", "shared/notes", "todo"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ParseJson(r.out)["version"], 3);
  r = AictlJson(d, {"mem", "history", "shared/notes", "todo"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json versions = ParseJson(r.out)["versions"];
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[0]["deleted"], true);
  EXPECT_EQ(versions[2]["value"], "buy milk");
  r = RunAictl({"--socket", d.socket(), "mem", "get", "shared/notes", "todo"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("NOT_FOUND"), std::string::npos) << r.Describe();

  r = AictlJson(d, {"mem", "doc", "put", "shared/notes", "n1", "remember the milk",
                    "--meta", R"({"kind":"chore"})"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = AictlJson(d, {"mem", "doc", "put", "shared/notes", "n2", "call the plumber",
                    "--meta", R"({"kind":"call"})"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = AictlJson(d, {"mem", "search", "shared/notes", "milk OR plumber", "--filter", "kind=call"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json hits = ParseJson(r.out)["hits"];
  ASSERT_EQ(hits.size(), 1u) << r.out;
  EXPECT_EQ(hits[0]["document"]["id"], "n2");
  uint64_t search_seq = ParseJson(r.out)["audit_sequence"].get<uint64_t>();

  r = AictlJson(d, {"mem", "append", "shared/notes", "visit", R"({"who":"plumber"})"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = AictlJson(d, {"mem", "events", "shared/notes"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  ASSERT_EQ(ParseJson(r.out)["events"].size(), 1u);
  EXPECT_EQ(ParseJson(r.out)["events"][0]["payload"]["who"], "plumber");

  // Usage errors and a missing namespace.
  r = RunAictl({"--socket", d.socket(), "mem", "put", "shared/notes", "k"});
  EXPECT_EQ(r.exit_code, 2) << "no value and no --file\n" << r.Describe();
  r = RunAictl({"--socket", d.socket(), "mem", "ns", "drop", "shared/notes"});
  EXPECT_EQ(r.exit_code, 2) << "drop wants --yes\n" << r.Describe();
  r = RunAictl({"--socket", d.socket(), "mem", "ls", "shared/none"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("shared/none"), std::string::npos) << r.Describe();

  r = AictlJson(d, {"mem", "ns", "drop", "shared/notes", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();

  // The ledger has each of them, under its action and resource.
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  std::vector<AuditRecord> recs = Query(*c);
  const AuditRecord* put_rec = BySequence(recs, put_seq);
  ASSERT_NE(put_rec, nullptr);
  EXPECT_EQ(put_rec->action, "memory.write");
  EXPECT_EQ(put_rec->resource, "memory:shared/notes");
  const AuditRecord* search_rec = BySequence(recs, search_seq);
  ASSERT_NE(search_rec, nullptr);
  EXPECT_EQ(search_rec->action, "memory.search");
  EXPECT_EQ(Records(*c, "memory.admin").size(), 2u) << "ns create and ns drop";
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Memory, AUserPrincipalGetsNoMemoryAndTheRefusalsAreAudited) {
  REQUIRE_ROOT();
  TempDir tmp;
  DaemonProcess d(tmp.path());
  d.WriteConfig(NobodyCanConnect());
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->MemoryPut("agent/alice", "secret", "s3cr3t").ok());

  const std::vector<std::vector<std::string>> attempts = {
      {"mem", "get", "agent/alice", "secret"},
      {"mem", "ls", "agent/alice"},
      {"mem", "history", "agent/alice", "secret"},
      {"mem", "put", "agent/alice", "secret", "overwritten"},
      {"mem", "rm", "agent/alice", "secret"},
      {"mem", "search", "agent/alice", "s3cr3t"},
      {"mem", "export", "agent/alice"},
      {"mem", "ls"},
      {"mem", "ns", "create", "agent/mallory"},
      {"mem", "put", "agent/mallory", "k", "v"},
  };
  for (const auto& args : attempts) {
    std::vector<std::string> argv = {"--socket", d.socket()};
    argv.insert(argv.end(), args.begin(), args.end());
    CmdResult r = RunAictl(argv, {.as_nobody = true});
    EXPECT_EQ(r.exit_code, 3) << "denied must exit 3\n" << r.Describe();
    EXPECT_NE(r.err.find("default-deny"), std::string::npos) << r.Describe();
    EXPECT_NE(r.err.find("user:65534"), std::string::npos) << r.Describe();
    EXPECT_EQ(r.out.find("s3cr3t"), std::string::npos) << r.Describe();
  }

  // Nothing changed, nothing was created.
  auto got = c->MemoryGet("agent/alice", "secret");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->entry.value, "s3cr3t");
  EXPECT_EQ(got->entry.version, 1);
  EXPECT_EQ(c->MemoryGetNamespace("agent/mallory").status().code(), StatusCode::kNotFound);

  AuditFilter f;
  f.principal = "user:65534";
  std::vector<AuditRecord> recs = Query(*c, f);
  ASSERT_EQ(recs.size(), attempts.size());
  const char* resources[] = {"memory:agent/alice", "memory:agent/alice", "memory:agent/alice",
                             "memory:agent/alice", "memory:agent/alice", "memory:agent/alice",
                             "memory:agent/alice", "memories:*", "memory:agent/mallory",
                             "memory:agent/mallory"};
  const char* actions[] = {"memory.read",   "memory.read",  "memory.read",  "memory.write",
                           "memory.delete", "memory.search", "memory.read", "memory.read",
                           "memory.admin",  "memory.write"};
  for (size_t i = 0; i < recs.size(); ++i) {
    EXPECT_EQ(recs[i].action, actions[i]) << i;
    EXPECT_EQ(recs[i].resource, resources[i]) << i;
    EXPECT_EQ(recs[i].decision, Decision::kDeny) << i;
    EXPECT_EQ(recs[i].code, static_cast<int>(StatusCode::kPermissionDenied)) << i;
    EXPECT_EQ(recs[i].rule_ids, std::vector<std::string>{"default-deny"}) << i;
  }
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Memory, CompareAndSetThroughTheDaemonHasExactlyOneWinner) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  MemoryPutOptions create;
  create.expected_version = 0;
  auto first = c->MemoryPut("agent/cas", "counter", "0", create);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto again = c->MemoryPut("agent/cas", "counter", "0", create);
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("current 1"), std::string::npos)
      << again.status().ToString();
  EXPECT_NE(again.status().audit_sequence(), 0u) << "a failed CAS is audited too";

  // Eight clients (one connection each) race to move version 1 -> 2.
  constexpr int kRacers = 8;
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kRacers; ++i) {
    clients.push_back(ConnectTo(d));
    ASSERT_NE(clients.back(), nullptr);
  }
  std::atomic<int> ready{0};
  std::vector<StatusCode> codes(kRacers);
  std::vector<std::thread> threads;
  for (int i = 0; i < kRacers; ++i) {
    threads.emplace_back([&, i] {
      MemoryPutOptions o;
      o.expected_version = 1;
      ready.fetch_add(1);
      while (ready.load() < kRacers) std::this_thread::yield();
      auto r = clients[i]->MemoryPut("agent/cas", "counter", "winner " + std::to_string(i), o);
      codes[i] = r.ok() ? StatusCode::kOk : r.status().code();
    });
  }
  for (auto& t : threads) t.join();
  int winners = 0;
  for (StatusCode code : codes) {
    if (code == StatusCode::kOk) {
      ++winners;
    } else {
      EXPECT_EQ(code, StatusCode::kFailedPrecondition);
    }
  }
  EXPECT_EQ(winners, 1);
  auto now = c->MemoryGet("agent/cas", "counter");
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(now->entry.version, 2);
  EXPECT_EQ(now->entry.value.rfind("winner ", 0), 0u);

  // aictl: a stale --if-version fails with the current version named; a
  // CAS delete too.
  CmdResult r = RunAictl({"--socket", d.socket(), "mem", "put", "agent/cas", "counter", "x",
                          "--if-version", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("FAILED_PRECONDITION"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("current 2"), std::string::npos) << r.Describe();
  r = RunAictl({"--socket", d.socket(), "mem", "rm", "agent/cas", "counter", "--if-version", "1"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  auto del = c->MemoryDelete("agent/cas", "counter", 2);
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del->version, 3);
  for (auto& cl : clients) cl.reset();
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

TEST(Memory, QuotaIsResourceExhaustedNamingTheNamespaceAndNothingIsWritten) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  DaemonConfig cfg;
  cfg.memory = "default_max_records = 3\ndefault_max_bytes = 0\n";
  d.WriteConfig(cfg);
  ASSERT_TRUE(d.Start());
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto r = c->MemoryPut("agent/small", "k" + std::to_string(i), "v");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  auto over = c->MemoryPut("agent/small", "k3", "v");
  ASSERT_EQ(over.status().code(), StatusCode::kResourceExhausted) << over.status().ToString();
  EXPECT_NE(over.status().message().find("agent/small"), std::string::npos);
  EXPECT_NE(over.status().message().find("record quota"), std::string::npos);
  EXPECT_NE(over.status().message().find("limit 3"), std::string::npos);
  auto batch = c->MemoryPutBatch("agent/small", {{"x", "1", {}}});
  EXPECT_EQ(batch.status().code(), StatusCode::kResourceExhausted);

  CmdResult r = RunAictl({"--socket", d.socket(), "mem", "put", "agent/small", "k4", "v"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("RESOURCE_EXHAUSTED"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("agent/small"), std::string::npos) << r.Describe();

  auto info = c->MemoryGetNamespace("agent/small");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->info.used_records, 3) << "refused writes changed nothing";
  EXPECT_EQ(info->info.max_records, 3);
  EXPECT_EQ(c->MemoryGet("agent/small", "k3").status().code(), StatusCode::kNotFound);

  // A byte quota on a namespace of its own.
  ASSERT_TRUE(c->MemoryCreateNamespace({"shared/tiny", 16, 0, 0}).ok());
  ASSERT_TRUE(c->MemoryPut("shared/tiny", "k", "0123456789").ok());  // 11 bytes
  auto big = c->MemoryPut("shared/tiny", "k", "0123456789");
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted) << big.status().ToString();
  EXPECT_NE(big.status().message().find("byte quota"), std::string::npos);

  // Raising the quota lets writes through again; the refusals were audited
  // with their code.
  ASSERT_TRUE(c->MemorySetQuota("agent/small", 0, 4).ok());
  ASSERT_TRUE(c->MemoryPut("agent/small", "k3", "v").ok());
  AuditFilter f;
  f.action = "memory.write";
  size_t exhausted = 0;
  for (const auto& rec : Query(*c, f)) {
    exhausted += rec.code == static_cast<int>(StatusCode::kResourceExhausted);
  }
  EXPECT_EQ(exhausted, 4u);
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

// kill -9 mid-stream of acknowledged puts from four SDK clients: after a
// restart every acknowledged key holds the acknowledged value and version,
// and each acknowledged put's audit record is in the ledger.
class KillDuringPuts : public ::testing::TestWithParam<const char*> {};

TEST_P(KillDuringPuts, EveryAcknowledgedPutIsThereAfterRestart) {
  TempDir tmp;
  DaemonProcess d(tmp.path());
  DaemonConfig cfg;
  cfg.memory = std::string("synchronous = \"") + GetParam() + "\"\n";
  d.WriteConfig(cfg);
  ASSERT_TRUE(d.Start());

  struct Acked {
    std::string value;
    int64_t version;
    uint64_t audit_sequence;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, Acked> acked;
  std::vector<std::string> errors;
  int running = 4;
  std::atomic<bool> stop{false};
  std::vector<std::thread> pool;
  for (int t = 0; t < 4; ++t) {
    pool.emplace_back([&, t] {
      auto c = ConnectTo(d);
      for (uint64_t i = 0; c && !stop.load(); ++i) {
        // Every fourth put rewrites an earlier key, so versions matter.
        uint64_t n = (i % 4 == 3) ? i / 2 : i;
        std::string key = "t" + std::to_string(t) + "/k" + std::to_string(n);
        std::string value = "value " + std::to_string(t) + "-" + std::to_string(i);
        auto r = c->MemoryPut("agent/crash", key, value);
        std::lock_guard<std::mutex> lock(mu);
        if (!r.ok()) {
          errors.push_back(r.status().ToString());
          break;
        }
        acked[key] = {value, r->entry.version, r->audit_sequence};
        cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(mu);
      --running;
      cv.notify_all();
    });
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    bool reached = cv.wait_for(lock, std::chrono::seconds(120),
                               [&] { return acked.size() >= 300 || running == 0; });
    EXPECT_TRUE(reached) << "puts made no progress";
    EXPECT_GE(acked.size(), 300u) << (errors.empty() ? "" : errors.front());
  }
  EXPECT_EQ(d.Kill(), 128 + SIGKILL);  // the clients are still putting
  stop = true;
  for (auto& t : pool) t.join();
  std::printf("[%s] %zu keys acknowledged before SIGKILL; %zu puts failed after it\n",
              GetParam(), acked.size(), errors.size());

  ASSERT_TRUE(d.Start()) << "restart on the same state dir after SIGKILL";
  auto c = ConnectTo(d);
  ASSERT_NE(c, nullptr);
  std::map<std::string, MemoryEntry> stored;
  MemoryListOptions lo;
  lo.page_size = 10000;
  for (;;) {
    auto page = c->MemoryList("agent/crash", lo);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (auto& e : page->entries) stored[e.key] = std::move(e);
    if (page->next_page_token.empty()) break;
    lo.page_token = page->next_page_token;
  }
  AuditFilter f;
  f.action = "memory.write";
  std::set<uint64_t> in_ledger;
  for (const AuditRecord& r : Query(*c, f)) {
    if (r.code == 0) in_ledger.insert(r.sequence);
  }
  size_t missing = 0, stale = 0, unaudited = 0;
  for (const auto& [key, want] : acked) {
    auto it = stored.find(key);
    if (it == stored.end()) {
      if (++missing <= 5) ADD_FAILURE() << "acknowledged key " << key << " is gone";
      continue;
    }
    // A later put of the same key may have committed without its reply
    // arriving before the kill; never an older one.
    if (it->second.version < want.version ||
        (it->second.version == want.version && it->second.value != want.value)) {
      if (++stale <= 5) {
        ADD_FAILURE() << key << ": acknowledged version " << want.version << " '" << want.value
                      << "', found version " << it->second.version << " '"
                      << it->second.value << "'";
      }
    }
    if (!in_ledger.count(want.audit_sequence)) ++unaudited;
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size();
  EXPECT_EQ(stale, 0u);
  EXPECT_EQ(unaudited, 0u) << "acknowledged puts without their audit record";
  c.reset();
  EXPECT_EQ(d.Stop(), 0) << d.Log();
}

INSTANTIATE_TEST_SUITE_P(Synchronous, KillDuringPuts, ::testing::Values("full", "normal"),
                         [](const auto& info) { return std::string(info.param); });

TEST(Memory, ExportImportRoundTripThroughAictlIsExact) {
  TempDir tmp;
  std::filesystem::create_directories(tmp.path() + "/a");
  std::filesystem::create_directories(tmp.path() + "/b");
  DaemonProcess a(tmp.path() + "/a");
  ASSERT_TRUE(a.Start());
  {
    auto c = ConnectTo(a);
    ASSERT_NE(c, nullptr);
    ASSERT_TRUE(c->MemoryPut("agent/a", "k", "v1").ok());
    ASSERT_TRUE(c->MemoryPut("agent/a", "k", std::string("\xff\x00\x01", 3)).ok());
    ASSERT_TRUE(c->MemoryDelete("agent/a", "k").ok());
    MemoryPutOptions ttl;
    ttl.ttl = std::chrono::hours(1);
    ASSERT_TRUE(c->MemoryPut("agent/a", "\xc3\xbcnicode key", "v\xc3\xa4lue", ttl).ok());
    ASSERT_TRUE(c->MemoryAppendEvent("agent/a", {std::nullopt, "tool", R"({"x":[1,2.5,"s"]})", {}})
                    .ok());
    ASSERT_TRUE(c->MemoryPutDocument("agent/a", {"doc", "some text", R"({"t":"a"})",
                                                 {0.1f, -2.5f, 1e-20f}, {}, std::nullopt})
                    .ok());
    ASSERT_TRUE(c->MemoryPutDocument("agent/a", {"doc", "some text", R"({"t":"a"})",
                                                 {0.1f, -2.5f, 1e-20f}, {}, std::nullopt})
                    .ok());  // version 2
    ASSERT_TRUE(c->MemoryPut("agent/ab", "other", "agent").ok());
    ASSERT_TRUE(c->MemoryCreateNamespace({"shared/b", 4096, 10, 2}).ok());
    ASSERT_TRUE(c->MemoryAppendEvent("shared/b", {Timestamp(std::chrono::seconds(42)), "k", "null",
                                                  {}})
                    .ok());
  }

  const std::string file = tmp.path() + "/export.jsonl";
  CmdResult r = RunAictl({"--socket", a.socket(), "mem", "export", "-o", file});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string exported = ReadFile(file);
  r = RunAictl({"--socket", a.socket(), "mem", "export"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, exported) << "-o FILE and standard output carry the same bytes";
  std::vector<json> lines = ParseJsonLines(exported);
  ASSERT_EQ(lines.size(), 11u) << exported;
  EXPECT_NE(exported.find("\"value_b64\""), std::string::npos);
  EXPECT_NE(exported.find("\"embedding_b64\""), std::string::npos);

  // One namespace exactly (agent/a, not agent/ab): the same lines as its
  // part of the full export.
  r = RunAictl({"--socket", a.socket(), "mem", "export", "agent/a"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(exported.substr(0, r.out.size()), r.out);
  EXPECT_EQ(r.out.find("agent/ab"), std::string::npos) << r.out;
  EXPECT_EQ(a.Stop(), 0) << a.Log();

  DaemonProcess b(tmp.path() + "/b");
  ASSERT_TRUE(b.Start());
  r = AictlJson(b, {"mem", "import", file});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  json counts = ParseJson(r.out);
  EXPECT_EQ(counts["namespaces_created"], 3);
  EXPECT_EQ(counts["kv_versions"], 5);
  EXPECT_EQ(counts["events"], 2);
  EXPECT_EQ(counts["documents"], 1);
  r = RunAictl({"--socket", b.socket(), "mem", "export"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, exported) << "export -> import -> export must give the same bytes";

  // Importing it again conflicts and changes nothing.
  r = RunAictl({"--socket", b.socket(), "mem", "import", file});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("FAILED_PRECONDITION"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("import line"), std::string::npos) << r.Describe();
  r = RunAictl({"--socket", b.socket(), "mem", "export"});
  EXPECT_EQ(r.out, exported);

  // The values read back as written.
  auto c = ConnectTo(b);
  ASSERT_NE(c, nullptr);
  auto v2 = c->MemoryGet("agent/a", "k", 2);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->entry.value, std::string("\xff\x00\x01", 3));
  auto ns = c->MemoryGetNamespace("shared/b");
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(ns->info.max_bytes, 4096);
  EXPECT_EQ(ns->info.dim, 2);
  EXPECT_EQ(Records(*c, "memory.write").size(), 2u) << "two imports, one record each";
  c.reset();
  EXPECT_EQ(b.Stop(), 0) << b.Log();
}

}  // namespace
}  // namespace aikernel::testing
