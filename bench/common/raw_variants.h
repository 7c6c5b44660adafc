// Server and client set-ups of the raw gRPC echo, named by a short spec, so
// bench_dispatch can measure them side by side in one run (--raw-variants,
// --client-args). Header-only; used by raw_echo.h's child.
//
// A spec is options joined by '+', e.g. "sync+pollers=1/2+nobdp" or
// "async=2". Server options:
//   sync            gRPC's sync server (the default; the daemon's kind)
//   pollers=MIN/MAX SyncServerOption MIN_POLLERS / MAX_POLLERS
//   cqs=N           SyncServerOption NUM_CQS
//   async=N         no sync server: N threads, each blocking in Next() on a
//                   completion queue of its own, each Ping answered inline
//                   on the thread that got it (Admin::AsyncService)
//   async-shared=N  the same, N threads on one shared completion queue
//   lf=N            N threads on one shared queue, leader/follower: only the
//                   leader waits in Next(); when it gets a new call it wakes a
//                   follower to lead and answers the call itself (what a
//                   server whose handlers may block would have to do)
//   lazy=N          leader/follower, but the leader answers a call itself
//                   and wakes a follower to lead only when the handler is
//                   about to block (block=US): the hand-off a server could
//                   make if its handlers said "about to wait"
//   work=US         every handler spins US µs of CPU first (a dispatch's work)
//   block=US        then sleeps US µs (an fsync, an MCP server's answer)
// Channel arguments (server with --raw-variants, client with --client-args):
//   nobdp           GRPC_ARG_HTTP2_BDP_PROBE 0
//   strikes=N       GRPC_ARG_HTTP2_MAX_PING_STRIKES N
//   wbuf=N          GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE N
//   streams=N       GRPC_ARG_MAX_CONCURRENT_STREAMS N
//   minstack        GRPC_ARG_MINIMAL_STACK 1 (fewer filters in the call stack)
//   noretry         GRPC_ARG_ENABLE_RETRIES 0 (a client's retry filter)
// An unknown option exits with a message naming it.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "aikernel/v1/admin.grpc.pb.h"
#include "bench/common/bench_daemon.h"

namespace aikernel::bench {

struct RawSpec {
  int async_threads = 0;  // > 0: async server
  bool async_shared_cq = false;
  bool leader_follower = false;
  bool lazy_handoff = false;
  int work_us = 0, block_us = 0;
  int min_pollers = -1, max_pollers = -1, cqs = -1;
  std::vector<std::pair<std::string, int>> int_args;  // channel arguments
};

inline std::vector<std::string> SplitOn(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

// Parses a spec; `server` says whether server-only options are allowed.
inline RawSpec ParseRawSpec(const std::string& spec, bool server) {
  RawSpec r;
  if (spec.empty()) return r;
  for (const std::string& opt : SplitOn(spec, '+')) {
    const size_t eq = opt.find('=');
    const std::string key = opt.substr(0, eq);
    const std::string val = eq == std::string::npos ? "" : opt.substr(eq + 1);
    const int n = val.empty() ? 0 : std::atoi(val.c_str());
    if (key == "sync" && server) {
    } else if (key == "pollers" && server) {
      const std::vector<std::string> mm = SplitOn(val, '/');
      if (mm.size() != 2) DieWith("pollers=MIN/MAX expected, got '" + opt + "'");
      r.min_pollers = std::atoi(mm[0].c_str());
      r.max_pollers = std::atoi(mm[1].c_str());
    } else if (key == "cqs" && server) {
      r.cqs = n;
    } else if ((key == "async" || key == "async-shared" || key == "lf" || key == "lazy") &&
               server) {
      if (n <= 0) DieWith("'" + opt + "': thread count must be positive");
      r.async_threads = n;
      r.async_shared_cq = key != "async";
      r.leader_follower = key == "lf" || key == "lazy";
      r.lazy_handoff = key == "lazy";
    } else if (key == "work" && server) {
      r.work_us = n;
    } else if (key == "block" && server) {
      r.block_us = n;
    } else if (key == "nobdp") {
      r.int_args.emplace_back(GRPC_ARG_HTTP2_BDP_PROBE, 0);
    } else if (key == "strikes") {
      r.int_args.emplace_back(GRPC_ARG_HTTP2_MAX_PING_STRIKES, n);
    } else if (key == "wbuf") {
      r.int_args.emplace_back(GRPC_ARG_HTTP2_WRITE_BUFFER_SIZE, n);
    } else if (key == "streams") {
      r.int_args.emplace_back(GRPC_ARG_MAX_CONCURRENT_STREAMS, n);
    } else if (key == "minstack") {
      r.int_args.emplace_back(GRPC_ARG_MINIMAL_STACK, 1);
    } else if (key == "noretry") {
      r.int_args.emplace_back(GRPC_ARG_ENABLE_RETRIES, 0);
    } else {
      DieWith("unknown " + std::string(server ? "server" : "client") + " option '" + opt +
              "' in '" + spec + "'");
    }
  }
  return r;
}

inline grpc::ChannelArguments ClientArgs(const RawSpec& spec) {
  grpc::ChannelArguments args;
  for (const auto& [k, v] : spec.int_args) args.SetInt(k, v);
  return args;
}

// Called by a handler about to sleep; set per thread by LeaderFollower.
inline thread_local std::function<void()>* t_before_blocking = nullptr;

// What every handler does before answering: spin work_us, sleep block_us.
inline void HandlerWork(const RawSpec& spec) {
  if (spec.work_us > 0) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::microseconds(spec.work_us);
    while (std::chrono::steady_clock::now() < end) {
    }
  }
  if (spec.block_us > 0) {
    if (t_before_blocking != nullptr) (*t_before_blocking)();
    std::this_thread::sleep_for(std::chrono::microseconds(spec.block_us));
  }
}

// One Ping in flight on the async server: requested, then answered.
class AsyncPing {
 public:
  AsyncPing(::aikernel::v1::Admin::AsyncService* service, grpc::ServerCompletionQueue* cq)
      : responder_(&ctx_) {
    service->RequestPing(&ctx_, &req_, &responder_, cq, cq, this);
  }
  // The tag came back: answer (first time) or done (second time).
  // Returns false when this object is finished and may be deleted.
  bool answered() const { return answered_; }
  bool Proceed(const RawSpec& spec) {
    if (answered_) return false;
    answered_ = true;
    HandlerWork(spec);
    resp_.set_payload(req_.payload());
    responder_.Finish(resp_, grpc::Status::OK, this);
    return true;
  }

 private:
  grpc::ServerContext ctx_;
  ::aikernel::v1::PingRequest req_;
  ::aikernel::v1::PingResponse resp_;
  grpc::ServerAsyncResponseWriter<::aikernel::v1::PingResponse> responder_;
  bool answered_ = false;
};

// lf=N and lazy=N: one token; its holder alone waits in Next().
class LeaderFollower {
 public:
  void Run(::aikernel::v1::Admin::AsyncService* service, grpc::ServerCompletionQueue* cq,
           const RawSpec& spec) {
    bool leading = false;
    std::function<void()> release = [&] {
      if (!leading) return;
      leading = false;
      {
        std::lock_guard<std::mutex> l(mu_);
        taken_ = false;
      }
      cv_.notify_one();
    };
    t_before_blocking = &release;
    for (;;) {
      {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return !taken_; });
        taken_ = true;
      }
      leading = true;
      while (leading) {  // finished answers need no hand-off
        void* tag = nullptr;
        bool ok = false;
        if (!cq->Next(&tag, &ok)) return;
        auto* call = static_cast<AsyncPing*>(tag);
        if (!ok || call->answered()) {
          delete call;
          continue;
        }
        new AsyncPing(service, cq);
        if (!spec.lazy_handoff) release();
        call->Proceed(spec);  // lazy: releases before it blocks, if it does
      }
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool taken_ = false;
};

// Builds and starts the server `spec` names; runs its threads if async.
// `on_started` is called with the running server (accept loop); never returns.
[[noreturn]] inline void ServeRawSpec(const std::string& spec_text,
                                      const std::function<void(grpc::Server*)>& on_started) {
  const RawSpec spec = ParseRawSpec(spec_text, true);
  class EchoAdmin final : public ::aikernel::v1::Admin::Service {
   public:
    explicit EchoAdmin(const RawSpec* spec) : spec_(spec) {}
    grpc::Status Ping(grpc::ServerContext*, const ::aikernel::v1::PingRequest* req,
                      ::aikernel::v1::PingResponse* resp) override {
      HandlerWork(*spec_);
      resp->set_payload(req->payload());
      return grpc::Status::OK;
    }

   private:
    const RawSpec* spec_;
  };
  EchoAdmin sync_service(&spec);
  ::aikernel::v1::Admin::AsyncService async_service;
  grpc::ServerBuilder b;
  for (const auto& [k, v] : spec.int_args) b.AddChannelArgument(k, v);
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> cqs;
  if (spec.async_threads > 0) {
    b.RegisterService(&async_service);
    const int n = spec.async_shared_cq ? 1 : spec.async_threads;
    for (int i = 0; i < n; ++i) cqs.push_back(b.AddCompletionQueue());
  } else {
    b.RegisterService(&sync_service);
    if (spec.min_pollers > 0) {
      b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, spec.min_pollers);
    }
    if (spec.max_pollers > 0) {
      b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, spec.max_pollers);
    }
    if (spec.cqs > 0) {
      b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, spec.cqs);
    }
  }
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (!server) DieWith("raw gRPC server failed to start (" + spec_text + ")");
  LeaderFollower leader;
  std::vector<std::thread> threads;
  for (int t = 0; t < spec.async_threads; ++t) {
    grpc::ServerCompletionQueue* cq = cqs[spec.async_shared_cq ? 0 : t].get();
    // Keep a few requests posted per queue so a burst finds one waiting.
    if (!spec.async_shared_cq || t == 0) {
      for (int k = 0; k < 4; ++k) new AsyncPing(&async_service, cq);
    }
    if (spec.leader_follower) {
      threads.emplace_back(
          [&async_service, &leader, &spec, cq] { leader.Run(&async_service, cq, spec); });
      continue;
    }
    threads.emplace_back([&async_service, &spec, cq] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
        auto* call = static_cast<AsyncPing*>(tag);
        if (!ok || !call->Proceed(spec)) {  // shutting down, or answered
          delete call;
          continue;
        }
        new AsyncPing(&async_service, cq);  // replaces the one just matched
      }
    });
  }
  on_started(server.get());
  std::_Exit(0);
}

}  // namespace aikernel::bench
