// Connecting aictl to the daemon through the SDK, as the global flags say.
#pragma once

#include <memory>

#include "aikernel/client.h"
#include "cli/cli.h"

namespace aikernel::cli {

// ClientOptions for the global flags (--socket, --timeout).
ClientOptions OptionsFor(const Globals& g);

// CallOptions for an audit stream: no deadline unless --timeout was given.
CallOptions StreamCallFor(const Globals& g);

// Connects; on failure prints the reason to stderr, sets *exit_code and
// returns nullptr.
std::unique_ptr<Client> ConnectOrReport(const Globals& g, int* exit_code);

// Prints DescribeError to stderr and returns the exit code for `s`.
int Report(std::string_view command, const Status& s);

}  // namespace aikernel::cli
