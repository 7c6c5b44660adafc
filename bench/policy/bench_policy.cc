// bench_policy: decision latency (p50, p99) and decisions/s of the native
// Cedar engine over agent-shaped policy sets of 10, 100, 1,000 and 10,000
// policies: four policies per agent (tool call with an argument condition,
// tool-group call with a rate condition, memory read, a forbid on one tool
// with a `like` condition) plus global rules (operators may do anything, a
// forbid on shell.exec unless the agent is an admin). Requests are tool calls
// and memory reads by random agents, with a context like the kernel's
// (args, counters, time). When @cedar-policy/cedar-wasm is present (see
// WasmModules) the same requests are decided by it with node in the same run
// and the ratio is printed. Prints figures; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "policy/engine.h"

namespace {

using namespace aikernel::policy;
using Clock = std::chrono::steady_clock;

constexpr int kTools = 50;
constexpr int kToolGroups = 5;
constexpr int kTeams = 10;

std::string PolicyText(int n, int* agents_out) {
  std::string t;
  int count = 0;
  auto add = [&](const std::string& p) {
    if (count < n) {
      t += p;
      ++count;
    }
  };
  add("permit(principal is Operator, action, resource);\n");
  add("forbid(principal, action == Action::\"tool.call\", resource == "
      "Tool::\"shell.exec\") unless { principal in Group::\"admins\" };\n");
  int a = 0;
  for (; count < n; ++a) {
    std::string agent =
        "Agent::\"spiffe://node/agent/" + std::to_string(a) + "\"";
    std::string tool1 = "Tool::\"tool" + std::to_string(a % kTools) + "\"";
    std::string tool2 =
        "Tool::\"tool" + std::to_string((a + 7) % kTools) + "\"";
    std::string group =
        "ToolGroup::\"grp" + std::to_string(a % kToolGroups) + "\"";
    add("permit(principal == " + agent +
        ", action == Action::\"tool.call\", resource == " + tool1 +
        ") when { context.args.bytes < 1048576 && context.time < "
        "datetime(\"2030-01-01T00:00:00Z\") };\n");
    add("permit(principal == " + agent +
        ", action == Action::\"tool.call\", resource in " + group +
        ") when { context.calls_last_minute < 60 };\n");
    add("permit(principal == " + agent +
        ", action == Action::\"memory.read\", resource == "
        "Memory::\"ns" +
        std::to_string(a) + "\");\n");
    add("forbid(principal == " + agent +
        ", action == Action::\"tool.call\", resource == " + tool2 +
        ") when { context.args.path like \"/etc/*\" };\n");
  }
  *agents_out = std::max(a, 1);
  return t;
}

std::string EntitiesJson(int agents) {
  std::string j = "[";
  for (int a = 0; a < agents; ++a) {
    j += "{\"uid\":{\"type\":\"Agent\",\"id\":\"spiffe://node/agent/" +
         std::to_string(a) + "\"},\"attrs\":{\"name\":\"agent" +
         std::to_string(a) +
         "\"},\"parents\":[{\"type\":\"Group\",\"id\":\"team" +
         std::to_string(a % kTeams) + "\"}]},";
  }
  for (int t = 0; t < kTools; ++t) {
    j += "{\"uid\":{\"type\":\"Tool\",\"id\":\"tool" + std::to_string(t) +
         "\"},\"attrs\":{},\"parents\":[{\"type\":\"ToolGroup\",\"id\":\"grp" +
         std::to_string(t % kToolGroups) + "\"}]},";
  }
  j += "{\"uid\":{\"type\":\"Tool\",\"id\":\"shell.exec\"},\"attrs\":{},"
       "\"parents\":[]}]";
  return j;
}

std::vector<Request> Requests(int agents, std::mt19937* rng,
                              nlohmann::json* as_json) {
  std::vector<Request> out;
  for (int i = 0; i < 1024; ++i) {
    int a = static_cast<int>((*rng)() % agents);
    Request r;
    r.principal = {"Agent", "spiffe://node/agent/" + std::to_string(a)};
    bool memory = (*rng)() % 4 == 0;
    r.action = {"Action", memory ? "memory.read" : "tool.call"};
    if (memory) {
      r.resource = {"Memory", "ns" + std::to_string((*rng)() % 2 ? a : a + 1)};
    } else {
      int t =
          (*rng)() % 3 == 0 ? a % kTools : static_cast<int>((*rng)() % kTools);
      r.resource = {"Tool", "tool" + std::to_string(t)};
    }
    std::string ctx =
        "{\"args\":{\"path\":\"" +
        std::string((*rng)() % 5 == 0 ? "/etc/passwd" : "/tmp/work") +
        "\",\"bytes\":" + std::to_string((*rng)() % 2'000'000) +
        "},\"calls_last_minute\":" + std::to_string((*rng)() % 100) +
        ",\"calls_last_hour\":120,\"node\":\"node-1\","
        "\"time\":{\"__extn\":{\"fn\":\"datetime\",\"arg\":"
        "\"2026-11-26T17:00:00Z\"}}}";
    auto j = ParseJsonText(ctx);
    auto c = ContextFromJson(*j);
    if (!c.ok()) {
      std::fprintf(stderr, "bad context: %s\n",
                   std::string(c.status().message()).c_str());
      std::exit(1);
    }
    r.context = *c;
    auto uid = [](const EntityUid& u) {
      return nlohmann::json{{"type", u.type}, {"id", u.id}};
    };
    as_json->push_back({{"principal", uid(r.principal)},
                        {"action", uid(r.action)},
                        {"resource", uid(r.resource)},
                        {"context", *j}});
    out.push_back(std::move(r));
  }
  return out;
}

// node_modules holding @cedar-policy/cedar-wasm: $AIK_CEDAR_WASM_MODULES, or
// the one the differential test installs into the build tree. Empty (and
// the comparison skipped) when neither exists or node is missing; the bench
// never installs anything itself.
std::string WasmModules() {
  std::string dir = std::getenv("AIK_CEDAR_WASM_MODULES")
                        ? std::getenv("AIK_CEDAR_WASM_MODULES")
                        : AIK_CEDAR_WASM_DEFAULT_MODULES;
  if (!std::filesystem::exists(dir +
                               "/@cedar-policy/cedar-wasm/package.json") ||
      std::system("node --version >/dev/null 2>&1") != 0) {
    static bool said = false;
    if (!said)
      std::printf(
          "        (cedar-wasm comparison skipped: no %s; run "
          "policy_differential_test once to install it)\n",
          dir.c_str());
    said = true;
    return "";
  }
  return dir;
}

void Run(int n) {
  int agents = 0;
  std::string text = PolicyText(n, &agents);
  PolicySet ps;
  auto t0 = Clock::now();
  if (auto st = ps.AddText(text, "bench.cedar"); !st.ok()) {
    std::fprintf(stderr, "parse: %s\n", std::string(st.message()).c_str());
    std::exit(1);
  }
  double parse_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  auto es = EntitiesFromJsonText(EntitiesJson(agents));
  if (!es.ok()) {
    std::fprintf(stderr, "entities: %s\n",
                 std::string(es.status().message()).c_str());
    std::exit(1);
  }
  std::mt19937 rng(42);
  nlohmann::json reqs_json = nlohmann::json::array();
  std::vector<Request> reqs = Requests(agents, &rng, &reqs_json);

  // Warm up, then time each decision.
  int allows = 0;
  for (int i = 0; i < 2000; ++i)
    allows +=
        Authorize(ps, reqs[i % reqs.size()], *es).decision == Decision::kAllow;
  const int kDecisions = 200'000;
  std::vector<double> ns;
  ns.reserve(kDecisions);
  allows = 0;
  auto start = Clock::now();
  for (int i = 0; i < kDecisions; ++i) {
    auto a = Clock::now();
    Response r = Authorize(ps, reqs[i % reqs.size()], *es);
    auto b = Clock::now();
    allows += r.decision == Decision::kAllow;
    ns.push_back(std::chrono::duration<double, std::nano>(b - a).count());
  }
  double total_s = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(ns.begin(), ns.end());
  double p50 = ns[ns.size() / 2] / 1000;
  double rate = kDecisions / total_s;
  std::printf(
      "%6d policies (%5d agents): p50 %7.2f us  p99 %7.2f us  %9.0f "
      "decisions/s  (allow %4.1f%%, parse %.1f ms)\n",
      static_cast<int>(ps.size()), agents, p50, ns[ns.size() * 99 / 100] / 1000,
      rate, 100.0 * allows / kDecisions, parse_ms);

  // The reference engine on the same policies, entities and requests.
  std::string modules = WasmModules();
  if (modules.empty()) return;
  std::filesystem::path file = std::filesystem::temp_directory_path() /
                               ("bench_policy_" + std::to_string(n) + ".json");
  auto entities_json = nlohmann::json::parse(EntitiesJson(agents));
  std::ofstream(file) << nlohmann::json{
      {"policies", text},
      {"entities", entities_json},
      {"requests",
       reqs_json}}.dump();
  std::string cmd = "node '" + std::string(AIK_BENCH_POLICY_DIR) +
                    "/bench_wasm.mjs' '" + modules + "' '" + file.string() +
                    "' " + (n >= 1000 ? "6" : "3") + " 2>&1";
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[512];
    while (fgets(buf, sizeof buf, f)) out += buf;
    pclose(f);
  }
  std::filesystem::remove(file);
  auto w = nlohmann::json::parse(out, nullptr, false);
  if (w.is_discarded() || !w.contains("per_s")) {
    std::printf("        cedar-wasm: failed: %s\n", out.c_str());
    return;
  }
  std::printf(
      "        cedar-wasm:            p50 %7.1f us  p99 %7.1f us  %9.0f "
      "decisions/s  (allow %4.1f%%)  native/wasm: %.0fx throughput, %.0fx "
      "p50\n",
      w["p50_us"].get<double>(), w["p99_us"].get<double>(),
      w["per_s"].get<double>(), 100 * w["allow"].get<double>(),
      rate / w["per_s"].get<double>(), w["p50_us"].get<double>() / p50);
}

}  // namespace

int main() {
  std::printf("bench_policy: native Cedar engine, one thread\n");
  for (int n : {10, 100, 1000, 10000}) Run(n);
  return 0;
}
