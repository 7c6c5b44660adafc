// Output helpers for aictl: aligned tables, key/value blocks, human durations,
// JSON serialization, and the exit-code contract. No SDK or daemon types
// here, so every command file can use it. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace aikernel::cli {

// aictl's exit codes.
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,   // the command failed (including a ledger that fails verification)
  kExitUsage = 2,   // the command line was wrong
  kExitDenied = 3,  // the daemon refused the caller (PERMISSION_DENIED, UNAUTHENTICATED)
};

// Maps a gRPC status code number to aictl's exit code.
int ExitCodeForGrpcCode(int code);

// Columns padded to their widest cell, separated by two spaces; the last
// column is not padded. Rendered with a header row.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  size_t rows() const { return rows_.size(); }
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// One row with fixed column widths (cells longer than their width push the
// rest right): for streams whose rows are printed as they arrive.
std::string FixedRow(const std::vector<std::string>& cells, const std::vector<size_t>& widths);

// "key    value" lines with the values aligned.
std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields);

// 850ns, 12.3µs, 4.56ms, 7.89s, 5m3s, 2h5m, 3d4h.
std::string FormatDurationHuman(int64_t ns);

// Display width of UTF-8 text (code points; good enough for the ASCII and
// µ/— this tool prints).
size_t DisplayWidth(std::string_view s);

// Serializes `j`; invalid UTF-8 in strings is replaced, never thrown on.
// indent < 0: one line.
std::string DumpJson(const nlohmann::ordered_json& j, int indent = -1);

}  // namespace aikernel::cli
