// mcp::PinStore: the digests of each MCP tool's description and input
// schema as first mounted, so a server cannot rewrite a tool under the
// policy's feet.
//
// Contract
// - Digests are SHA-256 (hex) of the canonical JSON (nlohmann's dump: object
//   keys sorted, no spaces) of the description string and of the
//   inputSchema object, kept apart so a refusal can say which changed.
// - Check() pins a tool seen for the first time (persisted before it
//   returns), answers kMatch for an unchanged one and kChanged, with what
//   changed, otherwise; the pin is not moved by a change. Accept() moves it
//   to the given digests (the operator's `aictl tool accept`).
// - Persistence: one JSON file (e.g. <state>/mcp-pins.json), mode 0600,
//   replaced atomically (temp file, fsync, rename); a file that cannot be
//   parsed stops Open() with its path named rather than silently trusting
//   every tool again.
// - Thread-safe (one mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tools/mcp/protocol.h"

namespace aikernel::tools::mcp {

struct PinDigest {
  std::string description_sha256;
  std::string schema_sha256;
  bool operator==(const PinDigest& o) const {
    return description_sha256 == o.description_sha256 && schema_sha256 == o.schema_sha256;
  }
};
PinDigest DigestTool(const ToolDef& tool);

struct PinCheck {
  enum class Result { kNew, kMatch, kChanged };
  Result result = Result::kNew;
  std::string change;  // kChanged: "description changed", "inputSchema changed", or both
};

class PinStore {
 public:
  static StatusOr<std::unique_ptr<PinStore>> Open(const std::string& path);

  // Names are mounted names, "<server>.<tool>". One answer per tool, in
  // order; the new ones are pinned with one file write.
  StatusOr<std::vector<PinCheck>> Check(
      const std::vector<std::pair<std::string, PinDigest>>& tools);
  Status Accept(const std::string& name, const PinDigest& digest);
  size_t size() const;

 private:
  explicit PinStore(std::string path) : path_(std::move(path)) {}
  Status SaveLocked() const;

  const std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, PinDigest> pins_;  // GUARDED_BY(mu_)
};

}  // namespace aikernel::tools::mcp
