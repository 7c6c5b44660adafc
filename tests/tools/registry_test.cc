// The registry: providers added and removed at run time, lookup and
// shadowing, the checks made before policy, the result cap, redaction; the
// builtin provider's clock.now.
#include "tools/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <time.h>

#include "tools/builtin.h"

namespace aikernel::tools {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// A provider whose tools echo their arguments (or a result of a set size):
// a stand-in for a second provider such as an MCP server.
class EchoProvider : public ToolProvider {
 public:
  EchoProvider(std::string name, std::vector<std::string> tools) : name_(std::move(name)) {
    for (auto& t : tools) {
      auto tool = std::make_shared<Tool>();
      tool->name = t;
      tool->provider = name_;
      tool->input_schema = json::parse(R"({"type":"object","properties":{"n":{"type":"integer"}}})");
      tools_.push_back(tool);
    }
  }
  std::string name() const override { return name_; }
  std::vector<std::shared_ptr<const Tool>> ListTools() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return {tools_.begin(), tools_.end()};
  }
  std::shared_ptr<const Tool> FindTool(const std::string& n) const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& t : tools_) {
      if (t->name == n) return t;
    }
    return nullptr;
  }
  StatusOr<ToolResult> Call(const Tool& tool, const json& args, const CallContext&) override {
    ++calls;
    ToolResult r;
    r.content = {{"tool", tool.name}, {"provider", name_}, {"args", args}};
    if (args.contains("n")) r.content = std::string(args["n"].get<size_t>(), 'x');
    return r;
  }
  Status Accept(const std::string& n) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : tools_) {
      if (t->name == n) t->refused = false;
    }
    return absl::OkStatus();
  }
  void Refuse(const std::string& n) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& t : tools_) {
      if (t->name == n) {
        t->refused = true;
        t->refused_reason = "description changed";
      }
    }
  }
  int calls = 0;

 private:
  std::string name_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Tool>> tools_;
};

TEST(Registry, ProvidersComeAndGoAndTheFirstOneWins) {
  Registry reg;
  auto a = std::make_shared<EchoProvider>("a", std::vector<std::string>{"x.one", "shared"});
  auto b = std::make_shared<EchoProvider>("b", std::vector<std::string>{"shared", "y.two"});
  ASSERT_TRUE(reg.AddProvider(a).ok());
  ASSERT_TRUE(reg.AddProvider(b).ok());
  EXPECT_EQ(reg.AddProvider(std::make_shared<EchoProvider>("a", std::vector<std::string>{}))
                .code(),
            absl::StatusCode::kAlreadyExists);
  auto list = reg.List();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0]->name, "shared");
  EXPECT_EQ(list[0]->provider, "a") << "the provider added first serves a shared name";
  EXPECT_EQ(list[1]->name, "x.one");
  EXPECT_EQ(list[2]->name, "y.two");
  reg.RemoveProvider("a");
  auto shared = reg.Find("shared");
  ASSERT_TRUE(shared.ok());
  EXPECT_EQ(shared->provider->name(), "b");
  EXPECT_EQ(reg.Find("x.one").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(reg.Find("nope").status().message()), HasSubstr("no tool named 'nope'"));
}

TEST(Registry, ChecksBeforePolicy) {
  RegistryOptions o;
  o.max_args_bytes = 32;
  Registry reg(o);
  auto p = std::make_shared<EchoProvider>("p", std::vector<std::string>{"t"});
  ASSERT_TRUE(reg.AddProvider(p).ok());
  auto r = reg.Find("t");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(reg.CheckCall(*r, json::object(), 2).ok());
  Status big = reg.CheckCall(*r, json::object(), 33);
  EXPECT_EQ(big.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(big.message()), HasSubstr("max_args_bytes = 32"));
  Status bad = reg.CheckCall(*r, json{{"n", "three"}}, 10);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), HasSubstr("args.n: expected integer"));
  EXPECT_EQ(reg.CheckCall(*r, json::array(), 2).code(), absl::StatusCode::kInvalidArgument);

  // A tool its provider refuses (changed since pinned) until accepted.
  p->Refuse("t");
  r = reg.Find("t");
  Status refused = reg.CheckCall(*r, json::object(), 2);
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.message()), HasSubstr("aictl tool accept t"));
  ASSERT_TRUE(reg.Accept("t").ok());
  r = reg.Find("t");
  EXPECT_TRUE(reg.CheckCall(*r, json::object(), 2).ok());
}

TEST(Registry, ResultsAreCapped) {
  Registry reg;
  auto p = std::make_shared<EchoProvider>("p", std::vector<std::string>{"t"});
  ASSERT_TRUE(reg.AddProvider(p).ok());
  auto r = reg.Find("t");
  CallContext ctx;
  ctx.max_result_bytes = 100;
  std::string text;
  size_t bytes = 0;
  auto small = reg.Call(*r, json{{"n", 10}}, ctx, &text, &bytes);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(text, "\"xxxxxxxxxx\"");
  EXPECT_EQ(bytes, 12u);
  auto big = reg.Call(*r, json{{"n", 200}}, ctx, &text, &bytes);
  EXPECT_EQ(big.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(big.status().message()), HasSubstr("result of 202 bytes"));
  EXPECT_EQ(bytes, 202u);
  EXPECT_TRUE(text.empty());
}

TEST(Registry, RedactsSecretLookingKeysAtAnyDepth) {
  json args = json::parse(R"({"url":"http://x","headers":{"Authorization":"Bearer s3cret",
    "Accept":"*/*"},"list":[{"API_KEY":"k"}],"password":{"nested":"object"}})");
  json r = Redact(args, {"authorization", "api_key", "password"});
  EXPECT_EQ(r["headers"]["Authorization"], "[redacted]");
  EXPECT_EQ(r["headers"]["Accept"], "*/*");
  EXPECT_EQ(r["list"][0]["API_KEY"], "[redacted]");
  EXPECT_EQ(r["password"], "[redacted]");
  EXPECT_EQ(r["url"], "http://x");
}

TEST(Builtin, ClockNowTellsTheTime) {
  auto p = BuiltinProvider::Create({});
  ASSERT_TRUE(p.ok()) << p.status();
  auto tool = (*p)->FindTool("clock.now");
  ASSERT_NE(tool, nullptr);
  EXPECT_EQ(tool->provider, "builtin");
  timespec before{};
  clock_gettime(CLOCK_REALTIME, &before);
  auto r = (*p)->Call(*tool, json::object(), CallContext{});
  ASSERT_TRUE(r.ok()) << r.status();
  timespec after{};
  clock_gettime(CLOCK_REALTIME, &after);
  int64_t ns = r->content["unix_ns"].get<int64_t>();
  EXPECT_GE(ns, before.tv_sec * 1'000'000'000LL + before.tv_nsec);
  EXPECT_LE(ns, after.tv_sec * 1'000'000'000LL + after.tv_nsec);
  std::string rfc = r->content["rfc3339"];
  EXPECT_EQ(rfc.size(), 30u) << rfc;
  EXPECT_EQ(rfc.back(), 'Z');
}

TEST(Builtin, EverySchemaIsAnObjectSchema) {
  BuiltinOptions o;
  o.fs_roots.push_back({"tmp", "/tmp", false});
  o.exec_profiles = {"default"};
  auto p = BuiltinProvider::Create(o);
  ASSERT_TRUE(p.ok()) << p.status();
  for (const auto& t : (*p)->ListTools()) {
    EXPECT_EQ(t->input_schema.value("type", ""), "object") << t->name;
    EXPECT_FALSE(t->description.empty()) << t->name;
  }
}

}  // namespace
}  // namespace aikernel::tools
