#include "agents/supervisor.h"

#include "sandbox/launch_thread.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <condition_variable>
#include <deque>
#include <future>
#include <thread>

#include <pthread.h>

#include <spdlog/spdlog.h>

#include "kernel/quota.h"

namespace aikernel::agents {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomId() {
  unsigned char b[8];
  if (getrandom(b, sizeof(b), 0) != static_cast<ssize_t>(sizeof(b))) {
    uint64_t t = static_cast<uint64_t>(NowNs());
    std::memcpy(b, &t, sizeof(b));
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// Added to limits.memory_bytes for RLIMIT_AS (the fallback when no memory
// cgroup holds the agent): room for thread stacks (8 MiB each) and glibc's
// per-thread malloc arenas (64 MiB reserved each) of a multi-threaded agent.
constexpr uint64_t kAddressSpaceAllowance = uint64_t{1} << 30;

Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

using sandbox::LaunchThread;

// ------------------------------------------------------------------ Impl

class Supervisor::Impl {
 public:
  // One stdout/stderr pipe being read into the log.
  struct Stream {
    explicit Stream(asio::io_context& io, int fd) : sd(io, fd) {}
    asio::posix::stream_descriptor sd;
    bool open = true;
  };

  // A running instance.
  struct Proc {
    Proc(asio::io_context& io) : pid_sd(io), kill_timer(io), timeout_timer(io) {}
    sandbox::Launched l;
    std::optional<sandbox::Cgroup> cgroup;
    asio::posix::stream_descriptor pid_sd;  // a dup of l.pidfd
    std::unique_ptr<Stream> out, err;
    asio::steady_timer kill_timer, timeout_timer;
    bool timed_out = false;
    uint64_t start_time_ticks = 0;
  };

  enum class Intent { kNone, kStop, kRestart, kRemove };

  struct Agent {
    AgentInfo info;
    int64_t enqueued_ns = 0;  // > 0: queued, or waiting to be queued after a backoff
    CrashLoopWindow window;
    int64_t attempt = 0;
    std::shared_ptr<Proc> proc;
    std::unique_ptr<asio::steady_timer> restart_timer;
    Intent intent = Intent::kNone;
    std::vector<std::function<void()>> settled;  // run once the instance has ended
    std::unique_ptr<LogFile> log;
    bool removed = false;
    bool starting = false;  // handed to the launch thread, not back yet
    std::vector<std::function<void()>> on_started;  // run once a spawn resolved
  };

  void RunStarted(Agent& a) {
    auto cbs = std::move(a.on_started);
    a.on_started.clear();
    for (auto& cb : cbs) cb();
  }
  using AgentPtr = std::shared_ptr<Agent>;

  // Answers `done` with the agent once a spawn in progress has resolved
  // (running, or failed with the reason), so `aictl agent run` shows which.
  void AnswerWhenStarted(const AgentPtr& a, std::function<void(StatusOr<AgentInfo>)> done) {
    if (!a->starting) return done(Snapshot(*a));
    a->on_started.push_back([this, a, done] { done(Snapshot(*a)); });
  }


  Impl(asio::io_context& io, SupervisorOptions o)
      : io_(io), o_(std::move(o)), queue_(o_.aging_interval_ms * 1'000'000) {}

  asio::io_context& io_;
  SupervisorOptions o_;
  std::unique_ptr<StateStore> store_;
  RunQueue queue_;
  std::map<std::string, AgentPtr> agents_;
  LogNotifier notifier_;
  int64_t running_ = 0;
  int64_t memory_used_ = 0;
  bool shut_down_ = false;
  std::atomic<bool>* closing_ = nullptr;
  LaunchThread launch_thread_;
  std::array<char, 16384> read_buf_{};  // agents' stdout/stderr, read on the loop
  std::atomic<uint32_t> n_total_{0}, n_running_{0}, n_queued_{0};

  void PublishCounts() {
    uint32_t total = 0, running = 0, queued = 0;
    for (const auto& [name, a] : agents_) {
      ++total;
      if (a->info.state == AgentState::kRunning || a->info.state == AgentState::kStarting) ++running;
      if (a->info.state == AgentState::kQueued) ++queued;
    }
    n_total_.store(total);
    n_running_.store(running);
    n_queued_.store(queued);
  }

  // ---- running work on the loop, from RPC threads ----

  template <typename T>
  StatusOr<T> Call(std::function<void(std::function<void(StatusOr<T>)>)> fn) {
    if (closing_->load()) return absl::UnavailableError("the daemon is shutting down");
    auto p = std::make_shared<std::promise<StatusOr<T>>>();
    auto f = p->get_future();
    auto done = std::make_shared<std::atomic<bool>>(false);
    asio::post(io_, [this, fn = std::move(fn), p, done] {
      if (shut_down_) {
        if (!done->exchange(true)) p->set_value(absl::UnavailableError("the daemon is shutting down"));
        return;
      }
      fn([p, done](StatusOr<T> v) {
        if (!done->exchange(true)) p->set_value(std::move(v));
      });
    });
    while (f.wait_for(milliseconds(100)) != std::future_status::ready) {
      if (closing_->load() && f.wait_for(milliseconds(0)) != std::future_status::ready) {
        return absl::UnavailableError("the daemon is shutting down");
      }
    }
    return f.get();
  }

  // ---- helpers on the loop ----

  std::string SpiffeId(const std::string& name) const {
    return "spiffe://" + o_.node + "/agent/" + name;
  }
  std::string LogPath(const std::string& name) const {
    return o_.logs_dir + "/agents/" + name + ".log";
  }

  void Persist(const Agent& a) {
    store_->PutAgent(a.info, a.enqueued_ns);
    PublishCounts();
  }

  void SetState(Agent& a, AgentState s, std::string reason = "") {
    a.info.state = s;
    a.info.reason = std::move(reason);
    a.info.state_since_ns = NowNs();
  }

  AgentInfo Snapshot(const Agent& a) const {
    AgentInfo i = a.info;
    i.queue_position =
        a.info.state == AgentState::kQueued ? queue_.Position(a.info.spec.name, NowNs()) : 0;
    if (a.info.state != AgentState::kQueued && a.enqueued_ns > 0) i.restart_at_ns = a.enqueued_ns;
    i.spiffe_id = SpiffeId(a.info.spec.name);
    i.log_path = LogPath(a.info.spec.name);
    return i;
  }

  AgentPtr Find(const std::string& name) {
    auto it = agents_.find(name);
    return it == agents_.end() ? nullptr : it->second;
  }

  static Status NotFound(const std::string& name) {
    return absl::NotFoundError(absl::StrCat("agent '", name, "' does not exist"));
  }

  bool Active(const Agent& a) const { return a.proc != nullptr || a.starting; }

  void Enqueue(Agent& a) {
    a.restart_timer.reset();
    a.enqueued_ns = NowNs();
    SetState(a, AgentState::kQueued, a.info.reason);
    queue_.Push(a.info.spec.name, a.info.spec.priority, a.info.spec.limits.memory_bytes,
                a.enqueued_ns);
    Persist(a);
  }

  // Starts queued agents while the cap and the memory budget allow.
  void Pump() {
    if (shut_down_) return;
    while (running_ < o_.max_running) {
      std::optional<RunQueue::Entry> e = queue_.PopIf(NowNs(), [&](const RunQueue::Entry& e) {
        return memory_used_ + e.memory_bytes <= o_.memory_budget_bytes;
      });
      if (!e) return;
      AgentPtr a = Find(e->name);
      if (!a) continue;
      Spawn(a);
    }
  }

  Status PrepareWorkdir(const AgentSpec& s) {
    std::error_code ec;
    std::filesystem::create_directories(s.workdir, ec);
    if (ec) return absl::FailedPreconditionError("workdir " + s.workdir + ": " + ec.message());
    if (chown(s.workdir.c_str(), static_cast<uid_t>(s.uid), static_cast<gid_t>(s.gid)) != 0) {
      return Errno("chown " + s.workdir);
    }
    chmod(s.workdir.c_str(), 0750);
    return absl::OkStatus();
  }

  // What a spawn needs between the loop (prepare, finish) and the launch
  // thread (sandbox::Launch).
  struct Pending {
    sandbox::LaunchSpec ls;
    UniqueFd out_r, out_w, err_r, err_w, daemon_end, agent_end;
    std::optional<sandbox::Cgroup> cgroup;
  };

  void Spawn(const AgentPtr& a) {
    Agent& ag = *a;
    const AgentSpec& s = ag.info.spec;
    ag.enqueued_ns = 0;
    SetState(ag, AgentState::kStarting);
    ag.info.instance = InstanceInfo{};
    ag.info.instance.id = RandomId();
    ag.info.instance.started_at_ns = NowNs();
    ag.info.exit_code = -1;
    ag.info.signal = 0;
    ag.intent = Intent::kNone;
    if (!ag.log) ag.log = std::make_unique<LogFile>(LogPath(s.name), o_.log_max_bytes, o_.log_keep);

    auto pending = std::make_shared<Pending>();
    if (Status st = Prepare(ag, *pending); !st.ok()) {
      SpawnFailed(a, st);
      return;
    }
    // The slot and the memory are taken while it starts.
    ag.starting = true;
    ++running_;
    memory_used_ += s.limits.memory_bytes;
    Persist(ag);
    // sandbox::Launch blocks until the child has exec'd; it runs on the
    // launch thread so the loop does not wait. That thread lives as long as
    // the Supervisor, so PR_SET_PDEATHSIG still ties agents to the daemon.
    launch_thread_.Post([this, a, pending] {
      auto r = std::make_shared<StatusOr<sandbox::Launched>>(o_.launcher->Launch(pending->ls));
      asio::post(io_, [this, a, pending, r] { FinishSpawn(a, pending, std::move(*r)); });
    });
  }

  void SpawnFailed(const AgentPtr& a, const Status& st) {
    Agent& ag = *a;
    const AgentSpec& s = ag.info.spec;
    spdlog::warn("agent {}: spawn failed: {}", s.name, std::string(st.message()));
    ag.info.instance.ended_at_ns = NowNs();
    ag.info.instance.reason = "spawn: " + std::string(st.message());
    store_->PutInstance(StoredInstance{ag.info.instance, s.name, 0, "", ""});
    if (ag.intent == Intent::kStop) {
      SetState(ag, AgentState::kStopped, "stopped by operator before it started");
    } else {
      SetState(ag, AgentState::kFailed, "spawn: " + std::string(st.message()));
    }
    if (ag.intent == Intent::kRestart) {
      ag.info.reason = "restarted by operator";
      Enqueue(ag);
    }
    ag.intent = Intent::kNone;
    if (!ag.removed) Persist(ag);
    RunStarted(ag);
    RunSettled(ag);
  }

  // On the loop: everything Launch needs, so the launch thread touches no
  // Supervisor state.
  Status Prepare(const Agent& ag, Pending& pd) {
    const AgentSpec& s = ag.info.spec;
    AIK_ASSIGN_OR_RETURN(const AgentProfile* ap, FindProfile(s.profile));
    sandbox::Profile profile = ap->sandbox;
    AIK_RETURN_IF_ERROR(PrepareWorkdir(s));
    int out[2], err[2], sp[2];
    if (pipe2(out, O_CLOEXEC) != 0) return Errno("pipe2");
    pd.out_r.reset(out[0]);
    pd.out_w.reset(out[1]);
    if (pipe2(err, O_CLOEXEC) != 0) return Errno("pipe2");
    pd.err_r.reset(err[0]);
    pd.err_w.reset(err[1]);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) return Errno("socketpair");
    pd.daemon_end.reset(sp[0]);
    pd.agent_end.reset(sp[1]);
    for (int fd : {pd.out_r.get(), pd.err_r.get(), pd.daemon_end.get()}) {
      fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    }

    sandbox::LaunchSpec& ls = pd.ls;
    ls.argv.push_back(s.command);
    ls.argv.insert(ls.argv.end(), s.args.begin(), s.args.end());
    bool have_path = false, have_home = false;
    for (const auto& [k, v] : s.env) {
      ls.env.push_back(k + "=" + v);
      have_path |= k == "PATH";
      have_home |= k == "HOME";
    }
    if (!have_path) ls.env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
    if (!have_home) ls.env.push_back("HOME=" + s.workdir);
    ls.env.push_back("AIKERNEL_AGENT=" + s.name);
    ls.env.push_back("AIKERNEL_INSTANCE=" + ag.info.instance.id);
    ls.workdir = s.workdir;
    ls.uid = static_cast<uid_t>(s.uid);
    ls.gid = static_cast<gid_t>(s.gid);
    // The agent must be able to read and execute its own program.
    if (profile.landlock) {
      profile.readonly_paths.push_back(std::filesystem::path(s.command).parent_path().string());
    }
    ls.profile = profile;
    // The profile's caps, if any, bound the spec's limits.
    auto capped = [](int64_t v, int64_t cap) {
      return static_cast<uint64_t>(cap > 0 && cap < v ? cap : v);
    };
    ls.limits.memory_bytes = capped(s.limits.memory_bytes, ap->caps.memory_bytes);
    // Without a memory cgroup the limit is RLIMIT_AS, which counts reserved
    // address space: an SDK agent's gRPC threads each reserve a stack and a
    // malloc arena far larger than they touch. Give it room (docs/agents.md).
    if (ls.limits.memory_bytes > 0) {
      ls.limits.address_space_bytes = ls.limits.memory_bytes + kAddressSpaceAllowance;
    }
    ls.limits.pids = capped(s.limits.pids, ap->caps.pids);
    ls.limits.open_files = capped(s.limits.open_files, ap->caps.open_files);
    ls.limits.cpu_percent = static_cast<uint32_t>(s.limits.cpu * 100.0 + 0.5);
    ls.stdout_fd = pd.out_w.get();
    ls.stderr_fd = pd.err_w.get();
    ls.kernel_fd = pd.agent_end.get();
    ls.hostname = s.name;
    ls.die_with_parent = true;

    const sandbox::HostCapabilities& caps = sandbox::Detect();
    if (caps.cgroup2_delegated) {
      StatusOr<sandbox::Cgroup> cg = sandbox::Cgroup::CreateLeaf(
          caps.cgroup2_self, "aik-" + s.name + "-" + ag.info.instance.id, ls.limits);
      if (cg.ok()) {
        pd.cgroup = *std::move(cg);
        ls.cgroup_path = pd.cgroup->path();
      } else {
        spdlog::debug("agent {}: no cgroup leaf: {}", s.name, std::string(cg.status().message()));
      }
    }
    return absl::OkStatus();
  }

  // On the loop, once Launch returned.
  void FinishSpawn(const AgentPtr& a, const std::shared_ptr<Pending>& pd,
                   StatusOr<sandbox::Launched> launched) {
    Agent& ag = *a;
    const AgentSpec& s = ag.info.spec;
    ag.starting = false;
    if (shut_down_) {  // too late: do not leave it running
      if (launched.ok()) {
        sandbox::KillTree(*launched).IgnoreError();
        sandbox::Reap(*launched, true).IgnoreError();
      }
      if (pd->cgroup) pd->cgroup->Remove().IgnoreError();
      return;
    }
    Status st = launched.status();
    std::shared_ptr<Proc> p;
    if (st.ok()) {
      p = std::make_shared<Proc>(io_);
      p->l = *std::move(launched);
      p->cgroup = std::move(pd->cgroup);
      p->start_time_ticks = p->l.start_time_ticks;
      int dup_pidfd = fcntl(p->l.pidfd.get(), F_DUPFD_CLOEXEC, 0);
      if (dup_pidfd < 0) {
        st = Errno("dup pidfd");
        // Cannot supervise it: do not leave it running unsupervised.
        sandbox::KillTree(p->l).IgnoreError();
        sandbox::Reap(p->l, true).IgnoreError();
      } else {
        p->pid_sd.assign(dup_pidfd);
      }
    }
    if (!st.ok()) {
      if (pd->cgroup) pd->cgroup->Remove().IgnoreError();
      if (p && p->cgroup) p->cgroup->Remove().IgnoreError();
      --running_;
      memory_used_ -= s.limits.memory_bytes;
      SpawnFailed(a, st);
      Pump();
      return;
    }
    ag.proc = p;
    ag.info.instance.pid = p->l.pid;
    std::string conf = "profile " + s.profile + ": " + Join(p->l.in_force, " ");
    if (!p->l.not_enforced.empty()) conf += " (not enforced: " + Join(p->l.not_enforced, "; ") + ")";
    ag.info.confinement = conf;
    store_->PutInstance(StoredInstance{ag.info.instance, s.name, p->start_time_ticks,
                                       p->l.cgroup_path, conf});

    // The agent's line to the kernel: registered as this instance, then
    // served by gRPC. Its first call may already be waiting in the socket.
    kernel::AgentIdentity id{s.name, ag.info.instance.id, SpiffeId(s.name), s.groups,
                             p->l.pid, static_cast<uid_t>(s.uid), static_cast<gid_t>(s.gid), nullptr};
    if (!s.quotas.empty()) id.quotas = std::make_shared<const agents::Quotas>(s.quotas);
    if (o_.on_connection) o_.on_connection(std::move(pd->daemon_end), id);
    pd->agent_end.reset();
    pd->out_w.reset();
    pd->err_w.reset();

    p->out = std::make_unique<Stream>(io_, pd->out_r.release());
    p->err = std::make_unique<Stream>(io_, pd->err_r.release());
    ReadStream(a, p, p->out.get());
    ReadStream(a, p, p->err.get());
    WatchExit(a, p);
    if (s.limits.timeout_ms > 0) {
      p->timeout_timer.expires_after(milliseconds(s.limits.timeout_ms));
      p->timeout_timer.async_wait([this, a, p](const boost::system::error_code& ec) {
        if (ec || a->proc != p) return;
        spdlog::info("agent {}: wall-clock timeout ({} ms); stopping it", a->info.spec.name,
                     a->info.spec.limits.timeout_ms);
        p->timed_out = true;
        Terminate(a, p, milliseconds(a->info.spec.stop_grace_ms));
      });
    }
    SetState(ag, AgentState::kRunning);
    Persist(ag);
    spdlog::info("agent {}: instance {} running as pid {} ({})", s.name, ag.info.instance.id,
                 p->l.pid, conf);
    RunStarted(ag);
    // Asked to stop, restart or go while it was starting.
    switch (ag.intent) {
      case Intent::kStop:
      case Intent::kRestart:
        Terminate(a, p, milliseconds(s.stop_grace_ms));
        break;
      case Intent::kRemove:
        sandbox::KillTree(p->l).IgnoreError();
        break;
      case Intent::kNone:
        break;
    }
  }

  // Waits for the pipe to be readable, then reads it (non-blocking) into the
  // loop's one buffer: no buffer per stream, which was 32 KiB of the daemon's
  // memory per idle agent (async_read_some needs its buffer while it waits).
  void ReadStream(const AgentPtr& a, const std::shared_ptr<Proc>& p, Stream* s) {
    s->sd.async_wait(asio::posix::stream_descriptor::wait_read,
                     [this, a, p, s](const boost::system::error_code& ec) {
                       if (ec || !s->open) {
                         s->open = false;
                         return;
                       }
                       ssize_t n = ::read(s->sd.native_handle(), read_buf_.data(), read_buf_.size());
                       if (n < 0 && (errno == EAGAIN || errno == EINTR)) return ReadStream(a, p, s);
                       if (n <= 0) {
                         s->open = false;
                         return;
                       }
                       WriteLog(*a, std::string_view(read_buf_.data(), static_cast<size_t>(n)));
                       ReadStream(a, p, s);
                     });
  }

  void WriteLog(Agent& a, std::string_view data) {
    if (!a.log || a.removed) return;
    if (Status st = a.log->Write(data); !st.ok()) {
      spdlog::warn("agent {}: log: {}", a.info.spec.name, std::string(st.message()));
    }
    notifier_.Notify();
  }

  // Reads what is left in a pipe without blocking, then closes it.
  void DrainStream(Agent& a, Stream* s) {
    if (s == nullptr) return;
    if (s->open) {
      for (;;) {
        ssize_t n = ::read(s->sd.native_handle(), read_buf_.data(), read_buf_.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        WriteLog(a, std::string_view(read_buf_.data(), static_cast<size_t>(n)));
      }
    }
    s->open = false;
    boost::system::error_code ignored;
    s->sd.close(ignored);
  }

  void WatchExit(const AgentPtr& a, const std::shared_ptr<Proc>& p) {
    p->pid_sd.async_wait(asio::posix::stream_descriptor::wait_read,
                         [this, a, p](const boost::system::error_code& ec) {
                           if (ec || a->proc != p) return;
                           OnExit(a, p);
                         });
  }

  // Sends `sig` to the instance. SIGKILL kills the whole tree. Otherwise, to
  // a pid-namespace init: with kill(2) rather than sandbox::Signal
  // (pidfd_send_signal), which the init does not forward today. The pid is
  // safe to use: it is our unreaped child, so it cannot have been reused.
  static Status SendSignal(const Proc& p, int sig) {
    if (sig == SIGKILL) return sandbox::KillTree(p.l);
    if (p.l.pid_namespace && p.l.pid > 0) {
      if (::kill(p.l.pid, sig) != 0 && errno != ESRCH) return Errno("kill");
      return absl::OkStatus();
    }
    return sandbox::Signal(p.l, sig);
  }

  // SIGTERM now, SIGKILL to the whole tree after `grace`.
  void Terminate(const AgentPtr& a, const std::shared_ptr<Proc>& p, milliseconds grace) {
    if (Status s = SendSignal(*p, SIGTERM); !s.ok()) {
      spdlog::debug("agent {}: SIGTERM: {}", a->info.spec.name, std::string(s.message()));
    }
    p->kill_timer.expires_after(grace);
    p->kill_timer.async_wait([a, p](const boost::system::error_code& ec) {
      if (ec || a->proc != p) return;
      spdlog::info("agent {}: still running after the grace period; SIGKILL", a->info.spec.name);
      sandbox::KillTree(p->l).IgnoreError();
    });
  }

  void OnExit(const AgentPtr& a, const std::shared_ptr<Proc>& p) {
    Agent& ag = *a;
    const AgentSpec& s = ag.info.spec;
    StatusOr<std::optional<sandbox::ExitStatus>> r = sandbox::Reap(p->l, false);
    if (r.ok() && !r->has_value()) {  // not yet (spurious wake-up)
      WatchExit(a, p);
      return;
    }
    // Whatever it left behind dies with it.
    sandbox::KillTree(p->l).IgnoreError();
    DrainStream(ag, p->out.get());
    DrainStream(ag, p->err.get());
    p->kill_timer.cancel();
    p->timeout_timer.cancel();
    boost::system::error_code ignored;
    p->pid_sd.close(ignored);
    if (p->cgroup) {
      if (Status rs = p->cgroup->Remove(); !rs.ok()) {
        spdlog::debug("agent {}: cgroup: {}", s.name, std::string(rs.message()));
      }
    }
    ag.proc.reset();
    --running_;
    memory_used_ -= s.limits.memory_bytes;
    if (o_.on_instance_end) o_.on_instance_end(ag.info.instance.id, SpiffeId(s.name));

    const int64_t now = NowNs();
    InstanceInfo& inst = ag.info.instance;
    inst.ended_at_ns = now;
    bool clean = false;
    if (!r.ok()) {
      inst.reason = "waitid: " + std::string(r.status().message());
    } else {
      const sandbox::ExitStatus& e = **r;
      if (e.signaled) {
        inst.signal = e.code;
        inst.exit_code = -1;
      } else {
        inst.exit_code = e.code;
        clean = e.code == 0;
      }
    }
    if (p->timed_out) inst.reason = absl::StrCat("timeout after ", s.limits.timeout_ms, " ms");
    ag.info.exit_code = inst.exit_code;
    ag.info.signal = inst.signal;
    std::string how = inst.signal != 0 ? absl::StrCat("killed by signal ", inst.signal)
                                       : absl::StrCat("exit code ", inst.exit_code);
    spdlog::info("agent {}: instance {} ended ({})", s.name, inst.id,
                 inst.reason.empty() ? how : inst.reason + ", " + how);

    switch (ag.intent) {
      case Intent::kStop:
        inst.reason = "stopped by operator";
        SetState(ag, AgentState::kStopped, "stopped by operator (" + how + ")");
        break;
      case Intent::kRestart:
        inst.reason = "restarted by operator";
        ag.window.Reset();
        ag.attempt = 0;
        ag.info.restarts = 0;
        ag.info.reason = "restarted by operator";
        Enqueue(ag);
        break;
      case Intent::kRemove:
        inst.reason = "removed by operator";
        break;
      case Intent::kNone:
        AfterExit(a, clean, how, now);
        break;
    }
    ag.intent = Intent::kNone;
    store_->PutInstance(StoredInstance{inst, s.name, p->start_time_ticks, p->l.cgroup_path,
                                       ag.info.confinement});
    if (!ag.removed) Persist(ag);
    RunSettled(ag);
    Pump();
  }

  // The restart policy, after an instance ended by itself (or by timeout).
  void AfterExit(const AgentPtr& a, bool clean, const std::string& how, int64_t now) {
    Agent& ag = *a;
    const AgentSpec& s = ag.info.spec;
    const InstanceInfo& inst = ag.info.instance;
    const bool failed = !clean || !inst.reason.empty();
    if (failed) {
      SetState(ag, inst.reason.empty() ? AgentState::kExited : AgentState::kFailed,
               inst.reason.empty() ? how : inst.reason);
    } else {
      SetState(ag, AgentState::kExited, how);
    }
    const bool restart = s.restart.policy == RestartPolicy::kAlways ||
                         (s.restart.policy == RestartPolicy::kOnFailure && failed);
    if (!restart) return;
    // An instance that ran longer than the window starts the backoff over.
    if (inst.ended_at_ns - inst.started_at_ns > s.restart.window_ms * 1'000'000) ag.attempt = 0;
    if (!ag.window.Record(now, s.restart.max_restarts, s.restart.window_ms * 1'000'000)) {
      SetState(ag, AgentState::kFailed,
               absl::StrCat("crash loop: more than ", s.restart.max_restarts, " restarts within ",
                            s.restart.window_ms, " ms (last: ", how, ")"));
      ag.enqueued_ns = 0;
      return;
    }
    const int64_t delay = BackoffMs(s.restart.backoff_initial_ms, s.restart.backoff_max_ms,
                                    ag.attempt++);
    ag.info.restarts++;
    ScheduleRestart(a, delay);
  }

  void ScheduleRestart(const AgentPtr& a, int64_t delay_ms) {
    a->enqueued_ns = NowNs() + delay_ms * 1'000'000;
    a->restart_timer = std::make_unique<asio::steady_timer>(io_);
    a->restart_timer->expires_after(milliseconds(delay_ms));
    a->restart_timer->async_wait([this, a](const boost::system::error_code& ec) {
      if (ec || a->removed || shut_down_) return;
      a->restart_timer.reset();
      std::string why = a->info.reason;
      Enqueue(*a);
      a->info.reason = "restarting after " + why;
      Persist(*a);
      Pump();
    });
  }

  void RunSettled(Agent& a) {
    auto cbs = std::move(a.settled);
    a.settled.clear();
    for (auto& cb : cbs) cb();
  }

  // Takes a not-running agent off the queue and out of a pending backoff.
  void Dequeue(Agent& a) {
    queue_.Remove(a.info.spec.name);
    a.restart_timer.reset();  // cancels it
    a.enqueued_ns = 0;
  }

  // ---- recovery ----

  void Recover(std::vector<StoredAgent> stored) {
    const int64_t now = NowNs();
    for (StoredAgent& sa : stored) {
      auto a = std::make_shared<Agent>();
      a->info = std::move(sa.info);
      a->info.instance = sa.has_instance ? sa.instance.info : InstanceInfo{};
      a->info.confinement = sa.has_instance ? sa.instance.confinement : "";
      a->log = std::make_unique<LogFile>(LogPath(a->info.spec.name), o_.log_max_bytes, o_.log_keep);
      const std::string name = a->info.spec.name;
      agents_[name] = a;
      const bool was_live =
          a->info.state == AgentState::kRunning || a->info.state == AgentState::kStarting;
      if (was_live && sa.has_instance && sa.instance.info.ended_at_ns == 0) {
        KillLeftover(name, sa.instance);
        a->info.instance.ended_at_ns = now;
        a->info.instance.reason = "daemon restarted";
        store_->PutInstance(StoredInstance{a->info.instance, name, sa.instance.start_time_ticks,
                                           sa.instance.cgroup_path, sa.instance.confinement});
      }
      if (was_live) {
        if (a->info.spec.restart.policy == RestartPolicy::kNo) {
          SetState(*a, AgentState::kFailed, "daemon restarted");
          Persist(*a);
        } else {
          a->info.reason = "daemon restarted";
          Enqueue(*a);
        }
      } else if (a->info.state == AgentState::kQueued || sa.enqueued_at_ns > 0) {
        Enqueue(*a);
      }
    }
  }

  // An instance the previous daemon ran: normally already dead (PDEATHSIG);
  // if not, kill it, after checking by start time that the pid is still it.
  void KillLeftover(const std::string& name, const StoredInstance& si) {
    if (si.info.pid > 0 && si.start_time_ticks != 0) {
      StatusOr<UniqueFd> fd = sandbox::Adopt(si.info.pid, si.start_time_ticks);
      if (fd.ok()) {
        spdlog::warn("agent {}: instance {} (pid {}) outlived the previous daemon; killing it",
                     name, si.info.id, si.info.pid);
        syscall(SYS_pidfd_send_signal, fd->get(), SIGKILL, nullptr, 0);
      }
    }
    if (!si.cgroup_path.empty()) {
      StatusOr<sandbox::Cgroup> cg = sandbox::Cgroup::Open(si.cgroup_path);
      if (cg.ok()) {
        cg->Kill().IgnoreError();
        cg->Remove().IgnoreError();
      }
    }
  }

  // ---- operations (on the loop) ----

  // The profile `name` as configured; INVALID_ARGUMENT naming it otherwise.
  StatusOr<const AgentProfile*> FindProfile(const std::string& name) const {
    auto it = o_.profiles.find(name);
    if (it == o_.profiles.end()) {
      return absl::InvalidArgumentError(absl::StrCat("profile: unknown sandbox profile '", name,
                                                     "' (known: ", ProfileNames(o_.profiles),
                                                     "; [profiles.<name>] in aikerneld.toml)"));
    }
    return &it->second;
  }

  // Validates and fills in the daemon's defaults.
  Status Complete(AgentSpec& spec) const {
    AIK_RETURN_IF_ERROR(Validate(spec));
    if (spec.workdir.empty()) spec.workdir = o_.state_dir + "/agents/" + spec.name;
    AIK_ASSIGN_OR_RETURN(const AgentProfile* profile, FindProfile(spec.profile));
    if (spec.uid < 0) spec.uid = profile->uid >= 0 ? profile->uid : o_.default_uid;
    if (spec.gid < 0) spec.gid = profile->gid >= 0 ? profile->gid : o_.default_gid;
    AIK_RETURN_IF_ERROR(kernel::CheckQuotaActions(spec.quotas));
    if (spec.limits.memory_bytes > o_.memory_budget_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "limits.memory_bytes: ", spec.limits.memory_bytes,
          " exceeds the node's whole agent memory budget ([agents] memory_budget_bytes = ",
          o_.memory_budget_bytes, "), so it could never start"));
    }
    return absl::OkStatus();
  }

  StatusOr<AgentInfo> DoRun(AgentSpec spec, bool replace) {
    AIK_RETURN_IF_ERROR(Complete(spec));
    AgentPtr a = Find(spec.name);
    if (a) {
      if (!replace) {
        return absl::AlreadyExistsError(absl::StrCat(
            "agent '", spec.name, "' already exists (state ", AgentStateName(a->info.state),
            "); use restart, or rm it first"));
      }
      if (Active(*a)) {
        return absl::FailedPreconditionError(
            absl::StrCat("agent '", spec.name, "' is running; stop it before replacing its spec"));
      }
      Dequeue(*a);
    } else {
      a = std::make_shared<Agent>();
      a->info.created_at_ns = NowNs();
      a->log = std::make_unique<LogFile>(LogPath(spec.name), o_.log_max_bytes, o_.log_keep);
      agents_[spec.name] = a;
    }
    a->info.spec = std::move(spec);
    a->info.reason = "";
    a->info.restarts = 0;
    a->window.Reset();
    a->attempt = 0;
    Enqueue(*a);
    Pump();
    return Snapshot(*a);
  }

  void DoStop(const std::string& name, milliseconds grace,
              std::function<void(StatusOr<AgentInfo>)> done) {
    AgentPtr a = Find(name);
    if (!a) return done(NotFound(name));
    if (!Active(*a)) {
      if (a->info.state == AgentState::kQueued || a->enqueued_ns > 0) {
        Dequeue(*a);
        SetState(*a, AgentState::kStopped, "stopped by operator");
        Persist(*a);
        Pump();
      }
      return done(Snapshot(*a));
    }
    a->intent = Intent::kStop;
    a->settled.push_back([this, a, done] { done(Snapshot(*a)); });
    // Still starting: FinishSpawn stops it once it runs.
    if (a->proc) {
      Terminate(a, a->proc, grace.count() >= 0 ? grace : milliseconds(a->info.spec.stop_grace_ms));
    }
  }

  void DoRestart(const std::string& name, std::function<void(StatusOr<AgentInfo>)> done) {
    AgentPtr a = Find(name);
    if (!a) return done(NotFound(name));
    if (Active(*a)) {
      a->intent = Intent::kRestart;
      a->settled.push_back([this, a, done] { done(Snapshot(*a)); });
      if (a->proc) Terminate(a, a->proc, milliseconds(a->info.spec.stop_grace_ms));
      return;
    }
    Dequeue(*a);
    a->window.Reset();
    a->attempt = 0;
    a->info.restarts = 0;
    a->info.reason = "restarted by operator";
    Enqueue(*a);
    Pump();
    AnswerWhenStarted(a, std::move(done));
  }

  void Erase(const AgentPtr& a) {
    a->removed = true;
    if (o_.on_agent_removed) o_.on_agent_removed(SpiffeId(a->info.spec.name));
    Dequeue(*a);
    if (a->log) a->log->RemoveAll();
    store_->DeleteAgent(a->info.spec.name);
    agents_.erase(a->info.spec.name);
    PublishCounts();
    notifier_.Notify();
  }

  void DoRemove(const std::string& name, bool force, std::function<void(StatusOr<bool>)> done) {
    AgentPtr a = Find(name);
    if (!a) return done(NotFound(name));
    if (Active(*a)) {
      if (!force) {
        return done(absl::FailedPreconditionError(absl::StrCat(
            "agent '", name, "' is ", AgentStateName(a->info.state),
            "; stop it first or remove with force")));
      }
      a->intent = Intent::kRemove;
      a->settled.push_back([this, a, done] {
        Erase(a);
        done(true);
      });
      if (a->proc) sandbox::KillTree(a->proc->l).IgnoreError();
      return;
    }
    Erase(a);
    Pump();
    done(true);
  }

  void DoShutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    // A launch in progress finishes; its FinishSpawn (run by the poll below)
    // kills what it started.
    launch_thread_.Stop();
    for (auto& [name, a] : agents_) {
      a->restart_timer.reset();
      std::shared_ptr<Proc> p = a->proc;
      if (!p) continue;
      sandbox::KillTree(p->l).IgnoreError();
      sandbox::Reap(p->l, true).IgnoreError();
      DrainStream(*a, p->out.get());
      DrainStream(*a, p->err.get());
      p->kill_timer.cancel();
      p->timeout_timer.cancel();
      boost::system::error_code ignored;
      p->pid_sd.close(ignored);
      if (p->cgroup) p->cgroup->Remove().IgnoreError();
      if (o_.on_instance_end) o_.on_instance_end(a->info.instance.id, SpiffeId(a->info.spec.name));
      a->proc.reset();
      RunStarted(*a);
      RunSettled(*a);
    }
    // Let the cancelled handlers run so they release what they hold (the
    // daemon calls this after its loop returned; tests from a handler).
    if (io_.stopped()) io_.restart();
    io_.poll();
    agents_.clear();
    if (store_) store_->Close();
  }
};

// ------------------------------------------------------------ Supervisor

StatusOr<std::unique_ptr<Supervisor>> Supervisor::Create(asio::io_context& io,
                                                         SupervisorOptions options) {
  if (options.launcher == nullptr) options.launcher = sandbox::RealLauncher();
  // Workdirs and log paths are handed to agents and the sandbox: absolute.
  options.state_dir = std::filesystem::absolute(options.state_dir).lexically_normal().string();
  options.logs_dir = std::filesystem::absolute(options.logs_dir).lexically_normal().string();
  // The logs directory is created by the first log write, so a daemon that
  // runs no agent never touches daemon.logs_dir.
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir + "/agents", ec);
  chmod((options.state_dir + "/agents").c_str(), 0711);
  auto impl = std::make_unique<Impl>(io, std::move(options));
  AIK_ASSIGN_OR_RETURN(impl->store_,
                       StateStore::Open(impl->o_.state_dir + "/state.db", impl->o_.full_sync));
  std::unique_ptr<Supervisor> s(new Supervisor(std::move(impl)));
  s->impl_->closing_ = &s->closing_;
  return s;
}

Supervisor::Supervisor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Supervisor::~Supervisor() {
  closing_.store(true);
  impl_->DoShutdown();
}

Status Supervisor::Start() {
  AIK_ASSIGN_OR_RETURN(std::vector<StoredAgent> stored, impl_->store_->LoadAll());
  impl_->Recover(std::move(stored));
  if (!impl_->o_.specs_dir.empty()) {
    AIK_ASSIGN_OR_RETURN(std::vector<AgentSpec> specs, LoadSpecDir(impl_->o_.specs_dir));
    for (AgentSpec& spec : specs) {
      const std::string name = spec.name;
      Status st = impl_->Complete(spec);
      if (st.ok()) {
        if (auto existing = impl_->Find(name)) {
          // Known already: take the file's spec, keep its state (an agent an
          // operator stopped stays stopped across daemon restarts).
          existing->info.spec = std::move(spec);
          impl_->Persist(*existing);
        } else {
          st = impl_->DoRun(std::move(spec), /*replace=*/false).status();
        }
      }
      if (!st.ok()) {
        return absl::Status(st.code(), absl::StrCat(impl_->o_.specs_dir, ": agent '", name,
                                                    "': ", st.message()));
      }
    }
  }
  impl_->Pump();
  impl_->PublishCounts();
  AIK_RETURN_IF_ERROR(impl_->store_->Barrier().get());
  spdlog::info("agents: {} known, {} running, {} queued (max_running {}, memory budget {} bytes)",
               impl_->agents_.size(), impl_->running_, impl_->queue_.size(),
               impl_->o_.max_running, impl_->o_.memory_budget_bytes);
  return absl::OkStatus();
}

void Supervisor::Shutdown() {
  closing_.store(true);
  impl_->DoShutdown();
}

StatusOr<AgentInfo> Supervisor::Run(const AgentSpec& spec, bool replace) {
  AIK_ASSIGN_OR_RETURN(AgentInfo info,
                       impl_->Call<AgentInfo>([this, spec, replace](auto done) {
                         StatusOr<AgentInfo> r = impl_->DoRun(spec, replace);
                         if (!r.ok()) return done(r.status());
                         impl_->AnswerWhenStarted(impl_->Find(spec.name), std::move(done));
                       }));
  AIK_RETURN_IF_ERROR(impl_->store_->Barrier().get());
  return info;
}

std::vector<AgentInfo> Supervisor::List() {
  StatusOr<std::vector<AgentInfo>> r =
      impl_->Call<std::vector<AgentInfo>>([this](auto done) {
        std::vector<AgentInfo> out;
        out.reserve(impl_->agents_.size());
        const int64_t now = NowNs();
        std::vector<RunQueue::Entry> order = impl_->queue_.Ordered(now);
        std::map<std::string, uint32_t> pos;
        for (size_t i = 0; i < order.size(); ++i) pos[order[i].name] = static_cast<uint32_t>(i + 1);
        for (const auto& [name, a] : impl_->agents_) {
          AgentInfo i = a->info;
          i.queue_position = a->info.state == AgentState::kQueued ? pos[name] : 0;
          if (a->info.state != AgentState::kQueued && a->enqueued_ns > 0) i.restart_at_ns = a->enqueued_ns;
          i.spiffe_id = impl_->SpiffeId(name);
          i.log_path = impl_->LogPath(name);
          out.push_back(std::move(i));
        }
        done(std::move(out));
      });
  return r.ok() ? *std::move(r) : std::vector<AgentInfo>{};
}

StatusOr<AgentInfo> Supervisor::Inspect(const std::string& name) {
  return impl_->Call<AgentInfo>([this, name](auto done) {
    auto a = impl_->Find(name);
    if (!a) return done(Impl::NotFound(name));
    done(impl_->Snapshot(*a));
  });
}

StatusOr<AgentInfo> Supervisor::Stop(const std::string& name, milliseconds grace) {
  AIK_ASSIGN_OR_RETURN(AgentInfo info, impl_->Call<AgentInfo>([this, name, grace](auto done) {
    impl_->DoStop(name, grace, std::move(done));
  }));
  AIK_RETURN_IF_ERROR(impl_->store_->Barrier().get());
  return info;
}

StatusOr<AgentInfo> Supervisor::Kill(const std::string& name, int signal) {
  if (signal <= 0 || signal >= NSIG) {
    return absl::InvalidArgumentError(absl::StrCat("signal: ", signal, " is not a signal number"));
  }
  return impl_->Call<AgentInfo>([this, name, signal](auto done) {
    auto a = impl_->Find(name);
    if (!a) return done(Impl::NotFound(name));
    if (a->proc == nullptr) {
      return done(absl::FailedPreconditionError(
          absl::StrCat("agent '", name, "' is not running (state ",
                       AgentStateName(a->info.state), ")")));
    }
    Status s = Impl::SendSignal(*a->proc, signal);
    if (!s.ok()) return done(s);
    done(impl_->Snapshot(*a));
  });
}

StatusOr<AgentInfo> Supervisor::Restart(const std::string& name) {
  AIK_ASSIGN_OR_RETURN(AgentInfo info, impl_->Call<AgentInfo>([this, name](auto done) {
    impl_->DoRestart(name, std::move(done));
  }));
  AIK_RETURN_IF_ERROR(impl_->store_->Barrier().get());
  return info;
}

Status Supervisor::Remove(const std::string& name, bool force) {
  AIK_ASSIGN_OR_RETURN(bool ok, impl_->Call<bool>([this, name, force](auto done) {
    impl_->DoRemove(name, force, std::move(done));
  }));
  (void)ok;
  return impl_->store_->Barrier().get();
}

Status Supervisor::Logs(const std::string& name, const kernel::AgentLogOptions& options,
                        const std::function<bool(const std::string&)>& emit,
                        const std::function<bool()>& cancelled) {
  AIK_ASSIGN_OR_RETURN(std::string path, impl_->Call<std::string>([this, name](auto done) {
    auto a = impl_->Find(name);
    if (!a) return done(Impl::NotFound(name));
    done(impl_->LogPath(name));
  }));
  FollowOptions fo{options.follow, options.tail_bytes, options.include_rotated};
  return FollowLog(path, fo, &impl_->notifier_, emit,
                   [&] { return cancelled() || closing_.load(); });
}

kernel::AgentControl::Counts Supervisor::CountAgents() const {
  return {impl_->n_total_.load(), impl_->n_running_.load(), impl_->n_queued_.load()};
}

ConfinementInfo Supervisor::Confinement() const {
  const sandbox::HostCapabilities& caps = sandbox::Detect();
  ConfinementInfo c;
  c.summary = sandbox::Describe(caps);
  for (const auto& [name, p] : impl_->o_.profiles) c.profiles.push_back(name + ": " + DescribeProfile(p));
  c.mechanisms.push_back("namespaces");
  if (caps.landlock_abi > 0) c.mechanisms.push_back("landlock-abi" + std::to_string(caps.landlock_abi));
  if (caps.seccomp) c.mechanisms.push_back("seccomp");
  if (caps.cgroup2_delegated) {
    std::string cg = "cgroup2";
    for (const auto& k : {"memory", "pids", "cpu"}) {
      if (caps.HasController(k)) cg += std::string(":") + k;
    }
    c.mechanisms.push_back(cg);
  }
  for (const auto& k : {"memory", "pids"}) {
    if (!caps.cgroup2_delegated || !caps.HasController(k)) {
      c.mechanisms.push_back(std::string("rlimit:") + (std::string(k) == "memory" ? "as" : "nproc"));
    }
  }
  c.mechanisms.push_back("rlimit:nofile");
  return c;
}

}  // namespace aikernel::agents
