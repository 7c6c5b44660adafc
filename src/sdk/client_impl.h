// Internal to the SDK (src/sdk/, not installed): the gRPC state behind a
// Client and the conversions its translation units share: client.cc
// (channel setup, Kernel and Admin calls), memory.cc (Memory calls) and
// identity.cc (Identity calls).
// gRPC and protobuf stay in src/sdk/; include/aikernel/ is plain C++.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>

#include "aikernel/client.h"
#include "aikernel/v1/admin.grpc.pb.h"
#include "aikernel/v1/identity.grpc.pb.h"
#include "aikernel/v1/kernel.grpc.pb.h"
#include "aikernel/v1/memory.grpc.pb.h"
#include "aikernel/v1/msg.grpc.pb.h"
#include "aikernel/v1/tools.grpc.pb.h"
#include "aikernel/v1/federation.grpc.pb.h"

namespace aikernel {
inline namespace sdk {
namespace internal {

// The call's audit sequence from the trailing metadata; 0 if none came.
uint64_t AuditSeqOf(const grpc::ClientContext& ctx);
Timestamp FromProto(const google::protobuf::Timestamp& t);
std::chrono::nanoseconds FromProto(const google::protobuf::Duration& d);
void ToProto(Timestamp t, google::protobuf::Timestamp* out);
// A non-negative duration (negative ones are sent as they are and refused by
// the daemon, naming the field).
void ToProto(std::chrono::nanoseconds d, google::protobuf::Duration* out);

}  // namespace internal

class Client::Impl {
 public:
  Endpoint endpoint;
  std::chrono::milliseconds default_timeout{0};
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::aikernel::v1::Kernel::Stub> kernel;
  std::unique_ptr<::aikernel::v1::Admin::Stub> admin;
  std::unique_ptr<::aikernel::v1::Memory::Stub> memory;
  std::unique_ptr<::aikernel::v1::Msg::Stub> msg;
  std::unique_ptr<::aikernel::v1::Identity::Stub> identity;
  std::unique_ptr<::aikernel::v1::Tools::Stub> tools;
  std::unique_ptr<::aikernel::v1::Federation::Stub> federation;

  std::chrono::milliseconds EffectiveTimeout(const CallOptions& call) const {
    return call.timeout ? *call.timeout : default_timeout;
  }

  void Prepare(grpc::ClientContext& ctx, const CallOptions& call) const {
    std::chrono::milliseconds t = EffectiveTimeout(call);
    if (t.count() > 0) ctx.set_deadline(std::chrono::system_clock::now() + t);
    if (!call.bearer_token.empty()) ctx.AddMetadata("authorization", "Bearer " + call.bearer_token);
  }

  // Maps a failed call to a Status that names the cause (client.cc).
  ::aikernel::sdk::Status FromGrpc(const grpc::Status& st, const grpc::ClientContext& ctx,
                                   const CallOptions& call) const;
};

namespace internal {

// One unary call on `stub`: context with deadline and stop, the RPC, the
// error mapping; `fill` converts the response on success and the audit
// sequence is set from the trailer.
template <typename Out, typename Stub, typename Req, typename Resp, typename Fill>
Result<Out> Unary(const Client::Impl& impl, const CallOptions& call, Stub& stub,
                  grpc::Status (Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                  const Req& req, Fill fill) {
  grpc::ClientContext ctx;
  impl.Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  Resp resp;
  grpc::Status st = (stub.*rpc)(&ctx, req, &resp);
  if (!st.ok()) return impl.FromGrpc(st, ctx, call);
  Out out;
  fill(resp, out);
  out.audit_sequence = AuditSeqOf(ctx);
  return out;
}

// A server-streaming call the caller may stop, from its callback (which
// then calls StopByCaller()) or through CallOptions::stop: QueryAudit,
// AgentLogs, MemoryExport. Construct it before starting the call on `ctx`.
class StreamCall {
 public:
  StreamCall(const Client::Impl& impl, const CallOptions& call)
      : impl_(impl), call_(call), cancel_(call.stop, [this] {
          stopped_.store(true);
          ctx.TryCancel();
        }) {
    impl.Prepare(ctx, call);
  }
  StreamCall(const StreamCall&) = delete;
  StreamCall& operator=(const StreamCall&) = delete;

  // The caller's callback asked to stop: cancels the stream.
  void StopByCaller() {
    by_caller_ = true;
    ctx.TryCancel();
  }
  // The call's end, given the stream's final status: a stream the caller
  // stopped ends OK with *cancelled set; any other failure is the error.
  ::aikernel::sdk::Status End(const grpc::Status& st, bool* cancelled) const {
    if ((by_caller_ || stopped_.load()) &&
        (st.ok() || st.error_code() == grpc::StatusCode::CANCELLED)) {
      *cancelled = true;
      return {};
    }
    if (!st.ok()) return impl_.FromGrpc(st, ctx, call_);
    return {};
  }

  grpc::ClientContext ctx;  // before cancel_, which may use it at once

 private:
  const Client::Impl& impl_;
  const CallOptions& call_;
  bool by_caller_ = false;
  std::atomic<bool> stopped_{false};
  std::stop_callback<std::function<void()>> cancel_;
};

}  // namespace internal

}  // namespace sdk
}  // namespace aikernel

// Inside a Client member function (it uses `impl_` and `call`): one unary
// call of `Service`.`Method` on the Client's stub `stub`, its request and
// response types deduced from the method (internal::Unary). Each service's
// translation unit names its own stub with it.
#define AIK_SDK_UNARY(stub, Service, Method, Out, req, fill)                          \
  ::aikernel::sdk::internal::Unary<Out>(*impl_, call, *impl_->stub,                   \
                                        &::aikernel::v1::Service::Stub::Method, req, fill)
