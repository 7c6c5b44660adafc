#include "cli/session.h"

#include <algorithm>
#include <iostream>

#include "cli/timeparse.h"
#include "cli/views.h"

namespace aikernel::cli {

ClientOptions OptionsFor(const Globals& g) {
  ClientOptions o;
  o.socket_path = g.socket;
  std::chrono::milliseconds ms(30'000);
  std::string err;
  if (!g.timeout.empty()) {
    if (auto t = ParseDuration(g.timeout, &err)) {  // CLI11 validated it already
      ms = std::chrono::milliseconds(std::max<int64_t>(*t / 1'000'000, 1));
    }
  }
  o.default_timeout = ms;
  o.connect_timeout = ms;
  return o;
}

CallOptions StreamCallFor(const Globals& g) {
  CallOptions call;
  call.timeout = g.timeout.empty() ? std::chrono::milliseconds(0) : OptionsFor(g).default_timeout;
  return call;
}

std::unique_ptr<Client> ConnectOrReport(const Globals& g, int* exit_code) {
  auto c = Client::Connect(OptionsFor(g));
  if (!c.ok()) {
    std::cerr << DescribeConnectError(c.status()) << "\n";
    *exit_code = ExitCodeFor(c.status());
    return nullptr;
  }
  return std::move(c).value();
}

int Report(std::string_view command, const Status& s) {
  std::cerr << DescribeError(command, s) << "\n";
  return ExitCodeFor(s);
}

}  // namespace aikernel::cli
