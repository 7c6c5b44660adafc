// The real @modelcontextprotocol/server-everything on its streamable HTTP
// transport (`node dist/index.js streamableHttp`, port from $PORT), started
// by a test on a free loopback port. Start() returns once the server has
// printed that it listens (read from its stderr, no sleeps); its stdout (one
// "Received MCP POST request" line per POST it gets) goes to a file, so a
// test can count what reached it. Kill() and Start() again on the same port
// simulate the server going down and coming back.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "mcp/npm_servers.h"

extern char** environ;

namespace aikernel::testing {

// A loopback port nothing listens on right now.
inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

class EverythingHttp {
 public:
  EverythingHttp(std::string modules, std::string stdout_file)
      : modules_(std::move(modules)), out_file_(std::move(stdout_file)),
        port_(FreeLoopbackPort()) {}
  ~EverythingHttp() { Kill(); }

  // "" when listening, else why not (its stderr).
  std::string Start() {
    int err[2];
    if (::pipe2(err, O_CLOEXEC) != 0) return "pipe2 failed";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                     0644);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    std::string entry = EverythingEntry(modules_);
    std::string port_env = "PORT=" + std::to_string(port_);
    std::string path_env = "PATH=/usr/local/bin:/usr/bin:/bin";
    char* argv[] = {const_cast<char*>("/usr/bin/node"), entry.data(),
                    const_cast<char*>("streamableHttp"), nullptr};
    char* envp[] = {port_env.data(), path_env.data(), nullptr};
    int rc = posix_spawn(&pid_, "/usr/bin/node", &fa, nullptr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    ::close(err[1]);
    if (rc != 0) {
      ::close(err[0]);
      pid_ = 0;
      return "posix_spawn node failed";
    }
    std::string seen;
    char buf[512];
    for (;;) {
      ssize_t n = ::read(err[0], buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      seen.append(buf, static_cast<size_t>(n));
      if (seen.find("listening on port") != std::string::npos) break;
    }
    // Our end stays open until Kill(): a closed pipe would make node's
    // next stderr write fail with EPIPE, which node treats as fatal.
    err_fd_ = err[0];
    if (seen.find("listening on port") == std::string::npos) {
      Kill();
      return "server-everything streamableHttp did not start: " + seen;
    }
    return "";
  }

  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = 0;
    if (err_fd_ >= 0) ::close(err_fd_);
    err_fd_ = -1;
  }

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/mcp"; }

  // How often a line of its stdout contains `what`.
  int Count(const std::string& what) const {
    std::ifstream in(out_file_);
    std::string line;
    int n = 0;
    while (std::getline(in, line)) n += line.find(what) != std::string::npos;
    return n;
  }
  int Posts() const { return Count("Received MCP POST request"); }

 private:
  std::string modules_, out_file_;
  int port_;
  pid_t pid_ = 0;
  int err_fd_ = -1;
};

}  // namespace aikernel::testing
