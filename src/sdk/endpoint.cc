// Endpoint selection: explicit option, AIKERNEL_FD, AIKERNEL_SOCKET, default.
// Syntax only; Connect (client.cc) checks that the fd or path is usable.
#include <cerrno>
#include <climits>
#include <cstdlib>

#include "aikernel/client.h"

namespace aikernel {
inline namespace sdk {

namespace {
const char* NonEmptyEnv(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}
}  // namespace

std::string Endpoint::ToString() const {
  if (fd >= 0) {
    std::string s = "fd " + std::to_string(fd);
    if (source == Source::kEnvFd) s += " (AIKERNEL_FD)";
    return s;
  }
  return path;
}

Result<Endpoint> ResolveEndpoint(const ClientOptions& options) {
  Endpoint ep;
  if (options.fd >= 0 && !options.socket_path.empty()) {
    return Status(StatusCode::kInvalidArgument,
                  "ClientOptions: set either fd or socket_path, not both");
  }
  if (options.fd >= 0) {
    ep.source = Endpoint::Source::kOption;
    ep.fd = options.fd;
    return ep;
  }
  if (!options.socket_path.empty()) {
    ep.source = Endpoint::Source::kOption;
    ep.path = options.socket_path;
    return ep;
  }
  if (const char* v = NonEmptyEnv("AIKERNEL_FD")) {
    errno = 0;
    char* end = nullptr;
    long n = std::strtol(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < 0 || n > INT_MAX) {
      return Status(StatusCode::kInvalidArgument,
                    std::string("AIKERNEL_FD=") + v + " is not a file descriptor number");
    }
    ep.source = Endpoint::Source::kEnvFd;
    ep.fd = static_cast<int>(n);
    return ep;
  }
  if (const char* v = NonEmptyEnv("AIKERNEL_SOCKET")) {
    ep.source = Endpoint::Source::kEnvSocket;
    ep.path = v;
    return ep;
  }
  ep.source = Endpoint::Source::kDefault;
  ep.path = kDefaultSocketPath;
  return ep;
}

}  // namespace sdk
}  // namespace aikernel
