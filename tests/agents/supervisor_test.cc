// The Supervisor without real processes: a launcher that fails (the fault
// injection seam), the errors the AgentControl contract promises, and
// state.db surviving a new Supervisor. Spawning real agents is covered by
// tests/integration/agents_test.cc through the daemon.
#include "agents/supervisor.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <future>
#include <thread>

namespace aikernel::agents {
namespace {

class FailingLauncher final : public sandbox::Launcher {
 public:
  StatusOr<sandbox::Launched> Launch(const sandbox::LaunchSpec& spec) override {
    ++calls;
    last_argv = spec.argv;
    return absl::InternalError("clone3: injected failure");
  }
  int calls = 0;
  std::vector<std::string> last_argv;
};

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/aik-sup-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }

  void Open(int64_t max_running = 2) {
    io_ = std::make_unique<boost::asio::io_context>();
    guard_.emplace(io_->get_executor());
    SupervisorOptions o;
    o.node = "unit";
    o.state_dir = dir_ + "/state";
    o.logs_dir = dir_ + "/logs";
    o.max_running = max_running;
    o.memory_budget_bytes = 1ll << 30;
    o.launcher = &launcher_;
    o.full_sync = false;
    std::filesystem::create_directories(o.state_dir);
    auto s = Supervisor::Create(*io_, o);
    ASSERT_TRUE(s.ok()) << s.status();
    sup_ = std::move(*s);
    ASSERT_TRUE(sup_->Start().ok());
    thread_ = std::thread([this] { io_->run(); });
  }

  void Close() {
    if (!sup_) return;
    sup_->BeginShutdown();
    std::promise<void> done;
    boost::asio::post(*io_, [&] {
      sup_->Shutdown();
      done.set_value();
    });
    done.get_future().wait();
    guard_.reset();
    io_->stop();
    thread_.join();
    sup_.reset();
    io_.reset();
  }

  AgentSpec Spec(const std::string& name) {
    AgentSpec s;
    s.name = name;
    s.command = "/bin/true";
    s.limits.memory_bytes = 64 << 20;
    return s;
  }

  std::string dir_;
  FailingLauncher launcher_;
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  std::unique_ptr<Supervisor> sup_;
  std::thread thread_;
};

TEST_F(SupervisorTest, InjectedSpawnFailureEndsInFailedWithTheReason) {
  Open();
  auto r = sup_->Run(Spec("a"), false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, AgentState::kFailed);
  EXPECT_EQ(r->reason, "spawn: clone3: injected failure");
  EXPECT_EQ(launcher_.calls, 1);
  EXPECT_EQ(launcher_.last_argv, (std::vector<std::string>{"/bin/true"}));
  EXPECT_EQ(r->instance.reason, "spawn: clone3: injected failure");
  EXPECT_EQ(r->spiffe_id, "spiffe://unit/agent/a");
}

TEST_F(SupervisorTest, ContractErrors) {
  Open();
  ASSERT_TRUE(sup_->Run(Spec("a"), false).ok());
  auto again = sup_->Run(Spec("a"), false);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists) << again.status();
  EXPECT_TRUE(sup_->Run(Spec("a"), /*replace=*/true).ok());
  EXPECT_EQ(sup_->Inspect("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(sup_->Stop("nope", std::chrono::milliseconds(-1)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(sup_->Kill("a", 15).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(sup_->Kill("a", 0).status().code(), absl::StatusCode::kInvalidArgument);
  AgentSpec huge = Spec("huge");
  huge.limits.memory_bytes = 2ll << 30;
  auto h = sup_->Run(huge, false);
  EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(h.status().message().find("limits.memory_bytes"), std::string::npos);
  AgentSpec bad = Spec("bad");
  bad.profile = "nonesuch";
  auto b = sup_->Run(bad, false);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(b.status().message().find("profile: unknown sandbox profile"), std::string::npos);
  AgentSpec noname = Spec("");
  EXPECT_EQ(sup_->Run(noname, false).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(sup_->Remove("a", false).ok());
  EXPECT_EQ(sup_->Inspect("a").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SupervisorTest, StateSurvivesANewSupervisor) {
  Open();
  ASSERT_TRUE(sup_->Run(Spec("keep"), false).ok());
  Close();
  Open();
  auto r = sup_->Inspect("keep");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->state, AgentState::kFailed);
  EXPECT_EQ(r->reason, "spawn: clone3: injected failure");
  EXPECT_EQ(r->spec.uid, 65534);  // defaults were applied and stored
  EXPECT_EQ(sup_->List().size(), 1u);
  EXPECT_EQ(sup_->CountAgents().total, 1u);
}

TEST_F(SupervisorTest, RestartRequeuesAndCallsTheLauncherAgain) {
  Open();
  ASSERT_TRUE(sup_->Run(Spec("r"), false).ok());
  auto r = sup_->Restart("r");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(launcher_.calls, 2);
  EXPECT_EQ(r->state, AgentState::kFailed);
}

}  // namespace
}  // namespace aikernel::agents
