// sandbox_probe: runs inside a sandbox, tries one named action and reports.
// Prints "ok <detail>" and exits 0 when the action succeeded, prints
// "fail <errno name> <text>" and exits 1 when it failed; exit 2 on bad usage.
//
//   read PATH | write PATH | connect PORT | ptrace | mount | unshare | bpf
//   forkbomb (prints how many forks succeeded before one failed)
//   status (prints /proc/self/status id, cap, seccomp lines) | hostname | ifaces
//   grandchild (forks a grandchild that sleeps, then sleeps itself)
//   memhog MIB | sleep SECONDS | exit CODE | env NAME | fd3 | fds
//   connect-unix PATH | thread | nofile | init (pid 1's name, /proc/1/comm)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace {

int Ok(const std::string& detail = "") {
  std::printf("ok %s\n", detail.c_str());
  std::fflush(stdout);
  return 0;
}
int Fail(int err) {
  std::printf("fail %s %s\n", strerrorname_np(err) ? strerrorname_np(err) : "?", strerror(err));
  std::fflush(stdout);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string a = argv[1];
  std::string arg = argc > 2 ? argv[2] : "";
  if (a == "read") {
    int fd = open(arg.c_str(), O_RDONLY);
    if (fd < 0) return Fail(errno);
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) return Fail(errno);
    return Ok(std::string(buf, static_cast<size_t>(n)));
  }
  if (a == "write") {
    int fd = open(arg.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return Fail(errno);
    if (write(fd, "probe", 5) != 5) return Fail(errno);
    close(fd);
    return Ok();
  }
  if (a == "connect") {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return Fail(errno);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(atoi(arg.c_str())));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return Fail(errno);
    return Ok();
  }
  if (a == "connect-unix") {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) return Fail(errno);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, arg.c_str(), sizeof sa.sun_path - 1);
    if (connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) return Fail(errno);
    return Ok();
  }
  if (a == "thread") {  // glibc's pthread_create tries clone3 first
    pthread_t t;
    int rc = pthread_create(&t, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
    if (rc != 0) return Fail(rc);
    pthread_join(t, nullptr);
    return Ok();
  }
  if (a == "nofile") {  // how many more fds it can open
    int n = 0;
    while (open("/dev/null", O_RDONLY) >= 0) ++n;
    return Ok(std::to_string(n));
  }
  if (a == "ptrace") {
    pid_t c = fork();
    if (c == 0) {
      pause();
      _exit(0);
    }
    long r = ptrace(PTRACE_ATTACH, c, nullptr, nullptr);
    int err = errno;
    kill(c, SIGKILL);
    waitpid(c, nullptr, 0);
    if (r < 0) return Fail(err);
    return Ok();
  }
  if (a == "mount") {
    if (mount("tmpfs", "/tmp", "tmpfs", 0, nullptr) < 0) return Fail(errno);
    return Ok();
  }
  if (a == "unshare") {
    if (unshare(CLONE_NEWUSER) < 0) return Fail(errno);
    return Ok();
  }
  if (a == "clone-newns") {  // clone(2) with a namespace flag, bypassing unshare
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r < 0) return Fail(errno);
    waitpid(static_cast<pid_t>(r), nullptr, 0);
    return Ok();
  }
  if (a == "bpf") {
    char attr[128] = {};
    if (syscall(SYS_bpf, 0 /*BPF_MAP_CREATE*/, attr, sizeof attr) < 0) return Fail(errno);
    return Ok();
  }
  if (a == "forkbomb") {
    int n = 0;
    for (; n < 10000; ++n) {
      pid_t c = fork();
      if (c < 0) {
        std::printf("ok %d %s\n", n, strerrorname_np(errno));
        std::fflush(stdout);
        return 0;
      }
      if (c == 0) {
        pause();
        _exit(0);
      }
    }
    std::printf("fail unbounded %d\n", n);
    return 1;
  }
  if (a == "status") {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
      if (line.rfind("Uid", 0) == 0 || line.rfind("Gid", 0) == 0 || line.rfind("Cap", 0) == 0 ||
          line.rfind("NoNewPrivs", 0) == 0 || line.rfind("Seccomp:", 0) == 0 || line.rfind("Groups", 0) == 0 ||
          line.rfind("NSpid", 0) == 0)
        std::printf("%s\n", line.c_str());
    return 0;
  }
  if (a == "init") {
    std::ifstream in("/proc/1/comm");
    std::string comm;
    if (!std::getline(in, comm)) return Fail(errno);
    return Ok(comm);
  }
  if (a == "hostname") {
    char h[256] = {};
    gethostname(h, sizeof h - 1);
    return Ok(h);
  }
  if (a == "ifaces") {
    std::string out;
    struct if_nameindex* idx = if_nameindex();
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    for (struct if_nameindex* i = idx; i && i->if_index; ++i) {
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, i->if_name, IFNAMSIZ - 1);
      ioctl(s, SIOCGIFFLAGS, &ifr);
      out += std::string(i->if_name) + ((ifr.ifr_flags & IFF_UP) ? ":up " : ":down ");
    }
    return Ok(out);
  }
  if (a == "grandchild") {
    pid_t c = fork();
    if (c == 0) {
      if (fork() == 0) {
        setsid();
        for (;;) pause();
      }
      _exit(0);
    }
    waitpid(c, nullptr, 0);
    Ok("spawned");
    for (;;) pause();
  }
  if (a == "memhog") {
    size_t mib = static_cast<size_t>(atol(arg.c_str()));
    std::vector<char*> blocks;
    for (size_t i = 0; i < mib; ++i) {
      char* b = static_cast<char*>(malloc(1 << 20));
      if (b == nullptr) return Fail(ENOMEM);
      memset(b, 1, 1 << 20);
      blocks.push_back(b);
    }
    return Ok(std::to_string(mib));
  }
  if (a == "sleep") {
    Ok("sleeping");
    sleep(static_cast<unsigned>(atoi(arg.c_str())));
    return 0;
  }
  if (a == "exit") return atoi(arg.c_str());
  if (a == "env") {
    const char* v = getenv(arg.c_str());
    if (v == nullptr) return Fail(ENOENT);
    return Ok(v);
  }
  if (a == "fd3") {
    if (write(3, "via-fd3", 7) != 7) return Fail(errno);
    return Ok();
  }
  if (a == "fds") {  // which fds are open
    std::string out;
    for (int fd = 0; fd < 256; ++fd)
      if (fcntl(fd, F_GETFD) >= 0) out += std::to_string(fd) + " ";
    return Ok(out);
  }
  return 2;
}
