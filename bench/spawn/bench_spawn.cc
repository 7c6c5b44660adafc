// bench_spawn: spawn latency p50/p99 of /bin/true until exit, launched
//   - by sandbox::Launch under the default profile (every namespace,
//     read-only root, private /tmp, Landlock, seccomp, uid drop, rlimits),
//   - by sandbox::Launch under the trusted profile,
//   - by `bwrap --unshare-all --die-with-parent --ro-bind / / /bin/true`
//     (skipped, and said so, when bwrap is not installed),
//   - by plain posix_spawn (the floor).
// Interleaved round-robin so that machine noise hits every column alike.
// Prints figures and the default/bwrap ratio; asserts nothing. Needs root.
//
//   bench_spawn [--iterations N]
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sandbox/sandbox.h"

extern char** environ;
using namespace aikernel;
using Clock = std::chrono::steady_clock;

namespace {

struct Column {
  std::string name;
  std::vector<double> ms;
  std::vector<double> exec_ms;  // sandbox only: Launch() returned, i.e. the program was exec'd
  int failures = 0;
  std::string last_error;
};

double Pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

bool SpawnAndWait(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return false;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

void TimeSandbox(Column& c, const sandbox::LaunchSpec& spec) {
  auto t0 = Clock::now();
  auto l = sandbox::Launch(spec);
  auto t_exec = Clock::now();
  if (!l.ok()) {
    ++c.failures;
    c.last_error = l.status().ToString();
    return;
  }
  auto st = sandbox::Reap(*l, true);
  auto t1 = Clock::now();
  if (!st.ok() || !st->has_value() || (*st)->code != 0) {
    ++c.failures;
    c.last_error = "exit status";
    return;
  }
  c.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  c.exec_ms.push_back(std::chrono::duration<double, std::milli>(t_exec - t0).count());
}

void TimeSpawn(Column& c, const std::vector<std::string>& args) {
  auto t0 = Clock::now();
  bool ok = SpawnAndWait(args);
  auto t1 = Clock::now();
  if (!ok) {
    ++c.failures;
    c.last_error = "non-zero exit";
    return;
  }
  c.ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
}

std::string FindBwrap() {
  for (const char* p : {"/usr/bin/bwrap", "/bin/bwrap", "/usr/local/bin/bwrap"})
    if (access(p, X_OK) == 0) return p;
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  int iterations = 300;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--iterations") == 0) iterations = std::atoi(argv[i + 1]);
  if (geteuid() != 0) {
    std::printf("bench_spawn: needs root (namespaces, uid drop); skipped\n");
    return 0;
  }
  char tmpl[] = "/tmp/aik-bench-spawn-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  std::string workdir = tmpl;
  if (chown(tmpl, 65534, 65534) != 0) return 1;

  std::printf("host: %s\n", sandbox::Describe(sandbox::Detect()).c_str());
  sandbox::LaunchSpec def;
  def.argv = {"/bin/true"};
  def.workdir = workdir;
  def.limits.pids = 64;
  def.limits.open_files = 256;
  sandbox::LaunchSpec trusted = def;
  trusted.profile = sandbox::TrustedProfile();
  {
    auto l = sandbox::Launch(def);
    if (!l.ok()) {
      std::printf("default-profile launch fails: %s\n", l.status().ToString().c_str());
      return 1;
    }
    std::string joined;
    for (const auto& f : l->in_force) joined += f + " ";
    std::printf("default profile in force: %s\n", joined.c_str());
    (void)sandbox::Reap(*l, true);
  }

  std::string bwrap = FindBwrap();
  std::vector<std::string> bwrap_args = {bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/",
                                         "/bin/true"};
  if (bwrap.empty()) std::printf("bwrap: not installed (apt package bubblewrap); its column is skipped\n");

  Column c_def, c_trusted, c_bwrap, c_plain, warm;
  c_def.name = "sandbox default";
  c_trusted.name = "sandbox trusted";
  c_bwrap.name = "bwrap --unshare-all";
  c_plain.name = "posix_spawn (no confinement)";
  for (int i = 0; i < 10; ++i) TimeSandbox(warm, def);
  for (int i = 0; i < iterations; ++i) {
    TimeSandbox(c_def, def);
    TimeSandbox(c_trusted, trusted);
    if (!bwrap.empty()) TimeSpawn(c_bwrap, bwrap_args);
    TimeSpawn(c_plain, {"/bin/true"});
  }

  std::printf("\nspawn of /bin/true until exit, %d iterations each, interleaved\n", iterations);
  std::printf("%-32s %9s %9s %9s %6s\n", "launcher", "p50 ms", "p99 ms", "mean ms", "fails");
  for (Column* c : {&c_def, &c_trusted, &c_bwrap, &c_plain}) {
    if (c->ms.empty() && c->failures == 0) continue;
    double mean = 0;
    for (double v : c->ms) mean += v;
    mean = c->ms.empty() ? 0 : mean / static_cast<double>(c->ms.size());
    std::printf("%-32s %9.3f %9.3f %9.3f %6d\n", c->name.c_str(), Pct(c->ms, 0.5), Pct(c->ms, 0.99), mean,
                c->failures);
    if (!c->exec_ms.empty())
      std::printf("  %-30s %9.3f %9.3f\n", "of which until exec'd", Pct(c->exec_ms, 0.5), Pct(c->exec_ms, 0.99));
    if (c->failures > 0) std::printf("  last error: %s\n", c->last_error.c_str());
  }
  if (!c_bwrap.ms.empty() && !c_def.ms.empty())
    std::printf("\nratio default/bwrap: p50 %.2fx, p99 %.2fx (below 1 = faster than bwrap)\n",
                Pct(c_def.ms, 0.5) / Pct(c_bwrap.ms, 0.5), Pct(c_def.ms, 0.99) / Pct(c_bwrap.ms, 0.99));
  std::error_code ec;
  std::filesystem::remove_all(workdir, ec);
  return 0;
}
