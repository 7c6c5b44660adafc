// bench_mcp: what the kernel adds to an MCP tools/call.
//
// Cells, all alive at once and called in turn, a block of calls each, so
// that the machine's drift (other builds, a vCPU's idle state) lands on
// every cell alike; within a block calls are back to back:
// - direct: this process spawned server-everything (node) with pipes, did
//   the MCP handshake and calls tools/call echo, reading each answer line:
//   the server itself plus stdio;
// - bare relay: a separate process (this binary, --serve-relay) with a sync
//   gRPC server on a Unix socket, configured as aikerneld's, whose
//   Tools.CallTool writes the JSON-RPC line to its own server-everything
//   and returns the answer: no authentication, policy, schema or audit.
//   Called with the same SDK call as the kernel. It is what any daemon
//   in front of the server pays for one gRPC hop and one more process;
// - kernel: the real aikerneld with the same server program mounted as
//   [[mcp]] "everything", called with the SDK (Client::CallTool
//   "everything.echo"): gRPC over the Unix socket, Kernel::Dispatch
//   (authenticate, schema check, Cedar, execute = the gRPC thread writes
//   the line to the server's stdin and reads the answer from its stdout
//   itself (StdioLane), audit durable before the reply), with
//   audit.synchronous "normal" and "full" (full adds the ledger's fsync);
// - governed no-op: Admin.Ping in the "normal" daemon, back to back.
// Prints p50/p99 of each, what the kernel adds to the direct call, and how
// that splits into the bare gRPC hop (relay - direct) and governance
// (kernel - relay); and the load (/proc/loadavg).
//
//   bench_mcp [--calls N] [--warmup N] [--block N] [--baseline PATH]
//             [--only PREFIX]
//   (default 3000 calls per cell after 1000 warm-up calls, node's JIT
//   needs them, in blocks of 100; --baseline: the kernel cells again with
//   another aikerneld binary, same run, for before/after; --only: measure
//   only the cells whose name starts with PREFIX, e.g. "kernel (normal)",
//   to profile one path with perf)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/server_posix.h>
#include <nlohmann/json.hpp>

#include "aikernel/client.h"
#include "aikernel/v1/tools.grpc.pb.h"
#include "bench/common/bench_daemon.h"
#include "bench/common/raw_echo.h"
#include "bench/mcp/bench_stats.h"
#include "mcp/npm_servers.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using aikernel::bench::DieWith;
using aikernel::bench::Load;
using aikernel::bench::Stats;
using aikernel::bench::Summarize;

// The server as a child with pipes; line-at-a-time JSON-RPC.
class DirectServer {
 public:
  explicit DirectServer(const std::vector<std::string>& args) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) DieWith("pipe2");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), envp) != 0) DieWith("spawn node");
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~DirectServer() {
    close(to_);
    close(from_);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  void Send(const json& j) {
    std::string s = j.dump() + "\n";
    if (write(to_, s.data(), s.size()) != static_cast<ssize_t>(s.size())) DieWith("write");
  }
  // The next message with this id (skipping notifications).
  json Await(int64_t id) {
    for (;;) {
      size_t nl;
      while ((nl = buf_.find('\n')) == std::string::npos) {
        char b[65536];
        ssize_t n = read(from_, b, sizeof(b));
        if (n <= 0) DieWith("server closed stdout");
        buf_.append(b, static_cast<size_t>(n));
      }
      json j = json::parse(buf_.substr(0, nl));
      buf_.erase(0, nl + 1);
      if (j.contains("id") && j["id"] == id) return j;
    }
  }

 private:
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buf_;
};

// The MCP handshake on a fresh DirectServer, then it is ready for calls.
void Handshake(DirectServer& s) {
  s.Send({{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"},
          {"params", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()},
                      {"clientInfo", {{"name", "bench"}, {"version", "1"}}}}}});
  s.Await(1);
  s.Send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
}

// tools/call `tool` with `arguments` on a ready server; the answer message.
json CallDirect(DirectServer& s, int64_t id, const std::string& tool, json arguments) {
  s.Send({{"jsonrpc", "2.0"}, {"id", id}, {"method", "tools/call"},
          {"params", {{"name", tool}, {"arguments", std::move(arguments)}}}});
  return s.Await(id);
}

// ---- the bare relay (child process) ----------------------------------------

constexpr const char* kServeRelayFlag = "--serve-relay";

// Tools.CallTool straight to one server over stdio, one call at a time.
class RelayTools final : public aikernel::v1::Tools::Service {
 public:
  explicit RelayTools(const std::string& entry) : server_({"/usr/bin/node", entry}) {
    Handshake(server_);
  }
  grpc::Status CallTool(grpc::ServerContext*, const aikernel::v1::CallToolRequest* req,
                        aikernel::v1::CallToolResponse* resp) override {
    std::string tool = req->name();
    if (size_t dot = tool.find('.'); dot != std::string::npos) tool.erase(0, dot + 1);
    json args = json::parse(req->args_json().empty() ? "{}" : req->args_json(), nullptr, false);
    if (args.is_discarded()) return {grpc::StatusCode::INVALID_ARGUMENT, "args_json"};
    std::lock_guard<std::mutex> lock(mu_);
    json r = CallDirect(server_, ++id_, tool, std::move(args));
    if (!r.contains("result")) return {grpc::StatusCode::INTERNAL, r.dump()};
    resp->set_result_json(r["result"].dump());
    resp->set_is_error(r["result"].value("isError", false));
    return grpc::Status::OK;
  }

 private:
  std::mutex mu_;
  DirectServer server_;
  int64_t id_ = 1;
};

// In the child (argv[1] == --serve-relay, argv[2] = the server's entry
// point), started by RawServer: serves the relay until killed; never
// returns.
void ServeRelayIfAsked(int argc, char** argv) {
  if (argc < 3 || std::strcmp(argv[1], kServeRelayFlag) != 0) return;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  RelayTools service(argv[2]);
  grpc::ServerBuilder b;
  // As aikerneld's RpcServer::Start, so the hop is the same gRPC server.
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  b.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  b.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = b.BuildAndStart();
  if (!server) DieWith("relay gRPC server failed to start");
  aikernel::bench::ServeAcceptedConnections(server.get(), "relay");
}

// ---- cells -------------------------------------------------------------------

// One measured path: `call` makes one call (dies on error); `us` collects
// the measured calls' latencies.
struct Cell {
  std::string name;
  std::function<void()> call;
  std::vector<double> us;
  pid_t server = -1;       // whose CPU to count (-1: none)
  bool measured = true;    // false: left out by --only
  double server_cpu_s = 0;  // its CPU time over the measured blocks
};

std::unique_ptr<aikernel::Client> ConnectSdk(const std::string& socket) {
  aikernel::ClientOptions o;
  o.socket_path = socket;
  auto c = aikernel::Client::Connect(o);
  if (!c.ok()) DieWith("connect " + socket + ": " + c.status().ToString());
  return std::move(*c);
}

void CallEchoOrDie(aikernel::Client& c, const char* what) {
  auto r = c.CallTool("everything.echo", R"({"message":"bench"})");
  if (!r.ok()) DieWith(std::string(what) + " echo failed: " + r.status().ToString());
}

std::unique_ptr<aikernel::bench::BenchDaemon> StartKernel(const std::string& aikerneld,
                                                          const std::string& dir,
                                                          const std::string& entry,
                                                          const std::string& mode) {
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms(0755));
  std::string config = "[node]\nname = \"bench\"\n[daemon]\nlogs_dir = \"" + dir +
                       "/logs\"\n[audit]\nsynchronous = \"" + mode +
                       "\"\n[agents]\nenabled = false\n\n[[mcp]]\nname = \"everything\"\n"
                       "command = \"/usr/bin/node\"\nargs = [\"" + entry + "\"]\n";
  return std::make_unique<aikernel::bench::BenchDaemon>(aikerneld, dir, config,
                                                        std::vector<std::string>{
                                                            "--policy-dir", AIK_POLICY_DIR});
}

void Print(const Cell& c, const Stats& s, const std::string& added) {
  char cpu[32] = "-";
  if (c.server > 0) std::snprintf(cpu, sizeof(cpu), "%.1f", c.server_cpu_s * 1e6 / c.us.size());
  std::printf("%-38s %8.1f %8.1f %9s  %s\n", c.name.c_str(), s.p50_us, s.p99_us, cpu,
              added.c_str());
}

std::string Us(double v) {
  char b[32];
  std::snprintf(b, sizeof(b), "%+.1f", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  ServeRelayIfAsked(argc, argv);
  int calls = 3000, warmup = 1000, block = 100;
  std::string baseline, only;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--warmup") == 0) warmup = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--block") == 0) block = std::max(1, std::atoi(argv[++i]));
    else if (std::strcmp(argv[i], "--baseline") == 0) baseline = argv[++i];
    else if (std::strcmp(argv[i], "--only") == 0) only = argv[++i];
  }
  std::string why;
  const std::string modules = aikernel::testing::EnsureMcpServers(&why);
  if (modules.empty()) {
    std::printf("bench_mcp: skipped: %s\n", why.c_str());
    return 0;
  }
  const std::string entry = aikernel::testing::EverythingEntry(modules);
  const std::string dir =
      std::filesystem::temp_directory_path() / ("bench-mcp-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::printf("bench_mcp: tools/call everything.echo, %d calls per cell after %d warm-up, "
              "cells in turn by blocks of %d; load before: %s\n",
              calls, warmup, block, Load().c_str());

  std::vector<Cell> cells;
  DirectServer direct({"/usr/bin/node", entry});
  Handshake(direct);
  int64_t direct_id = 1;
  cells.push_back({"direct (stdio, this process)", [&] {
                     json r = CallDirect(direct, ++direct_id, "echo", {{"message", "bench"}});
                     if (!r.contains("result")) DieWith("direct echo failed: " + r.dump());
                   }, {}});
  aikernel::bench::RawServer relay(dir + "/relay.sock", {kServeRelayFlag, entry}, "the relay");
  auto relay_client = ConnectSdk(relay.path());
  cells.push_back({"bare gRPC relay (no kernel)", [&] { CallEchoOrDie(*relay_client, "relay"); },
                   {}, relay.pid()});
  struct Kernel {
    std::unique_ptr<aikernel::bench::BenchDaemon> daemon;
    std::unique_ptr<aikernel::Client> client;
  };
  std::vector<std::unique_ptr<Kernel>> kernels;
  std::vector<std::pair<std::string, std::string>> binaries = {{"", AIK_AIKERNELD_PATH}};
  if (!baseline.empty()) binaries.push_back({"baseline ", baseline});
  for (const auto& [label, path] : binaries) {
    for (const char* mode : {"normal", "full"}) {
      auto k = std::make_unique<Kernel>();
      k->daemon = StartKernel(path, dir + "/" + std::to_string(kernels.size()), entry, mode);
      k->client = ConnectSdk(k->daemon->socket());
      aikernel::Client* c = k->client.get();
      const pid_t pid = k->daemon->pid();
      cells.push_back(
          {label + "kernel (" + mode + ")", [c] { CallEchoOrDie(*c, "kernel"); }, {}, pid});
      if (std::strcmp(mode, "normal") == 0) {
        cells.push_back({label + "governed no-op Admin.Ping (normal)", [c] {
                           auto p = c->Ping("bench");
                           if (!p.ok()) DieWith("ping failed: " + p.status().ToString());
                         }, {}, pid});
      }
      kernels.push_back(std::move(k));
    }
  }

  for (Cell& c : cells) c.measured = c.name.rfind(only, 0) == 0;
  for (Cell& c : cells) {
    if (!c.measured) continue;
    for (int i = 0; i < warmup; ++i) c.call();
    c.us.reserve(calls);
  }
  for (int done = 0; done < calls; done += block) {
    for (Cell& c : cells) {
      if (!c.measured) continue;
      const double cpu0 = c.server > 0 ? aikernel::bench::CpuSeconds(c.server) : 0;
      for (int i = 0; i < block && done + i < calls; ++i) {
        auto t0 = Clock::now();
        c.call();
        c.us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      }
      if (c.server > 0) c.server_cpu_s += aikernel::bench::CpuSeconds(c.server) - cpu0;
    }
  }
  std::vector<Stats> st;
  for (Cell& c : cells) st.push_back(c.measured ? Summarize(c.us) : Stats{});
  const Stats& d = st[0];
  const Stats& r = st[1];
  const bool all = only.empty();  // the differences need every cell
  std::printf("%-38s %8s %8s %9s  %s\n", "path", "p50 us", "p99 us", "srv CPU",
              all ? "p50 vs direct / vs relay" : "");
  for (size_t i = 0; i < cells.size(); ++i) {
    if (!cells[i].measured) continue;
    std::string added;
    if (all && i == 1) added = Us(r.p50_us - d.p50_us);
    if (all && i > 1 && cells[i].name.find("no-op") == std::string::npos) {
      added = Us(st[i].p50_us - d.p50_us) + " / " + Us(st[i].p50_us - r.p50_us);
    }
    Print(cells[i], st[i], added);
  }
  if (all) {
    const Stats& kn = st[2];
    std::printf("kernel (normal) adds %.1f us p50 to the direct call: the bare gRPC hop %.1f, "
                "governance %.1f (the governed no-op alone: %.1f)\n",
                kn.p50_us - d.p50_us, r.p50_us - d.p50_us, kn.p50_us - r.p50_us, st[3].p50_us);
  }
  std::printf("srv CPU: the server process's CPU per call in us (tick resolution; the relay's "
              "and kernel's node not counted). target: the kernel adds under 100 us p50. "
              "load after: %s\n", Load().c_str());
  kernels.clear();
  std::filesystem::remove_all(dir);
  return 0;
}
