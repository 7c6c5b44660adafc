// agents::StateStore: agents and their instances in state.db.
//
// Contract
// - Open() opens (creating) <state>/state.db, brings its schema to the
//   newest version (store::Database::Migrate) and starts its one writer
//   thread (store::Writer, group commit). LoadAll() reads every row; call it
//   before the first write.
// - Put*/Delete* only queue the write and return at once (they never block
//   the caller, which is the Supervisor's Asio loop); writes commit in the
//   order they were queued. A failed write is logged; Barrier() returns a
//   future that resolves once everything queued before it has committed (or
//   with the first error since the last barrier), for callers that must
//   answer only after the state is durable.
// - Thread-safe. Close() drains and joins; the destructor calls it.
#pragma once

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agents/types.h"
#include "common/status.h"
#include "store/writer.h"

namespace aikernel::agents {

// An instance as stored, with what is needed to find it after a restart.
struct StoredInstance {
  InstanceInfo info;
  std::string agent;
  uint64_t start_time_ticks = 0;
  std::string cgroup_path;
  std::string confinement;
};

struct StoredAgent {
  AgentInfo info;  // spec, state, reason, exit, times, restarts
  int64_t enqueued_at_ns = 0;
  bool has_instance = false;
  StoredInstance instance;  // the newest instance, if any
};

class StateStore {
 public:
  static StatusOr<std::unique_ptr<StateStore>> Open(const std::string& path, bool full_sync);
  ~StateStore();

  StatusOr<std::vector<StoredAgent>> LoadAll();

  void PutAgent(const AgentInfo& info, int64_t enqueued_at_ns);
  void PutInstance(const StoredInstance& instance);
  void DeleteAgent(const std::string& name);  // and its instances
  std::future<Status> Barrier();
  void Close();

 private:
  explicit StateStore(std::unique_ptr<store::Writer> writer) : writer_(std::move(writer)) {}
  void Submit(std::function<Status(store::Database&)> fn);

  std::unique_ptr<store::Writer> writer_;
  std::mutex mu_;
  Status first_error_;  // GUARDED_BY(mu_); reported by the next Barrier
};

}  // namespace aikernel::agents
