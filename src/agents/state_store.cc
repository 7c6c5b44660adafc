#include "agents/state_store.h"

#include <spdlog/spdlog.h>

namespace aikernel::agents {
namespace {

const store::Migrations& Schema() {
  static const auto* m = new store::Migrations{
      // v1
      "CREATE TABLE agents ("
      "  name TEXT PRIMARY KEY,"
      "  spec TEXT NOT NULL,"        // TOML (SpecToToml)
      "  state TEXT NOT NULL,"
      "  reason TEXT NOT NULL DEFAULT '',"
      "  exit_code INTEGER NOT NULL DEFAULT -1,"
      "  signal INTEGER NOT NULL DEFAULT 0,"
      "  created_at INTEGER NOT NULL,"
      "  state_since INTEGER NOT NULL,"
      "  restarts INTEGER NOT NULL DEFAULT 0,"
      "  enqueued_at INTEGER NOT NULL DEFAULT 0,"
      "  instance_id TEXT NOT NULL DEFAULT '');"
      "CREATE TABLE instances ("
      "  id TEXT PRIMARY KEY,"
      "  agent TEXT NOT NULL,"
      "  pid INTEGER NOT NULL,"
      "  start_time_ticks INTEGER NOT NULL,"
      "  cgroup TEXT NOT NULL DEFAULT '',"
      "  confinement TEXT NOT NULL DEFAULT '',"
      "  started_at INTEGER NOT NULL,"
      "  ended_at INTEGER NOT NULL DEFAULT 0,"
      "  exit_code INTEGER NOT NULL DEFAULT -1,"
      "  signal INTEGER NOT NULL DEFAULT 0,"
      "  reason TEXT NOT NULL DEFAULT '');"
      "CREATE INDEX instances_by_agent ON instances(agent, started_at);",
  };
  return *m;
}

}  // namespace

StatusOr<std::unique_ptr<StateStore>> StateStore::Open(const std::string& path, bool full_sync) {
  store::DatabaseOptions o;
  o.path = path;
  o.synchronous = full_sync ? store::Synchronous::kFull : store::Synchronous::kNormal;
  AIK_ASSIGN_OR_RETURN(auto db, store::Database::Open(o));
  AIK_ASSIGN_OR_RETURN(int64_t v, db->Migrate(Schema()));
  (void)v;
  store::WriterOptions wo;
  wo.thread_name = "aik-state";
  return std::unique_ptr<StateStore>(new StateStore(store::Writer::Start(std::move(db), wo)));
}

StateStore::~StateStore() { Close(); }

void StateStore::Close() { writer_->Close(); }

StatusOr<std::vector<StoredAgent>> StateStore::LoadAll() {
  auto f = writer_->SubmitValue<std::vector<StoredAgent>>(
      [](store::Database& db) -> StatusOr<std::vector<StoredAgent>> {
        std::vector<StoredAgent> out;
        AIK_ASSIGN_OR_RETURN(
            store::Statement a,
            db.Prepare("SELECT name, spec, state, reason, exit_code, signal, created_at, "
                       "state_since, restarts, enqueued_at, instance_id FROM agents ORDER BY name"));
        AIK_ASSIGN_OR_RETURN(
            store::Statement in,
            db.Prepare("SELECT id, pid, start_time_ticks, cgroup, confinement, started_at, "
                       "ended_at, exit_code, signal, reason FROM instances WHERE id = ?1"));
        for (;;) {
          AIK_ASSIGN_OR_RETURN(bool row, a.Step());
          if (!row) break;
          StoredAgent s;
          std::string name(a.ColumnText(0));
          StatusOr<AgentSpec> spec = ParseSpecToml(std::string(a.ColumnText(1)), "state.db:" + name);
          if (!spec.ok()) {
            spdlog::error("state.db: agent '{}' has an unreadable spec, skipped: {}", name,
                          std::string(spec.status().message()));
            continue;
          }
          s.info.spec = *std::move(spec);
          if (!ParseAgentState(std::string(a.ColumnText(2)), &s.info.state)) {
            s.info.state = AgentState::kFailed;
          }
          s.info.reason = std::string(a.ColumnText(3));
          s.info.exit_code = static_cast<int>(a.ColumnInt64(4));
          s.info.signal = static_cast<int>(a.ColumnInt64(5));
          s.info.created_at_ns = a.ColumnInt64(6);
          s.info.state_since_ns = a.ColumnInt64(7);
          s.info.restarts = static_cast<uint32_t>(a.ColumnInt64(8));
          s.enqueued_at_ns = a.ColumnInt64(9);
          std::string iid(a.ColumnText(10));
          if (!iid.empty()) {
            AIK_RETURN_IF_ERROR(in.BindText(1, iid));
            AIK_ASSIGN_OR_RETURN(bool irow, in.Step());
            if (irow) {
              s.has_instance = true;
              StoredInstance& i = s.instance;
              i.agent = name;
              i.info.id = std::string(in.ColumnText(0));
              i.info.pid = static_cast<pid_t>(in.ColumnInt64(1));
              i.start_time_ticks = static_cast<uint64_t>(in.ColumnInt64(2));
              i.cgroup_path = std::string(in.ColumnText(3));
              i.confinement = std::string(in.ColumnText(4));
              i.info.started_at_ns = in.ColumnInt64(5);
              i.info.ended_at_ns = in.ColumnInt64(6);
              i.info.exit_code = static_cast<int>(in.ColumnInt64(7));
              i.info.signal = static_cast<int>(in.ColumnInt64(8));
              i.info.reason = std::string(in.ColumnText(9));
            }
            in.Reset();
          }
          out.push_back(std::move(s));
        }
        return out;
      });
  return f.get();
}

void StateStore::Submit(std::function<Status(store::Database&)> fn) {
  std::unique_ptr<store::Job> job;
  class J final : public store::Job {
   public:
    J(std::function<Status(store::Database&)> fn, StateStore* owner)
        : fn_(std::move(fn)), owner_(owner) {}
    Status Run(store::Database& db) override { return fn_(db); }
    void Complete(Status s) override {
      if (s.ok()) return;
      spdlog::error("state.db write failed: {}", s.ToString());
      std::lock_guard<std::mutex> l(owner_->mu_);
      if (owner_->first_error_.ok()) owner_->first_error_ = s;
    }
    bool Isolated() const override { return true; }

   private:
    std::function<Status(store::Database&)> fn_;
    StateStore* owner_;
  };
  writer_->Enqueue(std::make_unique<J>(std::move(fn), this));
}

void StateStore::PutAgent(const AgentInfo& info, int64_t enqueued_at_ns) {
  std::string spec = SpecToToml(info.spec);
  AgentInfo i = info;
  Submit([i, spec, enqueued_at_ns](store::Database& db) -> Status {
    AIK_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("INSERT INTO agents(name, spec, state, reason, exit_code, signal, created_at, "
                   "state_since, restarts, enqueued_at, instance_id) "
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) ON CONFLICT(name) DO UPDATE SET "
                   "spec=?2, state=?3, reason=?4, exit_code=?5, signal=?6, created_at=?7, "
                   "state_since=?8, restarts=?9, enqueued_at=?10, instance_id=?11"));
    AIK_RETURN_IF_ERROR(st.BindText(1, i.spec.name));
    AIK_RETURN_IF_ERROR(st.BindText(2, spec));
    AIK_RETURN_IF_ERROR(st.BindText(3, AgentStateName(i.state)));
    AIK_RETURN_IF_ERROR(st.BindText(4, i.reason));
    AIK_RETURN_IF_ERROR(st.BindInt64(5, i.exit_code));
    AIK_RETURN_IF_ERROR(st.BindInt64(6, i.signal));
    AIK_RETURN_IF_ERROR(st.BindInt64(7, i.created_at_ns));
    AIK_RETURN_IF_ERROR(st.BindInt64(8, i.state_since_ns));
    AIK_RETURN_IF_ERROR(st.BindInt64(9, i.restarts));
    AIK_RETURN_IF_ERROR(st.BindInt64(10, enqueued_at_ns));
    AIK_RETURN_IF_ERROR(st.BindText(11, i.instance.id));
    return st.Run();
  });
}

void StateStore::PutInstance(const StoredInstance& inst) {
  Submit([inst](store::Database& db) -> Status {
    AIK_ASSIGN_OR_RETURN(
        store::Statement st,
        db.Prepare("INSERT INTO instances(id, agent, pid, start_time_ticks, cgroup, confinement, "
                   "started_at, ended_at, exit_code, signal, reason) "
                   "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) ON CONFLICT(id) DO UPDATE SET "
                   "ended_at=?8, exit_code=?9, signal=?10, reason=?11"));
    AIK_RETURN_IF_ERROR(st.BindText(1, inst.info.id));
    AIK_RETURN_IF_ERROR(st.BindText(2, inst.agent));
    AIK_RETURN_IF_ERROR(st.BindInt64(3, inst.info.pid));
    AIK_RETURN_IF_ERROR(st.BindInt64(4, static_cast<int64_t>(inst.start_time_ticks)));
    AIK_RETURN_IF_ERROR(st.BindText(5, inst.cgroup_path));
    AIK_RETURN_IF_ERROR(st.BindText(6, inst.confinement));
    AIK_RETURN_IF_ERROR(st.BindInt64(7, inst.info.started_at_ns));
    AIK_RETURN_IF_ERROR(st.BindInt64(8, inst.info.ended_at_ns));
    AIK_RETURN_IF_ERROR(st.BindInt64(9, inst.info.exit_code));
    AIK_RETURN_IF_ERROR(st.BindInt64(10, inst.info.signal));
    AIK_RETURN_IF_ERROR(st.BindText(11, inst.info.reason));
    return st.Run();
  });
}

void StateStore::DeleteAgent(const std::string& name) {
  Submit([name](store::Database& db) -> Status {
    AIK_ASSIGN_OR_RETURN(store::Statement a, db.Prepare("DELETE FROM agents WHERE name = ?1"));
    AIK_RETURN_IF_ERROR(a.BindText(1, name));
    AIK_RETURN_IF_ERROR(a.Run());
    AIK_ASSIGN_OR_RETURN(store::Statement i, db.Prepare("DELETE FROM instances WHERE agent = ?1"));
    AIK_RETURN_IF_ERROR(i.BindText(1, name));
    return i.Run();
  });
}

std::future<Status> StateStore::Barrier() {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  class B final : public store::Job {
   public:
    B(std::shared_ptr<std::promise<Status>> p, StateStore* o) : p_(std::move(p)), o_(o) {}
    Status Run(store::Database&) override { return absl::OkStatus(); }
    void Complete(Status s) override {
      std::lock_guard<std::mutex> l(o_->mu_);
      if (s.ok() && !o_->first_error_.ok()) s = std::exchange(o_->first_error_, absl::OkStatus());
      p_->set_value(s);
    }
    bool Isolated() const override { return true; }

   private:
    std::shared_ptr<std::promise<Status>> p_;
    StateStore* o_;
  };
  writer_->Enqueue(std::make_unique<B>(p, this));
  return f;
}

}  // namespace aikernel::agents
