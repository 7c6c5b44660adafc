// bench_mcp_http: what the kernel adds to an MCP tools/call over the
// streamable HTTP transport.
//
// One server-everything (`node dist/index.js streamableHttp`) on a loopback
// port serves both paths, same run:
// Direct: this process makes the MCP handshake and then POSTs tools/call
// echo in a loop with libcurl on one kept-alive connection (one easy
// handle), one call at a time, reading the answer (an SSE stream or a JSON
// body): the cost of the server plus HTTP on loopback.
// Kernel: the real aikerneld with the server mounted as `url = ...`
// ("everything"), called with the SDK (Client::CallTool "everything.echo"):
// gRPC over the Unix socket, Kernel::Dispatch (authenticate, schema check,
// Cedar, execute: the POST and its answer, audit durable before the reply).
// Admin.Ping (the governed no-op) is interleaved in the same daemon, so the
// MCP part can be read off as kernel - direct - no-op. Ledger at
// synchronous "normal" and "full".
//
//   bench_mcp_http [--calls N] [--warmup N] [--baseline PATH]
//   (default 2000 calls each after 1000 warm-up calls; --baseline: the
//   kernel rows again with another aikerneld binary, same run)
#include <unistd.h>

#include <curl/curl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "aikernel/client.h"
#include "bench/common/bench_daemon.h"
#include "bench/mcp/bench_stats.h"
#include "mcp/http_server.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using aikernel::bench::DieWith;
using aikernel::bench::Load;
using aikernel::bench::Stats;
using aikernel::bench::Summarize;

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t Header(char* data, size_t size, size_t n, void* out) {
  std::string line(data, size * n);
  if (line.size() > 15 && strncasecmp(line.c_str(), "mcp-session-id:", 15) == 0) {
    std::string v = line.substr(15);
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    *static_cast<std::string*>(out) = v;
  }
  return size * n;
}

// An MCP client over one kept-alive libcurl handle: the peer a caller would
// write without aikernel.
class DirectHttp {
 public:
  explicit DirectHttp(std::string url) : url_(std::move(url)), easy_(curl_easy_init()) {
    curl_easy_setopt(easy_, CURLOPT_URL, url_.c_str());
    curl_easy_setopt(easy_, CURLOPT_PROXY, "");
    curl_easy_setopt(easy_, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy_, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy_, CURLOPT_POST, 1L);
    curl_easy_setopt(easy_, CURLOPT_WRITEFUNCTION, Append);
    curl_easy_setopt(easy_, CURLOPT_WRITEDATA, &body_);
    curl_easy_setopt(easy_, CURLOPT_HEADERFUNCTION, Header);
    curl_easy_setopt(easy_, CURLOPT_HEADERDATA, &session_);
    json init = Request(1, "initialize",
                        {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()},
                         {"clientInfo", {{"name", "bench"}, {"version", "1"}}}});
    if (!init.contains("result")) DieWith("direct initialize failed: " + init.dump());
    if (session_.empty()) DieWith("the server gave no Mcp-Session-Id");
    SetHeaders();
    Post(json{{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}}.dump());
  }
  ~DirectHttp() {
    curl_easy_cleanup(easy_);
    curl_slist_free_all(headers_);
  }

  // POSTs request `id` and returns its answer (from an SSE stream or a
  // JSON body).
  json Request(int64_t id, const std::string& method, const json& params) {
    if (headers_ == nullptr) SetHeaders();
    std::string body = Post(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method},
                                 {"params", params}}.dump());
    size_t at = 0;
    // SSE: each "data:" line is one message; a JSON body is one message.
    if (body.rfind("{", 0) == 0) {
      json m = json::parse(body, nullptr, false);
      if (m.is_discarded()) {
        DieWith("request " + std::to_string(id) + ": the answer is not JSON: " +
                body.substr(0, 300));
      }
      return m;
    }
    while ((at = body.find("data:", at)) != std::string::npos) {
      size_t end = body.find('\n', at);
      json m = json::parse(body.substr(at + 5, end - at - 5), nullptr, false);
      if (m.is_object() && m.contains("id") && m["id"] == id) return m;
      at = end;
    }
    DieWith("no answer to request " + std::to_string(id) + " in: " + body.substr(0, 300));
  }

 private:
  void SetHeaders() {
    curl_slist_free_all(headers_);
    headers_ = nullptr;
    for (std::string h : {std::string("Content-Type: application/json"),
                          std::string("Accept: application/json, text/event-stream"),
                          std::string("Expect:")}) {
      headers_ = curl_slist_append(headers_, h.c_str());
    }
    if (!session_.empty()) {
      headers_ = curl_slist_append(headers_, ("Mcp-Session-Id: " + session_).c_str());
      headers_ = curl_slist_append(headers_, "MCP-Protocol-Version: 2025-06-18");
    }
    curl_easy_setopt(easy_, CURLOPT_HTTPHEADER, headers_);
  }

  std::string Post(const std::string& message) {
    body_.clear();
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDS, message.c_str());
    curl_easy_setopt(easy_, CURLOPT_POSTFIELDSIZE, static_cast<long>(message.size()));
    CURLcode rc = curl_easy_perform(easy_);
    if (rc != CURLE_OK) DieWith(std::string("POST ") + url_ + ": " + curl_easy_strerror(rc));
    return body_;
  }

  std::string url_;
  CURL* easy_;
  curl_slist* headers_ = nullptr;
  std::string session_, body_;
};

json EchoParams(int64_t token) {
  // As the kernel sends it over HTTP (a progress token, see docs/mcp.md).
  return {{"name", "echo"},
          {"arguments", {{"message", "bench"}}},
          {"_meta", {{"progressToken", token}}}};
}

std::vector<double> RunDirect(const std::string& url, int calls, int warmup) {
  DirectHttp s(url);
  std::vector<double> us;
  int64_t id = 2;
  for (int i = 0; i < warmup + calls; ++i, ++id) {
    auto t0 = Clock::now();
    json r = s.Request(id, "tools/call", EchoParams(id));
    auto t1 = Clock::now();
    if (!r.contains("result")) DieWith("direct echo failed: " + r.dump());
    if (i >= warmup) us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  return us;
}

struct KernelRun {
  std::vector<double> echo_us;  // everything.echo through the kernel
  std::vector<double> ping_us;  // Admin.Ping, the governed no-op, same daemon
};

KernelRun RunKernel(const std::string& aikerneld, const std::string& url, const std::string& mode,
                    int calls, int warmup) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("bench-mcp-http-" + std::to_string(getpid()) + mode);
  std::filesystem::create_directories(dir);
  std::string config = "[node]\nname = \"bench\"\n[daemon]\nlogs_dir = \"" + dir +
                       "/logs\"\n[audit]\nsynchronous = \"" + mode +
                       "\"\n[agents]\nenabled = false\n\n[[mcp]]\nname = \"everything\"\n"
                       "url = \"" + url + "\"\n";
  KernelRun run;
  {
    aikernel::bench::BenchDaemon d(aikerneld, dir, config, {"--policy-dir", AIK_POLICY_DIR});
    aikernel::ClientOptions o;
    o.socket_path = dir + "/aikernel.sock";
    auto c = aikernel::Client::Connect(o);
    if (!c.ok()) DieWith("connect: " + c.status().ToString());
    for (int i = 0; i < warmup + calls; ++i) {
      auto t0 = Clock::now();
      auto r = (*c)->CallTool("everything.echo", R"({"message":"bench"})");
      auto t1 = Clock::now();
      if (!r.ok()) DieWith("kernel echo failed: " + r.status().ToString());
      auto p = (*c)->Ping("bench");
      auto t2 = Clock::now();
      if (!p.ok()) DieWith("ping failed: " + p.status().ToString());
      if (i >= warmup) {
        run.echo_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
        run.ping_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
      }
    }
  }
  std::filesystem::remove_all(dir);
  return run;
}

void Row(const std::string& name, const Stats& s, const std::string& added) {
  std::printf("%-40s %10.1f %10.1f %12s\n", name.c_str(), s.p50_us, s.p99_us, added.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 2000, warmup = 1000;
  std::string baseline;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--calls") == 0) calls = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--warmup") == 0) warmup = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--baseline") == 0) baseline = argv[++i];
  }
  std::string why;
  const std::string modules = aikernel::testing::EnsureMcpServers(&why);
  if (modules.empty()) {
    std::printf("bench_mcp_http: skipped: %s\n", why.c_str());
    return 0;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const std::string out = std::filesystem::temp_directory_path() /
                          ("bench-mcp-http-" + std::to_string(getpid()) + ".out");
  aikernel::testing::EverythingHttp server(modules, out);
  if (std::string e = server.Start(); !e.empty()) DieWith(e);
  std::printf("bench_mcp_http: tools/call everything.echo over streamable HTTP (%s), %d "
              "sequential calls each (after %d warm-up), load before: %s\n",
              server.url().c_str(), calls, warmup, Load().c_str());
  Stats direct = Summarize(RunDirect(server.url(), calls, warmup));
  std::printf("%-40s %10s %10s %12s\n", "path", "p50 us", "p99 us", "p50 added");
  Row("direct (libcurl, kept-alive, this process)", direct, "-");
  struct Daemon {
    const char* label;
    std::string path;
  };
  std::vector<Daemon> daemons = {{"", AIK_AIKERNELD_PATH}};
  if (!baseline.empty()) daemons.push_back({"baseline ", baseline});
  for (const char* mode : {"normal", "full"}) {
    for (const Daemon& dm : daemons) {
      KernelRun run = RunKernel(dm.path, server.url(), mode, calls, warmup);
      Stats k = Summarize(run.echo_us);
      Stats p = Summarize(run.ping_us);
      char added[32];
      std::snprintf(added, sizeof(added), "%.1f", k.p50_us - direct.p50_us);
      Row(std::string(dm.label) + "kernel (SDK->aikerneld, " + mode + ")", k, added);
      Row(std::string("  governed no-op Admin.Ping, ") + mode, p, "-");
      std::printf("  MCP part (kernel - direct - no-op): %.1f us p50\n",
                  k.p50_us - direct.p50_us - p.p50_us);
    }
  }
  Row("direct again (drift check)", Summarize(RunDirect(server.url(), calls, warmup)), "-");
  std::printf("target: the kernel adds under 100 us p50. load after: %s\n", Load().c_str());
  server.Kill();
  std::filesystem::remove(out);
  return 0;
}
