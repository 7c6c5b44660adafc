// bench_identity_daemon: JWT-SVID issue and validate, and X.509-SVID issue,
// per second through the governed path: a gRPC client (generated stub, as
// the SDK uses) -> gRPC over a Unix
// socketpair -> the Identity service -> Kernel::Dispatch (authenticate,
// authorize, execute, audit) -> the node CA, with every call's record made
// durable in a real audit ledger (synchronous = full, then normal) before
// the reply. This is the daemon's own stack assembled in-process, because
// issuing needs an agent principal, which only the daemon's supervisor can
// bind to a connection (ConnectionTable::RegisterAgent on the daemon end
// of a socketpair); here the bench does that itself. The library figures
// (bench_identity) are the peer: the difference is the governed path.
// Prints figures; asserts nothing.
//
//   bench_identity_daemon [--seconds S]
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/create_channel_posix.h>
#include <grpcpp/server_posix.h>

#include "aikernel/v1/identity.grpc.pb.h"
#include "audit/ledger.h"
#include "identity/ca.h"
#include "identity/node_key.h"
#include "identity/revocation.h"
#include "kernel/cedar_authorizer.h"
#include "kernel/connection_table.h"
#include "kernel/identity_calls.h"
#include "kernel/kernel.h"
#include "rpc/identity_service.h"
#include "rpc/server.h"

using namespace aikernel;
using SteadyClock = std::chrono::steady_clock;

namespace {

double Measure(int threads, double seconds, const std::function<bool(int)>& op,
               uint64_t* failures_out) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> total{0}, failures{0};
  std::vector<std::thread> pool;
  const auto start = SteadyClock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      uint64_t n = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!op(t)) failures.fetch_add(1);
        ++n;
      }
      total.fetch_add(n);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  *failures_out += failures.load();
  return static_cast<double>(total.load()) / elapsed;
}

struct Stack {
  std::string dir;
  std::unique_ptr<identity::NodeKey> key;
  identity::RevocationList revocations;
  std::unique_ptr<identity::NodeCA> ca;
  std::unique_ptr<audit::Ledger> ledger;
  kernel::ConnectionTable table;
  kernel::CedarAuthorizer authz;
  std::unique_ptr<kernel::Kernel> kernel;
  std::unique_ptr<kernel::IdentityCalls> calls;
  rpc::ServicePtr service{nullptr, nullptr};
  std::unique_ptr<grpc::Server> server;

  bool Open(const std::string& d, audit::Synchronous sync) {
    dir = d;
    auto k = identity::NodeKey::LoadOrCreate(dir + "/keys");
    if (!k.ok()) return Fail("node key", k.status());
    key = std::move(*k);
    identity::NodeCA::Options o;
    o.keys_dir = dir + "/keys";
    o.trust_domain = "bench.example";
    o.revocations = &revocations;
    auto c = identity::NodeCA::Open(o);
    if (!c.ok()) return Fail("CA", c.status());
    ca = std::move(*c);
    audit::LedgerOptions lo;
    lo.path = dir + "/audit.db";
    lo.synchronous = sync;
    auto l = audit::Ledger::Open(lo, key.get());
    if (!l.ok()) return Fail("ledger", l.status());
    ledger = std::move(*l);
    calls = std::make_unique<kernel::IdentityCalls>(ca.get(), &revocations, &table,
                                                    kernel::IdentitySettings{});
    // The shipped policy set, as the daemon runs it.
    auto store = policy::LoadPolicyStore(AIK_SOURCE_DIR "/config", kernel::kBuiltinPolicies);
    if (!store.ok()) return Fail("policy", store.status());
    authz.Install(*store);
    kernel::KernelDeps deps;
    deps.identity = calls.get();
    deps.connections = &table;
    deps.authorizer = &authz;
    deps.sink = ledger.get();
    deps.ledger = ledger.get();
    kernel = std::make_unique<kernel::Kernel>(
        kernel::KernelInfo{"bench", "0", "", dir, lo.path, "full"}, deps);
    service = rpc::MakeIdentityService(kernel.get());
    grpc::ServerBuilder b;
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
    b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
    b.RegisterService(service.get());
    server = b.BuildAndStart();
    return server != nullptr;
  }
  static bool Fail(const char* what, const absl::Status& s) {
    std::fprintf(stderr, "%s: %s\n", what, std::string(s.message()).c_str());
    return false;
  }
  // An agent connection, as the supervisor makes one.
  std::unique_ptr<v1::Identity::Stub> AgentClient(int n) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return nullptr;
    kernel::AgentIdentity a;
    a.name = "worker" + std::to_string(n);
    a.instance_id = "i-" + std::to_string(n);
    a.spiffe_id = "spiffe://bench.example/agent/" + a.name;
    a.pid = getpid();
    a.uid = 65534;
    a.gid = 65534;
    if (!table.RegisterAgent(sv[0], a).ok()) return nullptr;
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    grpc::AddInsecureChannelFromFd(server.get(), sv[0]);
    return v1::Identity::NewStub(grpc::CreateInsecureChannelFromFd("bench", sv[1]));
  }
  void Close() {
    server->Shutdown(std::chrono::system_clock::now());
    server->Wait();
    ledger->Close();
  }
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--seconds S]\n", argv[0]);
      return 2;
    }
  }
  std::printf("identity through the governed path (SDK -> gRPC socketpair -> Kernel::Dispatch "
              "-> CA; audit record durable before each reply), %.1f s per cell\n",
              seconds);
  std::printf("%-10s %-30s %14s %14s\n", "audit", "operation", "1 thread /s", "2 threads /s");
  for (audit::Synchronous sync : {audit::Synchronous::kFull, audit::Synchronous::kNormal}) {
    char tmpl[] = "/tmp/aik-bench-idd-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    Stack s;
    if (!s.Open(tmpl, sync)) return 1;
    std::vector<std::unique_ptr<v1::Identity::Stub>> clients;
    for (int t = 0; t < 2; ++t) {
      clients.push_back(s.AgentClient(t));
      if (!clients.back()) {
        std::fprintf(stderr, "cannot make an agent connection\n");
        return 1;
      }
    }
    // Tokens to validate, one per thread, for audience "svc".
    std::vector<std::string> tokens;
    for (auto& c : clients) {
      grpc::ClientContext ctx;
      v1::FetchJWTSVIDRequest req;
      req.add_audiences("svc");
      v1::FetchJWTSVIDResponse resp;
      grpc::Status st = c->FetchJWTSVID(&ctx, req, &resp);
      if (!st.ok()) {
        std::fprintf(stderr, "FetchJWTSVID: %s\n", st.error_message().c_str());
        return 1;
      }
      tokens.push_back(resp.svid().token());
    }
    uint64_t failures = 0;
    struct Row {
      const char* name;
      std::function<bool(int)> op;
    } rows[] = {
        {"JWT-SVID issue (FetchJWTSVID)",
         [&](int t) {
           grpc::ClientContext ctx;
           v1::FetchJWTSVIDRequest req;
           req.add_audiences("svc");
           v1::FetchJWTSVIDResponse resp;
           return clients[t]->FetchJWTSVID(&ctx, req, &resp).ok();
         }},
        {"JWT-SVID validate (Validate)",
         [&](int t) {
           grpc::ClientContext ctx;
           v1::ValidateJWTSVIDRequest req;
           req.set_token(tokens[t]);
           req.set_audience("svc");
           v1::ValidateJWTSVIDResponse resp;
           return clients[t]->ValidateJWTSVID(&ctx, req, &resp).ok() && resp.valid();
         }},
        {"X.509-SVID issue (FetchX509)",
         [&](int t) {
           grpc::ClientContext ctx;
           v1::FetchX509SVIDRequest req;
           v1::FetchX509SVIDResponse resp;
           return clients[t]->FetchX509SVID(&ctx, req, &resp).ok();
         }},
    };
    for (const Row& row : rows) {
      double one = Measure(1, seconds, row.op, &failures);
      double two = Measure(2, seconds, row.op, &failures);
      std::printf("%-10s %-30s %14.0f %14.0f\n",
                  sync == audit::Synchronous::kFull ? "full" : "normal", row.name, one, two);
    }
    if (failures) std::printf("  (%llu calls failed)\n", static_cast<unsigned long long>(failures));
    clients.clear();
    s.Close();
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
  }
  return 0;
}
