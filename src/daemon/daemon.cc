#include "daemon/daemon.h"

#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <mutex>

#include <absl/strings/str_join.h>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "agents/supervisor.h"
#include "audit/ledger.h"
#include "common/version.h"
#include "daemon/config.h"
#include "daemon/systemd_notify.h"
#include "identity/ca.h"
#include "identity/node_key.h"
#include "identity/revocation.h"
#include "kernel/cedar_authorizer.h"
#include "kernel/connection_table.h"
#include "kernel/identity_calls.h"
#include "kernel/kernel.h"
#include "memory/memory.h"
#include "identity/ca.h"
#include "net/forwarder.h"
#include "net/mailbox.h"
#include "net/messenger.h"
#include "rpc/identity_service.h"
#include "rpc/mcp_service.h"
#include "net/peer_auth.h"
#include "rpc/federation_service.h"
#include "rpc/peer_link.h"
#include "rpc/memory_service.h"
#include "rpc/msg_service.h"
#include "rpc/policy_service.h"
#include "rpc/server.h"
#include "rpc/tools_service.h"
#include "tools/builtin.h"
#include "tools/registry.h"
#include "rpc/unix_listener.h"
#include "tools/mcp/manager.h"
#include "tools/mcp/provider.h"

namespace aikernel::daemon {
namespace {

// `config` locates `key` in its file, so the error names file:line:col.
StatusOr<gid_t> ResolveGroup(const Config& config, const std::string& key,
                             const std::string& name) {
  if (name.empty()) return static_cast<gid_t>(-1);
  std::vector<char> buf(16384);
  group grp{};
  group* result = nullptr;
  int rc = getgrnam_r(name.c_str(), &grp, buf.data(), buf.size(), &result);
  if (rc != 0 || result == nullptr) {
    // A numeric gid is accepted too, for hosts without the group in NSS.
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      return static_cast<gid_t>(std::stoul(name));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(config.Where(key), ": ", key, ": no such group '", name, "'"));
  }
  return result->gr_gid;
}

StatusOr<Config> Load(const Flags& flags) {
  Config config;
  StatusOr<Config> loaded = LoadConfig(flags.config_path);
  if (loaded.ok()) {
    config = *std::move(loaded);
  } else if (loaded.status().code() == absl::StatusCode::kNotFound &&
             !flags.config_explicit) {
    spdlog::info("no configuration at {}; using built-in defaults", flags.config_path);
  } else {
    return loaded.status();
  }
  if (flags.state_dir) config.state_dir = *flags.state_dir;
  if (flags.socket) config.socket = *flags.socket;
  if (flags.policy_dir) config.policy_dir = *flags.policy_dir;
  return config;
}

void SetupLogging(bool foreground) {
  auto logger = spdlog::stderr_color_mt("aikerneld");
  // journald stamps each line itself; a terminal user wants the time.
  logger->set_pattern(foreground ? "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v" : "%l: %v");
  spdlog::set_default_logger(logger);
}

Status EnsureStateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("daemon.state_dir: cannot create ", dir, ": ", ec.message()));
  }
  // o+x (search only, no listing): agents, running as their own uid, must
  // reach their default workdirs under <state>/agents/.
  chmod(dir.c_str(), 0751);
  return absl::OkStatus();
}

std::string Hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

class Server {
 public:
  explicit Server(const Flags& flags) : flags_(flags) {}

  int Run() {
    StatusOr<Config> config = Load(flags_);
    if (!config.ok()) {
      spdlog::critical("{}", std::string(config.status().message()));
      return kExitConfig;
    }
    config_ = *std::move(config);
    if (Status s = Start(); !s.ok()) {
      spdlog::critical("{}", std::string(s.message()));
      return absl::IsInvalidArgument(s) ? kExitConfig : 1;
    }
    Serve();
    return Stop();
  }

 private:
  Status Start() {
    spdlog::set_level(spdlog::level::from_str(config_.log_level));
    AIK_ASSIGN_OR_RETURN(gid_t socket_gid, ResolveGroup(config_, "daemon.socket_group",
                                                        config_.socket_group));
    AIK_ASSIGN_OR_RETURN(gid_t admin_gid, ResolveGroup(config_, "daemon.admin_group",
                                                       config_.admin_group));
    if (config_.node_name.empty()) config_.node_name = Hostname();
    AIK_RETURN_IF_ERROR(EnsureStateDir(config_.state_dir));
    const std::string state = config_.state_dir;

    AIK_ASSIGN_OR_RETURN(key_, identity::NodeKey::LoadOrCreate(state + "/keys"));
    AIK_RETURN_IF_ERROR(OpenIdentity(state + "/keys"));
    audit::LedgerOptions lo;
    lo.path = state + "/audit.db";
    lo.synchronous = config_.audit_synchronous == "normal"
                         ? audit::Synchronous::kNormal
                         : audit::Synchronous::kFull;
    lo.checkpoint_every_records = static_cast<uint64_t>(config_.checkpoint_every_records);
    lo.checkpoint_every = std::chrono::milliseconds(config_.checkpoint_every_ms);
    lo.max_batch = static_cast<size_t>(config_.max_batch);
    AIK_ASSIGN_OR_RETURN(ledger_, audit::Ledger::Open(lo, key_.get()));

    memory::MemoryOptions mo;
    mo.path = state + "/memory.db";
    mo.synchronous = config_.memory_synchronous == "normal" ? store::Synchronous::kNormal
                                                            : store::Synchronous::kFull;
    mo.default_max_bytes = config_.memory_default_max_bytes;
    mo.default_max_records = config_.memory_default_max_records;
    mo.now_ns = [] { return kernel::SystemClock::Get().RealtimeNs(); };
    StatusOr<std::unique_ptr<memory::Memory>> mem = memory::Memory::Open(mo);
    if (!mem.ok()) {
      return Status(mem.status().code(),
                    absl::StrCat(mo.path, ": cannot open memory: ", mem.status().message()));
    }
    memory_ = *std::move(mem);
    AIK_RETURN_IF_ERROR(OpenMessages(state));
    if (config_.agents_enabled) {
      agents::SupervisorOptions ao;
      ao.node = TrustDomainOf(config_, config_.node_name);
      ao.state_dir = state;
      ao.logs_dir = config_.logs_dir;
      ao.specs_dir = config_.agents_specs_dir;
      if (ao.specs_dir.empty()) {
        ao.specs_dir =
            (std::filesystem::path(flags_.config_path).parent_path() / "agents").string();
      }
      ao.max_running = config_.agents_max_running;
      ao.memory_budget_bytes = config_.agents_memory_budget_bytes;
      ao.aging_interval_ms = config_.agents_aging_interval_ms;
      ao.default_uid = static_cast<uid_t>(config_.agents_default_uid);
      ao.default_gid = static_cast<gid_t>(config_.agents_default_gid);
      ao.log_max_bytes = config_.agents_log_max_bytes;
      ao.log_keep = static_cast<int>(config_.agents_log_keep);
      ao.full_sync = config_.audit_synchronous != "normal";
      ao.profiles = config_.profiles;
      ao.on_connection = [this](UniqueFd fd, const kernel::AgentIdentity& id) {
        rpc_->AdoptAgent(std::move(fd), id);
      };
      // Revocation (docs/identity.md): the instance's connections are
      // closed, its credentials refused by this node from now on, no new
      // ones issued; each an identity.revoke record in the ledger.
      ao.on_instance_end = [this](const std::string& id, const std::string& spiffe_id) {
        RecordRevocation(identity_->EndInstance(spiffe_id, id));
      };
      ao.on_agent_removed = [this](const std::string& spiffe_id) {
        RecordRevocation(identity_->RemoveAgent(spiffe_id));
      };
      AIK_ASSIGN_OR_RETURN(supervisor_, agents::Supervisor::Create(io_, std::move(ao)));
    }

    AIK_RETURN_IF_ERROR(StartTools(state));

    connections_.SetAdminGroup(admin_gid);
    authorizer_.SetRedactedFields(config_.redact_fields);
    approvals_ = std::make_unique<kernel::ApprovalQueue>(
        std::chrono::milliseconds(config_.approval_timeout_ms));
    // A policy set with an error stops start-up (exit 78), naming file:line:col.
    AIK_ASSIGN_OR_RETURN(auto store,
                         policy::LoadPolicyStore(config_.policy_dir, kernel::kBuiltinPolicies));
    kernel::KernelInfo info{config_.node_name, kVersion, config_.socket, state,
                            lo.path, config_.audit_synchronous};
    kernel::KernelDeps deps;
    deps.connections = &connections_;
    deps.authorizer = &authorizer_;
    deps.sink = ledger_.get();
    deps.ledger = ledger_.get();
    deps.memory = memory_.get();
    deps.identity = identity_.get();
    deps.key_id = key_->KeyId();
    deps.agents = supervisor_.get();
    deps.approvals = approvals_.get();
    deps.policies = &authorizer_;
    deps.tools = tools_.get();
    kernel_ = std::make_unique<kernel::Kernel>(info, deps);
    AIK_RETURN_IF_ERROR(StartMcp(state));
    store_dir_ = config_.policy_dir;
    AIK_RETURN_IF_ERROR(InstallPolicies(std::move(store), "start"));
    kernel_->SetPolicyReloadHandler([this] { return ReloadPolicies("rpc"); });
    kernel_->SetRedactedFields(config_.redact_fields);
    kernel_->SetReloadHandler([this] { return Reload(); });

    rpc::ServerOptions so;
    so.max_message_bytes = static_cast<size_t>(config_.max_message_bytes);
    policy_service_ = rpc::MakePolicyService(kernel_.get());
    so.services.push_back(policy_service_.get());
    memory_service_ = rpc::MakeMemoryService(kernel_.get());
    so.services.push_back(memory_service_.get());
    msg_service_ = rpc::MakeMsgService(kernel_.get(), messenger_.get());
    so.services.push_back(msg_service_.get());
    identity_service_ = rpc::MakeIdentityService(kernel_.get());
    so.services.push_back(identity_service_.get());
    AIK_RETURN_IF_ERROR(StartFederation());
    tools_service_ = rpc::MakeToolsService(kernel_.get(), {messenger_.get(), peer_transport_.get()});
    so.services.push_back(tools_service_.get());
    mcp_service_ = rpc::MakeMcpService(kernel_.get(), mcp_.get());
    so.services.push_back(mcp_service_.get());
    so.services.push_back(federation_service_.get());
    AIK_ASSIGN_OR_RETURN(rpc_, rpc::RpcServer::Start(kernel_.get(), &connections_, so));
    // Agents from state.db and the specs directory; may spawn, which needs rpc_.
    if (supervisor_) AIK_RETURN_IF_ERROR(supervisor_->Start());

    rpc::ListenerOptions opts{config_.socket, config_.socket_mode, socket_gid};
    AIK_ASSIGN_OR_RETURN(listener_, rpc::UnixListener::Bind(io_, opts));
    listener_->Start([this](UniqueFd fd) { rpc_->Adopt(std::move(fd)); });
    return absl::OkStatus();
  }

  // The revocation list, then the node CA under `keys` (made on first
  // start). A bad trust domain or CA files for another one stop start-up
  // with exit 78, naming identity.trust_domain.
  Status OpenIdentity(const std::string& keys) {
    AIK_ASSIGN_OR_RETURN(revocations_,
                         identity::RevocationList::Open(keys + "/revocations.json"));
    const std::string td = TrustDomainOf(config_, config_.node_name);
    identity::NodeCA::Options o;
    o.keys_dir = keys;
    o.trust_domain = td;
    o.ca_ttl = std::chrono::seconds(config_.ca_ttl_s);
    o.max_svid_ttl = std::chrono::seconds(config_.max_svid_ttl_s);
    o.leeway = std::chrono::seconds(config_.clock_skew_s);
    o.revocations = revocations_.get();
    StatusOr<std::unique_ptr<identity::NodeCA>> ca = identity::NodeCA::Open(std::move(o));
    if (!ca.ok()) {
      std::string msg = absl::StrCat(
          config_.Where("identity.trust_domain"), ": identity.trust_domain = \"", td, "\"",
          config_.trust_domain.empty() ? " (from the node name)" : "",
          ": node CA: ", ca.status().message());
      if (absl::IsInvalidArgument(ca.status()) || absl::IsFailedPrecondition(ca.status())) {
        return absl::InvalidArgumentError(msg);
      }
      return absl::Status(ca.status().code(), msg);
    }
    ca_ = *std::move(ca);
    spdlog::info("identity: trust domain {}, CA {}", td, ca_->ActiveKid());
    kernel::IdentitySettings is;
    is.x509_svid_ttl = std::chrono::seconds(config_.x509_svid_ttl_s);
    is.jwt_svid_ttl = std::chrono::seconds(config_.jwt_svid_ttl_s);
    is.max_svid_ttl = std::chrono::seconds(config_.max_svid_ttl_s);
    identity_ = std::make_unique<kernel::IdentityCalls>(ca_.get(), revocations_.get(),
                                                        &connections_, is);
    return absl::OkStatus();
  }

  // Writes a revocation's record; a revocation is in force whether or not
  // it could be recorded.
  void RecordRevocation(audit::Record r) {
    const std::string what = r.resource;
    if (!kernel_) {
      spdlog::warn("identity: revoked {} before the kernel started; not recorded", what);
      return;
    }
    if (auto seq = kernel_->AppendEvent(std::move(r)); !seq.ok()) {
      spdlog::error("identity: revocation of {} not recorded in the ledger: {}", what,
                    std::string(seq.status().message()));
    }
  }

  // The tool registry with the builtin provider ([tools]; docs/tools.md).
  Status StartTools(const std::string& state) {
    tools::RegistryOptions ro;
    ro.max_args_bytes = static_cast<size_t>(config_.tools_max_args_bytes);
    ro.max_result_bytes = static_cast<size_t>(config_.tools_max_result_bytes);
    ro.call_timeout = std::chrono::milliseconds(config_.tools_call_timeout_ms);
    tools_ = std::make_unique<tools::Registry>(ro);
    tools::BuiltinOptions bo;
    bo.fs_roots = config_.tools_fs_roots;
    bo.fs_max_read_bytes = config_.tools_fs_max_read_bytes;
    bo.fs_max_write_bytes = config_.tools_fs_max_write_bytes;
    bo.http_max_response_bytes = config_.tools_http_max_response_bytes;
    bo.http_timeout_ms = config_.tools_http_timeout_ms;
    bo.http_max_redirects = config_.tools_http_max_redirects;
    bo.exec_profiles = config_.tools_exec_profiles;
    for (const auto& [name, p] : config_.profiles) bo.exec_sandboxes[name] = p.sandbox;
    bo.exec_max_output_bytes = config_.tools_exec_max_output_bytes;
    bo.exec_timeout_ms = config_.tools_exec_timeout_ms;
    bo.exec_uid = static_cast<uid_t>(config_.tools_exec_uid);
    bo.exec_gid = static_cast<gid_t>(config_.tools_exec_gid);
    bo.exec_work_base = state + "/tools/exec";
    AIK_ASSIGN_OR_RETURN(auto builtin, tools::BuiltinProvider::Create(bo));
    AIK_RETURN_IF_ERROR(tools_->AddProvider(std::move(builtin)));
    spdlog::info("tools: {} tools from providers {}", tools_->List().size(),
                 absl::StrJoin(tools_->ProviderNames(), ","));
    return absl::OkStatus();
  }

  // [[mcp]] servers (docs/mcp.md): one provider per server in the tool
  // registry; their events (pins, refusals, faults) go to the ledger. The
  // servers are spawned when the loop runs (Serve).
  Status StartMcp(const std::string& state) {
    tools::mcp::ManagerOptions mo;
    mo.io = &io_;
    mo.state_dir = state;
    mo.logs_dir = config_.logs_dir;
    mo.client_version = kVersion;
    for (const auto& [name, p] : config_.profiles) mo.profiles[name] = p.sandbox;
    mo.on_event = [this](const std::string& action, const std::string& resource,
                         const std::vector<std::string>& details) {
      audit::Record r;
      r.principal = "kernel";
      r.action = action;
      r.resource = resource;
      r.decision = action == "tool.pin" ? audit::Decision::kAllow : audit::Decision::kDeny;
      r.rule_ids = details;
      if (auto seq = kernel_->AppendEvent(std::move(r)); !seq.ok()) {
        spdlog::error("{} {} not recorded in the ledger: {}", action, resource,
                      std::string(seq.status().message()));
      }
    };
    mo.on_change = [this] { MaybeReady(); };
    AIK_ASSIGN_OR_RETURN(mcp_, tools::mcp::Manager::Create(std::move(mo), config_.mcp));
    for (auto& p : tools::mcp::MakeProviders(mcp_.get())) {
      AIK_RETURN_IF_ERROR(tools_->AddProvider(std::move(p)));
    }
    return absl::OkStatus();
  }

  // READY=1 once every MCP server's first mount has settled (ready, or
  // failed with its fault recorded), so tools are listed when systemd (or a
  // test) sees the daemon ready. On the loop.
  void MaybeReady() {
    if (ready_sent_ || !serving_) return;
    for (const tools::mcp::ServerView& v : mcp_->Servers()) {
      bool settled = v.state == tools::mcp::ServerState::kReady || !v.last_error.empty();
      if (!settled) return;
    }
    ready_sent_ = true;
    spdlog::info("aikerneld {} serving node '{}' on {} (state {}, audit synchronous={}, "
                 "memory synchronous={})",
                 kVersion, config_.node_name, config_.socket, config_.state_dir,
                 config_.audit_synchronous, config_.memory_synchronous);
    SystemdNotify::Ready(ReadyStatus());
  }

  void Serve() {
    // A member, not a local: it must outlive Serve() so that a second
    // SIGTERM during the drain is caught (and ignored) rather than killing
    // the daemon before the ledger's final checkpoint.
    signals_ = std::make_unique<boost::asio::signal_set>(io_, SIGTERM, SIGINT, SIGHUP);
    boost::asio::signal_set& signals = *signals_;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int sig) {
          if (ec) return;
          if (sig == SIGHUP) {
            SystemdNotify::Reloading();
            StatusOr<kernel::ReloadResult> r = Reload();
            if (!r.ok()) spdlog::error("reload failed, keeping the running configuration: {}",
                                       std::string(r.status().message()));
            SystemdNotify::Ready(ReadyStatus());
            signals.async_wait(on_signal);
            return;
          }
          spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
          io_.stop();
        };
    signals.async_wait(on_signal);

    boost::asio::steady_timer watchdog(io_);
    std::optional<std::chrono::microseconds> interval = SystemdNotify::WatchdogInterval();
    std::function<void(const boost::system::error_code&)> on_tick =
        [&](const boost::system::error_code& ec) {
          if (ec) return;
          // Only claim liveness while the ledger can take records: a daemon
          // that cannot audit cannot serve, and systemd should restart it.
          if (ledger_->Accepting()) SystemdNotify::Watchdog();
          watchdog.expires_after(*interval);
          watchdog.async_wait(on_tick);
        };
    if (interval) {
      watchdog.expires_after(*interval);
      watchdog.async_wait(on_tick);
    }

    // Revocations older than the longest SVID lifetime match nothing
    // unexpired: forget them hourly (and once now).
    boost::asio::steady_timer prune(io_);
    std::function<void(const boost::system::error_code&)> on_prune =
        [&](const boost::system::error_code& ec) {
          if (ec) return;
          if (Status st = identity_->Prune(); !st.ok()) {
            spdlog::warn("identity: pruning revocations: {}", std::string(st.message()));
          }
          prune.expires_after(std::chrono::hours(1));
          prune.async_wait(on_prune);
        };
    on_prune({});

    serving_ = true;
    mcp_->Start();
    MaybeReady();
    io_.run();
  }

  int Stop() {
    SystemdNotify::Stopping();
    listener_->Close();
    kernel_->BeginShutdown();
    if (forwarder_) forwarder_->Stop();
    if (supervisor_) supervisor_->BeginShutdown();
    mcp_->BeginShutdown();
    int64_t drain_ms;
    {
      std::lock_guard<std::mutex> lock(mu_);
      drain_ms = config_.drain_timeout_ms;
    }
    // Drain: wait for calls in flight (new ones are refused UNAVAILABLE),
    // not for idle connections, then cancel whatever is left.
    if (!kernel_->WaitForIdle(std::chrono::milliseconds(drain_ms))) {
      spdlog::warn("drain: calls still in flight after {} ms; cancelling them", drain_ms);
    }
    rpc_->Shutdown(std::chrono::milliseconds(0));
    if (peer_server_) peer_server_->Shutdown(std::chrono::milliseconds(0));
    // Agents die with the daemon (docs/agents.md); kill and reap them now.
    if (supervisor_) supervisor_->Shutdown();
    mcp_->Shutdown();
    // Every call has returned: close memory (its queued writes were
    // acknowledged, so they are committed already) before the ledger.
    memory_->Close();
    mailbox_->Close();
    ledger_->Close();
    audit::Head head = ledger_->head();
    spdlog::info("stopped; ledger head {} (checkpoint {})", head.sequence,
                 head.checkpoint_sequence);
    return 0;
  }

  // messages.db and the Messenger over it (docs/net.md). A local
  // recipient must be an agent the supervisor knows; its spec's groups feed
  // msg.send's context.same_group.
  Status OpenMessages(const std::string& state) {
    net::MailboxOptions bo;
    bo.path = state + "/messages.db";
    bo.synchronous = config_.msg_synchronous == "normal" ? store::Synchronous::kNormal
                                                         : store::Synchronous::kFull;
    StatusOr<std::unique_ptr<net::Mailbox>> mb = net::Mailbox::Open(bo);
    if (!mb.ok()) {
      return Status(mb.status().code(),
                    absl::StrCat(bo.path, ": cannot open messages: ", mb.status().message()));
    }
    mailbox_ = *std::move(mb);
    net::MessengerOptions mo;
    mo.node = config_.node_name;
    mo.max_payload_bytes = config_.msg_max_payload_bytes;
    mo.default_ttl = std::chrono::milliseconds(config_.msg_default_ttl_ms);
    mo.agent_groups = [this](const std::string& name) -> StatusOr<std::vector<std::string>> {
      if (kernel_ == nullptr) return absl::UnavailableError("kernel not started");
      AIK_ASSIGN_OR_RETURN(agents::AgentInfo info, kernel_->InspectAgent(name));
      return info.spec.groups;
    };
    messenger_ = std::make_unique<net::Messenger>(mailbox_.get(), std::move(mo));
    return messenger_->LoadPeers();
  }

  // Federation (docs/net.md): the node CA under `keys` gives this node its
  // peer certificate; peers from the configuration join those in
  // messages.db; the peer listener starts if [peer] listen is set; the
  // forwarder drains the outbox to peers.
  Status StartFederation() {
    // The node CA is identity's (OpenIdentity): one CA per node, so a
    // rotation and the bundle peers federate with are the same ones.
    if (ca_ != nullptr) {
      const std::string td = ca_->trust_domain();
      const auto ttl = std::min<std::chrono::seconds>(std::chrono::hours(24),
                                                      std::chrono::seconds(config_.max_svid_ttl_s));
      StatusOr<identity::X509Svid> svid = ca_->IssueX509SVID(net::NodeSpiffeId(td), ttl);
      if (!svid.ok()) return svid.status();
      node_tls_ = net::NodeTls{td, svid->spiffe_id, svid->cert_pem, svid->key_pem,
                               ca_->TrustBundlePem(), svid->expires_at_s};
    } else if (!config_.peer_listen.empty() || !config_.peers.empty()) {
      return absl::FailedPreconditionError("federation needs the node CA, which is not open");
    }
    for (const Config::PeerEntry& e : config_.peers) {
      std::ifstream in(e.bundle_file);
      std::stringstream pem;
      pem << in.rdbuf();
      if (!in || pem.str().find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
        return absl::InvalidArgumentError(absl::StrCat(
            config_.Where("peer.peers"), ": peer.peers: ", e.name, ": bundle_file '",
            e.bundle_file, "' is not a readable PEM bundle"));
      }
      net::Peer p{e.name, e.trust_domain, e.address, pem.str(), "config", 0};
      if (Status s = messenger_->AddPeer(p); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(config_.Where("peer.peers"),
                                                       ": peer.peers: ", e.name, ": ",
                                                       s.message()));
      }
    }
    std::string listen;
    if (!config_.peer_listen.empty()) {
      peer_service_ = rpc::MakePeerService(kernel_.get(), messenger_.get());
      AIK_ASSIGN_OR_RETURN(
          peer_server_,
          rpc::PeerServer::Start(config_.peer_listen, node_tls_, peer_service_.get(),
                                 static_cast<size_t>(config_.max_message_bytes) * 4));
      listen = config_.peer_listen.substr(0, config_.peer_listen.rfind(':') + 1) +
               std::to_string(peer_server_->port());
      spdlog::info("peer listener on {} as {} (mutual TLS)", listen, node_tls_.spiffe_id);
    }
    rpc::FederationInfo fi;
    fi.tls = ca_ ? &node_tls_ : nullptr;
    fi.listen_address = listen;
    fi.on_peers_changed = [this] {
      if (forwarder_) forwarder_->Kick();
    };
    federation_service_ = rpc::MakeFederationService(kernel_.get(), messenger_.get(), fi);
    if (ca_) {
      peer_transport_ = rpc::MakePeerClient(node_tls_, std::chrono::seconds(10));
      forwarder_ = std::make_unique<net::Forwarder>(mailbox_.get(), messenger_.get(),
                                                    peer_transport_.get(), net::ForwarderOptions{});
      forwarder_->Start();
    }
    return absl::OkStatus();
  }

  std::string ReadyStatus() {
    return absl::StrCat("serving on ", config_.socket);
  }

  // Records `store` in the ledger (policy.load, with its digest), then makes
  // it the set in force: at start too, so every record's deciding set is on
  // the ledger (Kernel::NotePolicyLoad). A start whose load cannot be
  // recorded fails; a reload's is logged and the set still installed.
  Status InstallPolicies(std::shared_ptr<const policy::PolicyStore> store, const char* why) {
    const std::string digest = store->digest;
    const size_t n = store->policies->size();
    const std::string files = absl::StrJoin(store->files, ",");
    audit::Record r;
    r.principal = "kernel";
    r.action = "policy.load";
    r.resource = absl::StrCat("policyset:sha256:", digest);
    r.decision = audit::Decision::kAllow;
    r.rule_ids = {absl::StrCat("trigger:", why), absl::StrCat("policies:", n),
                  absl::StrCat("files:", files)};
    StatusOr<uint64_t> seq = kernel_->NotePolicyLoad(digest, std::move(r));
    if (!seq.ok()) {
      spdlog::error("policy load not recorded in the ledger: {}",
                    std::string(seq.status().message()));
      if (std::string_view(why) == "start") return seq.status();
    }
    authorizer_.Install(std::move(store));
    spdlog::info("policy: {} policies in force from {} (sha256 {}, {})", n, store_dir_, digest,
                 why);
    return absl::OkStatus();
  }

  // Loads the policy store from the configured dir; on any error the
  // running set stays and the refusal is recorded.
  StatusOr<kernel::PolicyReloadResult> ReloadPolicies(const char* why) {
    std::string dir;
    {
      std::lock_guard<std::mutex> lock(mu_);
      dir = config_.policy_dir;
    }
    return ReloadPoliciesFrom(dir, why);
  }
  StatusOr<kernel::PolicyReloadResult> ReloadPoliciesFrom(const std::string& dir,
                                                          const char* why) {
    std::lock_guard<std::mutex> lock(policy_mu_);
    auto store = policy::LoadPolicyStore(dir, kernel::kBuiltinPolicies);
    if (store.ok()) store_dir_ = dir;
    if (!store.ok()) {
      audit::Record r;
      r.principal = "kernel";
      r.action = "policy.load";
      r.resource = absl::StrCat("policydir:", dir);
      r.decision = audit::Decision::kDeny;
      r.code = static_cast<int32_t>(store.status().code());
      r.rule_ids = {absl::StrCat("trigger:", why), "refused",
                    std::string(store.status().message())};
      (void)kernel_->AppendEvent(std::move(r));
      spdlog::error("policy reload refused, keeping the running set: {}",
                    std::string(store.status().message()));
      return absl::InvalidArgumentError(absl::StrCat(
          "policy set refused, the running set stays in force: ", store.status().message()));
    }
    kernel::PolicyReloadResult result;
    result.digest = (*store)->digest;
    result.policies = (*store)->policies->size();
    result.files = (*store)->files;
    auto old = authorizer_.store();
    result.changed = !old || old->digest != result.digest;
    InstallPolicies(*std::move(store), why).IgnoreError();  // logged; the set is in force
    return result;
  }

  // [[mcp]] headers, headers_from_file re-read by Load(): to the running
  // server of the same name, whatever else of its entry changed (any other
  // change needs a restart; ChangedKeys lists it as "mcp").
  Status ReloadMcpHeaders(const Config& next) {
    for (tools::mcp::ServerConfig& cur : config_.mcp) {
      for (const tools::mcp::ServerConfig& n : next.mcp) {
        if (n.name != cur.name || n.headers == cur.headers) continue;
        AIK_RETURN_IF_ERROR(mcp_->SetHeaders(n.name, n.headers));
        cur.headers = n.headers;
      }
    }
    return absl::OkStatus();
  }

  StatusOr<kernel::ReloadResult> Reload() {
    std::lock_guard<std::mutex> lock(mu_);
    AIK_ASSIGN_OR_RETURN(Config next, Load(flags_));
    if (next.node_name.empty()) next.node_name = Hostname();
    AIK_ASSIGN_OR_RETURN(gid_t admin_gid,
                         ResolveGroup(next, "daemon.admin_group", next.admin_group));
    kernel::ReloadResult result;
    for (const std::string& key : ChangedKeys(config_, next)) {
      (IsReloadable(key) ? result.applied : result.needs_restart).push_back(key);
    }
    spdlog::set_level(spdlog::level::from_str(next.log_level));
    connections_.SetAdminGroup(admin_gid);
    for (const auto& c : next.mcp) AIK_RETURN_IF_ERROR(tools::mcp::ValidateServerConfig(c));
    // Policies first: a refused set fails the reload and changes nothing.
    AIK_ASSIGN_OR_RETURN(kernel::PolicyReloadResult pr,
                         ReloadPoliciesFrom(next.policy_dir, "reload"));
    if (pr.changed) result.applied.push_back("policy set (sha256 " + pr.digest.substr(0, 16) + ")");
    kernel_->SetRedactedFields(next.redact_fields);
    authorizer_.SetRedactedFields(next.redact_fields);
    approvals_->SetTimeout(std::chrono::milliseconds(next.approval_timeout_ms));
    config_.policy_dir = next.policy_dir;
    config_.approval_timeout_ms = next.approval_timeout_ms;
    config_.log_level = next.log_level;
    config_.admin_group = next.admin_group;
    config_.redact_fields = next.redact_fields;
    config_.drain_timeout_ms = next.drain_timeout_ms;
    AIK_RETURN_IF_ERROR(ReloadMcpHeaders(next));
    for (const auto& k : result.applied) spdlog::info("reload: applied {}", k);
    for (const auto& k : result.needs_restart) {
      spdlog::warn("reload: {} changed; takes effect after a restart", k);
    }
    if (result.applied.empty() && result.needs_restart.empty()) {
      spdlog::info("reload: configuration unchanged");
    }
    return result;
  }

  Flags flags_;
  std::mutex mu_;  // guards config_ against concurrent reloads
  Config config_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  kernel::ConnectionTable connections_;
  std::mutex policy_mu_;  // one policy load at a time
  std::string store_dir_;  // GUARDED_BY(policy_mu_) after start
  kernel::CedarAuthorizer authorizer_;
  std::unique_ptr<kernel::ApprovalQueue> approvals_;
  std::unique_ptr<identity::NodeKey> key_;
  std::unique_ptr<identity::RevocationList> revocations_;
  std::unique_ptr<identity::NodeCA> ca_;
  // Before supervisor_: its hooks revoke through it until it is destroyed.
  std::unique_ptr<kernel::IdentityCalls> identity_;
  std::unique_ptr<audit::Ledger> ledger_;
  std::unique_ptr<agents::Supervisor> supervisor_;
  std::unique_ptr<memory::Memory> memory_;
  std::unique_ptr<net::Mailbox> mailbox_;
  std::unique_ptr<net::Messenger> messenger_;
  std::unique_ptr<tools::Registry> tools_;  // providers are added to it at start
  net::NodeTls node_tls_;
  std::unique_ptr<rpc::PeerClient> peer_transport_;
  std::unique_ptr<net::Forwarder> forwarder_;
  std::unique_ptr<kernel::Kernel> kernel_;
  rpc::ServicePtr policy_service_{nullptr, nullptr};  // must outlive rpc_
  rpc::ServicePtr memory_service_{nullptr, nullptr};  // must outlive rpc_
  rpc::ServicePtr msg_service_{nullptr, nullptr};     // must outlive rpc_
  rpc::ServicePtr identity_service_{nullptr, nullptr};  // must outlive rpc_
  rpc::ServicePtr tools_service_{nullptr, nullptr};   // must outlive rpc_
  std::unique_ptr<tools::mcp::Manager> mcp_;  // before rpc_: its service reads it
  bool serving_ = false, ready_sent_ = false;  // on the loop
  rpc::ServicePtr mcp_service_{nullptr, nullptr};  // must outlive rpc_
  rpc::ServicePtr federation_service_{nullptr, nullptr};  // must outlive rpc_
  rpc::ServicePtr peer_service_{nullptr, nullptr};  // must outlive peer_server_
  std::unique_ptr<rpc::PeerServer> peer_server_;
  std::unique_ptr<rpc::RpcServer> rpc_;
  std::unique_ptr<rpc::UnixListener> listener_;
};

}  // namespace

int Run(const Flags& flags) {
  SetupLogging(flags.foreground);
  // Nothing the daemon creates (ledger, WAL, keys) is readable by others.
  umask(0027);
  // Writes to a vanished client must be errors, not a process kill.
  std::signal(SIGPIPE, SIG_IGN);
  // Each running agent holds about five fds here (pidfd, its dup for the
  // loop, stdout and stderr pipes, its kernel connection): lift the soft
  // limit to the hard one (systemd's LimitNOFILE sets the hard one).
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  Server server(flags);
  return server.Run();
}

}  // namespace aikernel::daemon
