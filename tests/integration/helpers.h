// Small helpers shared by the integration tests: SDK connections to a
// DaemonProcess, collecting audit records, parsing aictl's JSON.
#pragma once

#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "aikernel/client.h"
#include "integration/daemon_process.h"

namespace aikernel::testing {

// For tests that run aictl as uid 65534 through setpriv, which needs root.
#define REQUIRE_ROOT()                                                                 \
  do {                                                                                 \
    if (geteuid() != 0) {                                                              \
      GTEST_FAIL() << "this test must run as root (it runs aictl as uid 65534 with "   \
                      "setpriv); tests run as root here and in CI";                     \
    }                                                                                  \
  } while (0)

// A daemon whose socket uid/gid 65534 may open (numeric gid: no NSS entry
// needed); `admin_group` makes that uid an operator.
inline DaemonConfig NobodyCanConnect(const std::string& admin_group = "") {
  DaemonConfig c;
  c.daemon = "socket_group = \"65534\"\n";  // numeric gid: no NSS entry needed
  if (!admin_group.empty()) c.daemon += "admin_group = \"" + admin_group + "\"\n";
  return c;
}

// Connects the SDK to `d`'s socket (10 s connect timeout, 30 s call deadline).
// On failure records a test failure and returns nullptr.
inline std::unique_ptr<aikernel::Client> ConnectTo(const DaemonProcess& d) {
  aikernel::ClientOptions o;
  o.socket_path = d.socket();
  o.connect_timeout = std::chrono::milliseconds(10000);
  o.default_timeout = std::chrono::milliseconds(30000);
  auto c = aikernel::Client::Connect(o);
  if (!c.ok()) {
    ADD_FAILURE() << "SDK cannot connect to " << d.socket() << ": " << c.status().ToString()
                  << "\n--- daemon log ---\n"
                  << d.Log();
    return nullptr;
  }
  return std::move(*c);
}

// Every record matching `filter` (follow is forced off).
inline std::vector<aikernel::AuditRecord> Query(aikernel::Client& c,
                                                aikernel::AuditFilter filter = {}) {
  filter.follow = false;
  std::vector<aikernel::AuditRecord> out;
  auto r = c.QueryAudit(filter, [&](const aikernel::AuditRecord& rec) {
    out.push_back(rec);
    return true;
  });
  if (!r.ok()) ADD_FAILURE() << "QueryAudit: " << r.status().ToString();
  return out;
}

// Every record of `action`.
inline std::vector<aikernel::AuditRecord> RecordsOf(aikernel::Client& c, const std::string& action) {
  aikernel::AuditFilter f;
  f.action = action;
  return Query(c, f);
}

// Parses one JSON document; on failure records the text and returns null.
inline nlohmann::json ParseJson(const std::string& text) {
  try {
    return nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON (" << e.what() << "):\n" << text;
    return nullptr;
  }
}

// Parses JSON lines (blank lines skipped).
inline std::vector<nlohmann::json> ParseJsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    out.push_back(ParseJson(line));
  }
  return out;
}

// aictl with --socket <d.socket()> --json prepended.
inline CmdResult AictlJson(const DaemonProcess& d, std::vector<std::string> args,
                           const AictlOptions& options = {}) {
  args.insert(args.begin(), {"--socket", d.socket(), "--json"});
  return RunAictl(args, options);
}

}  // namespace aikernel::testing
