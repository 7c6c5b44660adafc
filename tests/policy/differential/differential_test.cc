// Differential test: random cases (generator.h) decided by this engine and by
// Cedar's reference engine, @cedar-policy/cedar-wasm@4, which the test
// installs with npm into the build tree on first run and runs with node.
// Every decision, reason set and error set must match. If node or npm (or
// the registry) is unavailable the test is skipped, not failed.
//
// AIK_DIFF_CASES (default 400, 4 requests each) and AIK_DIFF_SEED override
// the size and seed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <sstream>

#include "generator.h"
#include "policy/engine.h"

namespace aikernel::policy {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

int Sh(const std::string& cmd) { return std::system(cmd.c_str()); }

fs::path EnsureWasm() {
  fs::path dir = fs::path(AIK_DIFF_BINARY_DIR) / "node";
  fs::path pkg =
      dir / "node_modules" / "@cedar-policy" / "cedar-wasm" / "package.json";
  if (fs::exists(pkg)) return dir / "node_modules";
  if (Sh("node --version >/dev/null 2>&1") != 0 ||
      Sh("npm --version >/dev/null 2>&1") != 0)
    return {};
  fs::create_directories(dir);
  // ctest may start several of these tests at once: one installs under the
  // lock, the others wait and then find the package.
  std::string cmd =
      "cd '" + dir.string() +
      "' && flock npm.lock sh -c '"
      "test -f node_modules/@cedar-policy/cedar-wasm/package.json || "
      "{ echo {\\\"private\\\": true} > package.json && "
      "timeout 180 npm install --no-audit --no-fund --silent "
      "--fetch-retries=1 --fetch-timeout=30000 "
      "@cedar-policy/cedar-wasm@4; }' >npm.log 2>&1";
  if (Sh(cmd) != 0 || !fs::exists(pkg)) return {};
  return dir / "node_modules";
}

std::set<std::string> Strings(const json& a) {
  std::set<std::string> s;
  for (const auto& x : a) s.insert(x.get<std::string>());
  return s;
}

// Decides `ncases` generated cases (with the generator's schema when
// `with_schema`) both ways and compares every answer.
void RunDecisions(bool with_schema) {
  fs::path modules = EnsureWasm();
  if (modules.empty())
    GTEST_SKIP() << "node/npm or @cedar-policy/cedar-wasm unavailable";

  int ncases = std::getenv("AIK_DIFF_CASES")
                   ? std::atoi(std::getenv("AIK_DIFF_CASES"))
                   : 400;
  uint64_t seed = std::getenv("AIK_DIFF_SEED")
                      ? std::strtoull(std::getenv("AIK_DIFF_SEED"), nullptr, 10)
                      : 1;
  difftest::Generator gen(seed);
  std::vector<difftest::Case> cases;
  json cases_json = json::array();
  for (int i = 0; i < ncases; ++i) {
    difftest::Case c = with_schema ? gen.NextWithSchema() : gen.Next();
    json pol = json::object();
    for (const auto& [id, text] : c.policies) pol[id] = text;
    json cj = {
        {"policies", pol}, {"entities", c.entities}, {"requests", c.requests}};
    if (!c.schema.empty()) cj["schema"] = c.schema;
    cases_json.push_back(std::move(cj));
    cases.push_back(std::move(c));
  }
  fs::path dir = AIK_DIFF_BINARY_DIR;
  // Distinct files per test: ctest may run these tests in parallel.
  std::string tag = with_schema ? "schema" : "plain";
  fs::path in = dir / ("cases_" + tag + ".json");
  fs::path out = dir / ("answers_" + tag + ".json");
  std::ofstream(in) << cases_json.dump();
  // --no-opt: node 20's optimizing compiler (V8) aborts with "unreachable
  // code" in its deoptimizer after some thousands of these calls; the
  // reference engine itself is wasm and unaffected.
  std::string cmd = "node --no-opt '" + std::string(AIK_DIFF_SOURCE_DIR) +
                    "/run_wasm.mjs' '" + modules.string() + "' '" +
                    in.string() + "' '" + out.string() + "'";
  ASSERT_EQ(Sh(cmd), 0) << cmd;
  std::ifstream ans_in(out);
  std::stringstream ss;
  ss << ans_in.rdbuf();
  auto answers = ParseJsonText(ss.str());
  ASSERT_TRUE(answers.ok());
  ASSERT_EQ(answers->size(), cases.size());

  int decisions = 0, matched = 0, allows = 0, with_errors = 0, shown = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const difftest::Case& c = cases[i];
    PolicySet ps;
    bool parsed = true;
    for (const auto& [id, text] : c.policies) {
      ParseOptions opt;
      opt.id_prefix = id;
      PolicySet one;
      auto st = ParsePolicies(text, id, opt);
      if (!st.ok() || st->size() != 1) {
        parsed = false;
        if (shown++ < 10)
          std::printf("PARSE %s: %s\n%s\n", id.c_str(),
                      std::string(st.status().message()).c_str(), text.c_str());
        break;
      }
      Policy p = std::move((*st)[0]);
      p.id = id;
      ASSERT_TRUE(ps.Add(std::move(p)).ok());
    }
    std::optional<Schema> schema;
    if (!c.schema.empty()) {
      auto sc = ParseSchema(c.schema);
      ASSERT_TRUE(sc.ok()) << sc.status();
      schema = std::move(*sc);
    }
    const Schema* sp = schema ? &*schema : nullptr;
    auto es = EntitiesFromJson(c.entities, sp);
    ASSERT_TRUE(es.ok()) << es.status();
    for (size_t r = 0; r < c.requests.size(); ++r) {
      ++decisions;
      const json& want = (*answers)[i][r];
      const json& rq = c.requests[r];
      if (!parsed || want.contains("failure")) {
        if (!parsed && want.contains("failure"))
          ++matched;
        else if (shown++ < 10)
          std::printf("case %zu: reference %s\n", i, want.dump().c_str());
        continue;
      }
      Request req;
      req.principal = *UidFromJson(rq["principal"]);
      req.action = *UidFromJson(rq["action"]);
      req.resource = *UidFromJson(rq["resource"]);
      auto ctx = ContextFromJson(rq["context"], sp, &req.action);
      ASSERT_TRUE(ctx.ok()) << ctx.status();
      req.context = *ctx;
      Response got = Authorize(ps, req, *es);
      std::set<std::string> got_reasons(got.reasons.begin(), got.reasons.end());
      std::set<std::string> got_errors;
      for (const auto& e : got.errors) got_errors.insert(e.policy_id);
      std::string got_decision =
          got.decision == Decision::kAllow ? "allow" : "deny";
      allows += got_decision == "allow";
      with_errors += !got_errors.empty();
      if (got_decision == want["decision"] &&
          got_reasons == Strings(want["reason"]) &&
          got_errors == Strings(want["errors"])) {
        ++matched;
      } else if (shown++ < 10) {
        std::printf(
            "MISMATCH case %zu request %zu: reference %s\n  got %s reasons %zu "
            "errors:",
            i, r, want.dump().c_str(), got_decision.c_str(),
            got_reasons.size());
        for (const auto& e : got.errors)
          std::printf(" {%s: %s}", e.policy_id.c_str(), e.message.c_str());
        std::printf("\n  request %s\n", rq.dump().c_str());
        for (const auto& [id, text] : c.policies)
          std::printf("  %s: %s\n", id.c_str(), text.c_str());
      }
    }
  }
  std::printf(
      "cedar-wasm differential%s: %d/%d decisions match (allow %d, with "
      "errors %d)\n",
      with_schema ? " (schema, implicit values)" : "", matched, decisions,
      allows, with_errors);
  EXPECT_EQ(matched, decisions);
}

TEST(Differential, MatchesCedarWasm) { RunDecisions(false); }

TEST(Differential, MatchesCedarWasmWithSchema) { RunDecisions(true); }

// Parser differential: generated policies with one or two random token
// edits (delete, duplicate, replace with a token from a Cedar-ish
// vocabulary); this parser must accept exactly the texts the reference
// parser accepts (as one static policy).
TEST(Differential, ParserAcceptsSameTexts) {
  fs::path modules = EnsureWasm();
  if (modules.empty())
    GTEST_SKIP() << "node/npm or @cedar-policy/cedar-wasm unavailable";
  int n = std::getenv("AIK_DIFF_CASES")
              ? std::atoi(std::getenv("AIK_DIFF_CASES")) * 5
              : 2000;
  uint64_t seed = std::getenv("AIK_DIFF_SEED")
                      ? std::strtoull(std::getenv("AIK_DIFF_SEED"), nullptr, 10)
                      : 1;
  difftest::Generator gen(seed);
  std::mt19937_64 rng(seed);
  const std::regex tok(
      R"re("(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*|[0-9]+|::|==|!=|<=|>=|&&|\|\||\S)re");
  const char* vocab[] = {
      "(",         ")",          "[",      "]",
      "{",         "}",          ",",      ";",
      ".",         "::",         "==",     "!=",
      "<",         ">=",         "&&",     "||",
      "!",         "-",          "+",      "*",
      "if",        "then",       "else",   "in",
      "is",        "has",        "like",   "true",
      "principal", "action",     "\"s\"",  "1",
      "@a",        "?principal", "when",   "unless",
      "User",      "::\"x\"",    "permit", "forbid",
      ":",         "=",          "/",      "9223372036854775808"};
  std::vector<std::string> texts;
  while (static_cast<int>(texts.size()) < n) {
    difftest::Case c = gen.Next();
    for (const auto& [id, text] : c.policies) {
      std::vector<std::string> toks;
      for (std::sregex_iterator it(text.begin(), text.end(), tok), end;
           it != end; ++it)
        toks.push_back(it->str());
      int edits = 1 + static_cast<int>(rng() % 2);
      for (int e = 0; e < edits && !toks.empty(); ++e) {
        size_t at = rng() % toks.size();
        switch (rng() % 3) {
          case 0:
            toks.erase(toks.begin() + at);
            break;
          case 1:
            toks.insert(toks.begin() + at, toks[at]);
            break;
          default:
            toks[at] = vocab[rng() % std::size(vocab)];
        }
      }
      std::string mutated;
      for (const auto& t : toks) mutated += t + " ";
      texts.push_back(mutated);
    }
  }
  fs::path dir = AIK_DIFF_BINARY_DIR;
  fs::path in = dir / "texts.json";
  fs::path out = dir / "parsed.json";
  std::ofstream(in) << json(texts).dump();
  std::string cmd = "node --no-opt '" + std::string(AIK_DIFF_SOURCE_DIR) +
                    "/parse_wasm.mjs' '" + modules.string() + "' '" +
                    in.string() + "' '" + out.string() + "'";
  ASSERT_EQ(Sh(cmd), 0) << cmd;
  std::ifstream res_in(out);
  std::stringstream ss;
  ss << res_in.rdbuf();
  auto want = ParseJsonText(ss.str());
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(want->size(), texts.size());
  int matched = 0, accepted = 0, shown = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    auto ps = ParsePolicies(texts[i], "m");
    bool ours = ps.ok() && ps->size() == 1;
    bool theirs = (*want)[i].get<bool>();
    accepted += theirs;
    if (ours == theirs) {
      ++matched;
    } else if (shown++ < 10) {
      std::printf("PARSE MISMATCH reference %s, ours %s: %s\n  %s\n",
                  theirs ? "accepts" : "refuses", ours ? "accepts" : "refuses",
                  texts[i].c_str(),
                  ps.ok() ? "" : std::string(ps.status().message()).c_str());
    }
  }
  std::printf(
      "cedar-wasm parser differential: %d/%zu texts agree (%d accepted)\n",
      matched, texts.size(), accepted);
  EXPECT_EQ(matched, static_cast<int>(texts.size()));
}

}  // namespace
}  // namespace aikernel::policy
