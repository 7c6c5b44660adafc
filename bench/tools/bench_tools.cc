// bench_tools: a builtin no-op tool call (clock.now through Tools.CallTool:
// authenticate, the schema check, authorize, run, durable audit) against the
// raw gRPC echo (bench/common/raw_echo.h, served by a child process), same
// run, same transport, same client.
// Prints calls/s, p50/p99 and the ratio; asserts nothing.
//
//   bench_tools [--seconds S] [--aikerneld PATH] [--mode full|normal]
#include <signal.h>

#include <cstdlib>
#include <filesystem>

#include "aikernel/v1/tools.grpc.pb.h"
#include "bench/common/raw_echo.h"

namespace {

namespace pb = ::aikernel::v1;
using namespace aikernel::bench;

MakeCaller ClockNowCaller() {
  return [](std::shared_ptr<grpc::Channel> ch) -> CallOnce {
    struct State {
      std::unique_ptr<pb::Tools::Stub> stub;
      pb::CallToolRequest req;
      pb::CallToolResponse resp;
    };
    auto s = std::make_shared<State>();
    s->stub = pb::Tools::NewStub(ch);
    s->req.set_name("clock.now");
    s->req.set_args_json("{}");
    return [s] {
      grpc::ClientContext ctx;
      return s->stub->CallTool(&ctx, s->req, &s->resp).ok();
    };
  };
}

}  // namespace

int main(int argc, char** argv) {
  ServeRawIfAsked(argc, argv);
  double seconds = 3.0;
  std::string binary = AIK_AIKERNELD_PATH;
  std::string only_mode;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--aikerneld" && i + 1 < argc) {
      binary = argv[++i];
    } else if (a == "--mode" && i + 1 < argc) {
      only_mode = argv[++i];
    } else {
      std::fprintf(stderr, "usage: bench_tools [--seconds S] [--aikerneld PATH] [--mode full|normal]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/aik-bench-tools-XXXXXX";
  if (!mkdtemp(tmpl)) DieWith("mkdtemp failed");
  const std::string dir = tmpl;
  std::printf("bench_tools: Tools.CallTool clock.now governed (real aikerneld: schema check, "
              "Cedar over %s, durable audit) vs raw gRPC echo, Unix socket, sync servers; "
              "%.1f s per cell, %u cores\n\n",
              AIK_POLICY_DIR "/policies", seconds, std::thread::hardware_concurrency());
  PrintHeader();
  RawServer raw(dir + "/raw.sock");
  for (const char* mode : {"full", "normal"}) {
    if (!only_mode.empty() && only_mode != mode) continue;
    Cell r1 = Measure(raw.path(), 1, seconds, PingCaller(), raw.pid());
    Cell r4 = Measure(raw.path(), 4, seconds, PingCaller(), raw.pid());
    Cell p1, g1, g4;
    {
      BenchDaemon d(binary, dir + "/daemon-" + mode,
                    std::string("[node]\nname = \"bench\"\n[daemon]\nlog_level = \"warn\"\n"
                                "[audit]\nsynchronous = \"") + mode + "\"\n",
                    {"--policy-dir", AIK_POLICY_DIR});
      p1 = Measure(d.socket(), 1, seconds, PingCaller(), d.pid());
      g1 = Measure(d.socket(), 1, seconds, ClockNowCaller(), d.pid());
      g4 = Measure(d.socket(), 4, seconds, ClockNowCaller(), d.pid());
    }
    PrintRow("raw echo", 1, r1, nullptr, "");
    PrintRow((std::string("governed ping ") + mode).c_str(), 1, p1, &r1, "");
    PrintRow((std::string("clock.now ") + mode).c_str(), 1, g1, &r1, "");
    PrintRow("raw echo", 4, r4, nullptr, "");
    PrintRow((std::string("clock.now ") + mode).c_str(), 4, g4, &r4, "");
    if (g1.p50_us > 0 && r1.p50_us > 0) {
      std::printf("  clock.now adds %.1f us p50 over the raw echo (%.1f us over the governed ping)\n",
                  g1.p50_us - r1.p50_us, g1.p50_us - p1.p50_us);
    }
    std::fflush(stdout);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}
