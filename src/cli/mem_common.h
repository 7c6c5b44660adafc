// What aictl's mem commands share (mem_cmds.cc, mem_admin_cmds.cc): how
// memory values are shown (JSON for --json, text otherwise) and how their
// arguments are read. Pure functions over SDK values, except ReadInput
// (a file or standard input); thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "aikernel/client.h"
#include "cli/cli.h"

namespace aikernel::cli::mem {

using json = nlohmann::ordered_json;

inline constexpr const char* kNsHelp = "Namespace: agent/<name> or shared/<name>";

// A subcommand with the global footer.
CLI::App* Sub(CLI::App& parent, const char* name, const char* help);

int64_t Ns(Timestamp t);
// "#12", or "-" for 0.
std::string Seq(uint64_t s);
// RFC 3339, ms.
std::string Time(Timestamp t);
// Time(*t), or "never".
std::string Expiry(const std::optional<Timestamp>& t);
// A quota: the number, or "unlimited" for 0.
std::string Limit(int64_t v);
// Values are bytes: JSON carries them as `text_key` when they are UTF-8,
// else base64 as `b64_key` (the same rule as the export format).
void PutBytes(json& j, const char* text_key, const char* b64_key, const std::string& bytes);
// A short, printable preview of a value for tables.
std::string Preview(const std::string& bytes, size_t max = 40);

json EntryJson(const MemoryEntry& e, bool with_value);
json NamespaceJson(const MemoryNamespace& n);
std::string NamespaceText(const MemoryNamespace& n, uint64_t seq);
json DocumentJson(const MemoryDocument& d);
json EventJson(const MemoryEvent& e);

// Argument readers: on failure each prints "aictl: <command>: <flag>: why"
// and returns false.
// A whole file, or standard input for "-".
bool ReadInput(const std::string& path, const char* command, std::string* out);
// A duration ("1h"); empty leaves *out unchanged.
bool DurationArg(const std::string& text, const char* command, const char* flag,
                 std::chrono::nanoseconds* out);
// A time (RFC 3339, date, relative); empty leaves *out unchanged.
bool TimeArg(const std::string& text, const char* command, const char* flag,
             std::optional<Timestamp>* out);
// A JSON array of numbers.
bool EmbeddingArg(const std::string& text, const char* command, std::vector<float>* out);
// KEY=VALUE: VALUE as JSON if it is a JSON scalar, else as a JSON string.
bool FilterArg(const std::string& text, const char* command, MemoryMetadataFilter* out);

// doc put|get|rm, append, events (mem_admin_cmds.cc).
void AddDocumentAndLogCommands(CLI::App& mem, Context& ctx);
// compact, ns create|show|quota|drop (mem_admin_cmds.cc).
void AddNamespaceCommands(CLI::App& mem, Context& ctx);

}  // namespace aikernel::cli::mem
