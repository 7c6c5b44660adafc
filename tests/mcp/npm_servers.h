// The real MCP servers the tests mount: @modelcontextprotocol/server-everything
// and @modelcontextprotocol/server-filesystem, installed with npm into the
// build tree (<build>/mcp-node) on first use, as tests/policy does for
// Cedar's wasm engine. Several test binaries may ask at once: one installs
// under flock, the others wait and find it. Returns the node_modules
// directory, or "" with `why` set (no node/npm, or the registry unreachable)
// so the caller can GTEST_SKIP with the reason printed.
#pragma once

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace aikernel::testing {

// Targets including this header define AIK_MCP_NODE_DIR
// (${PROJECT_BINARY_DIR}/mcp-node).
inline std::string McpBuildDir() { return AIK_MCP_NODE_DIR; }

inline std::string EnsureMcpServers(std::string* why) {
  namespace fs = std::filesystem;
  const fs::path dir = McpBuildDir();
  const fs::path modules = dir / "node_modules";
  const fs::path marker = modules / "@modelcontextprotocol" / "server-filesystem" / "package.json";
  const fs::path marker2 = modules / "@modelcontextprotocol" / "server-everything" / "package.json";
  auto ready = [&] { return fs::exists(marker) && fs::exists(marker2); };
  if (ready()) return modules.string();
  if (std::system("node --version >/dev/null 2>&1") != 0 ||
      std::system("npm --version >/dev/null 2>&1") != 0) {
    *why = "node or npm is not installed";
    return "";
  }
  fs::create_directories(dir);
  const std::string cmd =
      "cd '" + dir.string() +
      "' && flock npm.lock sh -c '"
      "test -f node_modules/@modelcontextprotocol/server-filesystem/package.json && "
      "test -f node_modules/@modelcontextprotocol/server-everything/package.json || "
      "{ echo {\\\"private\\\": true} > package.json && "
      "timeout 300 npm install --no-audit --no-fund --silent "
      "--fetch-retries=1 --fetch-timeout=30000 "
      "@modelcontextprotocol/server-everything @modelcontextprotocol/server-filesystem; }' "
      ">npm.log 2>&1";
  if (std::system(cmd.c_str()) != 0 || !ready()) {
    std::ifstream log(dir / "npm.log");
    std::stringstream s;
    s << log.rdbuf();
    *why = "npm install of the MCP servers failed (registry unreachable?): " +
           s.str().substr(0, 400);
    return "";
  }
  // The servers run as uid 65534: let them read their code.
  std::system(("chmod -R a+rX '" + dir.string() + "'").c_str());
  return modules.string();
}

// node + the server's entry point, for a [[mcp]] command/args.
inline std::string EverythingEntry(const std::string& modules) {
  return modules + "/@modelcontextprotocol/server-everything/dist/index.js";
}
inline std::string FilesystemEntry(const std::string& modules) {
  return modules + "/@modelcontextprotocol/server-filesystem/dist/index.js";
}

}  // namespace aikernel::testing
