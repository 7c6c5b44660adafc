// FakeDaemon: an in-test gRPC server for the Kernel and Admin services, so
// the SDK and aictl can be tested without aikerneld. It serves canned
// answers, sets the trailing metadata "aikernel-audit-seq" like the daemon,
// and can deny, stall, or stream records. Listens on a Unix socket path or on
// one end of a socketpair (AddInsecureChannelFromFd).
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>

#include "aikernel/v1/admin.grpc.pb.h"
#include "aikernel/v1/kernel.grpc.pb.h"

namespace aikernel::testing {

namespace pb = ::aikernel::v1;

struct FakeState {
  std::atomic<uint64_t> next_seq{100};
  std::atomic<bool> deny_admin{false};
  std::atomic<bool> unauthenticated{false};
  std::atomic<bool> omit_seq{false};
  std::atomic<int> stall_ms{0};
  std::vector<pb::AuditRecord> records;  // what QueryAudit streams (set before use)
  std::mutex mu;
  pb::QueryAuditRequest last_query;  // guarded by mu
  std::condition_variable follow_cv;  // signalled when following starts and when it ends
  bool following = false;             // guarded by mu: a follow query sent its backlog
  bool follow_cancelled = false;      // guarded by mu: the client cancelled a follow

  // Waits until a follow query has sent its backlog (true) or `d` passed (false).
  bool WaitFollowing(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu);
    return follow_cv.wait_for(l, d, [&] { return following; });
  }
  bool WaitFollowCancelled(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu);
    return follow_cv.wait_for(l, d, [&] { return follow_cancelled; });
  }

  // Sets the audit trailer and returns the sequence used.
  uint64_t Audit(grpc::ServerContext* ctx) {
    uint64_t seq = next_seq.fetch_add(1);
    if (!omit_seq) ctx->AddTrailingMetadata("aikernel-audit-seq", std::to_string(seq));
    return seq;
  }
  void Stall() {
    if (int ms = stall_ms.load()) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  grpc::Status Gate(grpc::ServerContext* ctx) {
    Stall();
    if (unauthenticated) {
      Audit(ctx);
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "connection has no principal");
    }
    if (deny_admin) {
      Audit(ctx);
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "admin calls need an operator; denied by rule admin-operators-only");
    }
    return grpc::Status::OK;
  }
};

class FakeKernel final : public pb::Kernel::Service {
 public:
  explicit FakeKernel(FakeState* s) : s_(s) {}
  grpc::Status Whoami(grpc::ServerContext* ctx, const pb::WhoamiRequest*,
                      pb::WhoamiResponse* resp) override {
    s_->Stall();
    if (s_->unauthenticated) {
      s_->Audit(ctx);
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "connection has no principal");
    }
    auto* p = resp->mutable_principal();
    p->set_kind(pb::Principal::KIND_OPERATOR);
    p->set_id("operator:0");
    p->set_uid(0);
    p->set_gid(0);
    p->set_pid(4242);
    resp->set_node("node-test");
    s_->Audit(ctx);
    return grpc::Status::OK;
  }

 private:
  FakeState* s_;
};

class FakeAdmin final : public pb::Admin::Service {
 public:
  explicit FakeAdmin(FakeState* s) : s_(s) {}
  grpc::Status Status(grpc::ServerContext* ctx, const pb::StatusRequest*,
                      pb::StatusResponse* resp) override {
    if (auto g = s_->Gate(ctx); !g.ok()) return g;
    resp->set_version("0.1.0");
    resp->mutable_started_at()->set_seconds(1'700'000'000);
    resp->mutable_uptime()->set_seconds(3723);
    resp->set_node("node-test");
    resp->set_socket("/tmp/fake.sock");
    resp->set_state_dir("/tmp/state");
    resp->set_audit_synchronous("full");
    resp->mutable_ledger()->set_sequence(99);
    resp->mutable_ledger()->set_hash(std::string(32, '\xab'));
    resp->mutable_ledger()->set_checkpoint_sequence(90);
    resp->mutable_ledger()->set_key_id("0123456789abcdef");
    resp->mutable_calls()->set_total(10);
    resp->mutable_calls()->set_denied(2);
    resp->mutable_calls()->set_failed(1);
    resp->mutable_calls()->set_connections(5);
    s_->Audit(ctx);
    return grpc::Status::OK;
  }
  grpc::Status Ping(grpc::ServerContext* ctx, const pb::PingRequest* req,
                    pb::PingResponse* resp) override {
    if (auto g = s_->Gate(ctx); !g.ok()) return g;
    if (req->payload().size() > 4096) {
      s_->Audit(ctx);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "payload: more than 4096 bytes");
    }
    resp->set_payload(req->payload());
    s_->Audit(ctx);
    return grpc::Status::OK;
  }
  grpc::Status Reload(grpc::ServerContext* ctx, const pb::ReloadRequest*,
                      pb::ReloadResponse* resp) override {
    if (auto g = s_->Gate(ctx); !g.ok()) return g;
    resp->add_applied("daemon.log_level");
    resp->add_needs_restart("daemon.socket");
    s_->Audit(ctx);
    return grpc::Status::OK;
  }
  grpc::Status QueryAudit(grpc::ServerContext* ctx, const pb::QueryAuditRequest* req,
                          grpc::ServerWriter<pb::AuditRecord>* out) override {
    if (auto g = s_->Gate(ctx); !g.ok()) return g;
    {
      std::lock_guard<std::mutex> l(s_->mu);
      s_->last_query = *req;
    }
    std::vector<pb::AuditRecord> match;
    for (const auto& r : s_->records) {
      if (!req->principal().empty() && r.principal() != req->principal()) continue;
      if (!req->action().empty() && r.action() != req->action()) continue;
      if (req->decision() != pb::DECISION_UNSPECIFIED && r.decision() != req->decision()) continue;
      if (r.sequence() <= req->after_sequence()) continue;
      match.push_back(r);
    }
    if (req->last()) {
      size_t n = std::min<size_t>(req->limit(), match.size());
      match.erase(match.begin(), match.end() - n);
    } else if (req->limit() > 0 && match.size() > req->limit()) {
      match.resize(req->limit());
    }
    for (const auto& r : match) {
      if (!out->Write(r)) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    if (req->follow()) {
      {
        std::lock_guard<std::mutex> l(s_->mu);
        s_->following = true;
      }
      s_->follow_cv.notify_all();
      while (!ctx->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      {
        std::lock_guard<std::mutex> l(s_->mu);
        s_->follow_cancelled = true;
      }
      s_->follow_cv.notify_all();
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    s_->Audit(ctx);
    return grpc::Status::OK;
  }

 private:
  FakeState* s_;
};

// Records 1..n: principal operator:0 / user:1000 alternating, every third denied.
inline std::vector<pb::AuditRecord> MakeRecords(int n) {
  std::vector<pb::AuditRecord> v;
  std::string prev(32, '\0');
  for (int i = 1; i <= n; ++i) {
    pb::AuditRecord r;
    r.set_sequence(i);
    r.mutable_time()->set_seconds(1'700'000'000 + i);
    r.mutable_time()->set_nanos(123'456'789);
    r.set_node("node-test");
    r.set_principal(i % 2 ? "operator:0" : "user:1000");
    r.set_action(i % 2 ? "admin.status" : "kernel.whoami");
    r.set_resource("node:node-test");
    r.set_request_digest(std::string(32, static_cast<char>(i)));
    r.set_decision(i % 3 == 0 ? pb::DECISION_DENY : pb::DECISION_ALLOW);
    if (i % 3 == 0) r.add_rule_ids("admin-operators-only");
    r.set_code(i % 3 == 0 ? 7 : 0);
    r.mutable_latency()->set_nanos(45'000 + i);
    r.set_prev_hash(prev);
    std::string h(32, static_cast<char>(0x10 + i));
    r.set_hash(h);
    prev = h;
    v.push_back(r);
  }
  return v;
}

class FakeDaemon {
 public:
  FakeDaemon() : kernel_(&state), admin_(&state) {}
  ~FakeDaemon() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  // Listens on `path` (a Unix socket). Returns false on failure.
  bool ListenUnix(const std::string& path) {
    grpc::ServerBuilder b;
    b.AddListeningPort("unix:" + path, grpc::InsecureServerCredentials());
    Register(b);
    server_ = b.BuildAndStart();
    return server_ != nullptr;
  }

  // Serves one end of a new socketpair; returns the other (client) end, or -1.
  int ServeSocketpair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    if (!server_) {
      grpc::ServerBuilder b;
      Register(b);
      server_ = b.BuildAndStart();
    }
    ::fcntl(sv[0], F_SETFL, ::fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    grpc::AddInsecureChannelFromFd(server_.get(), sv[0]);
    return sv[1];
  }

  FakeState state;

 private:
  void Register(grpc::ServerBuilder& b) {
    b.RegisterService(&kernel_);
    b.RegisterService(&admin_);
  }
  FakeKernel kernel_;
  FakeAdmin admin_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace aikernel::testing
