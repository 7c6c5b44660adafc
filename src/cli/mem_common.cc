#include "cli/mem_common.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "cli/format.h"
#include "cli/timeparse.h"
#include "common/text.h"

namespace aikernel::cli::mem {

CLI::App* Sub(CLI::App& parent, const char* name, const char* help) {
  CLI::App* c = parent.add_subcommand(name, help);
  c->footer(kGlobalFooter);
  return c;
}

int64_t Ns(Timestamp t) { return t.time_since_epoch().count(); }
std::string Seq(uint64_t s) { return s == 0 ? "-" : "#" + std::to_string(s); }
std::string Time(Timestamp t) { return FormatRfc3339(Ns(t), 3); }
std::string Expiry(const std::optional<Timestamp>& t) { return t ? Time(*t) : "never"; }

// Values are bytes: JSON carries them as "value" when they are UTF-8, else
// as "value_b64" (the same rule as the export format).
void PutBytes(json& j, const char* text_key, const char* b64_key, const std::string& bytes) {
  if (ValidUtf8(bytes)) {
    j[text_key] = bytes;
  } else {
    j[b64_key] = Base64Encode(bytes);
  }
}

// A short, printable preview of a value for tables.
std::string Preview(const std::string& bytes, size_t max) {
  if (!ValidUtf8(bytes)) return "<" + std::to_string(bytes.size()) + " bytes, binary>";
  std::string out;
  for (char c : bytes) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    out += (c == '\n' || c == '\t' || c == '\r') ? ' ' : c;
  }
  return out;
}

json EntryJson(const MemoryEntry& e, bool with_value) {
  json j = {{"key", e.key},
            {"version", e.version},
            {"deleted", e.deleted},
            {"created", FormatRfc3339(Ns(e.created_at), 9)},
            {"expires", e.expires_at ? json(FormatRfc3339(Ns(*e.expires_at), 9)) : json(nullptr)}};
  if (with_value) PutBytes(j, "value", "value_b64", e.value);
  return j;
}

json NamespaceJson(const MemoryNamespace& n) {
  return {{"name", n.name},
          {"max_bytes", n.max_bytes},
          {"max_records", n.max_records},
          {"dim", n.dim},
          {"used_bytes", n.used_bytes},
          {"used_records", n.used_records},
          {"created", FormatRfc3339(Ns(n.created_at), 9)}};
}

std::string Limit(int64_t v) { return v == 0 ? "unlimited" : std::to_string(v); }

std::string NamespaceText(const MemoryNamespace& n, uint64_t seq) {
  return RenderFields({{"namespace", n.name},
                       {"records", std::to_string(n.used_records) + " of " + Limit(n.max_records)},
                       {"bytes", std::to_string(n.used_bytes) + " of " + Limit(n.max_bytes)},
                       {"dim", n.dim == 0 ? "not fixed" : std::to_string(n.dim)},
                       {"created", Time(n.created_at)},
                       {"audit record", Seq(seq)}});
}

json DocumentJson(const MemoryDocument& d) {
  json j = {{"id", d.id},
            {"version", d.version},
            {"text", d.text},
            {"metadata", json::parse(d.metadata_json.empty() ? "{}" : d.metadata_json, nullptr,
                                     false)},
            {"created", FormatRfc3339(Ns(d.created_at), 9)},
            {"updated", FormatRfc3339(Ns(d.updated_at), 9)},
            {"expires", d.expires_at ? json(FormatRfc3339(Ns(*d.expires_at), 9)) : json(nullptr)}};
  if (!d.embedding.empty()) j["embedding"] = d.embedding;
  return j;
}

json EventJson(const MemoryEvent& e) {
  return {{"seq", e.seq},
          {"time", FormatRfc3339(Ns(e.time), 9)},
          {"kind", e.kind},
          {"payload", json::parse(e.payload_json, nullptr, false)},
          {"expires", e.expires_at ? json(FormatRfc3339(Ns(*e.expires_at), 9)) : json(nullptr)}};
}

// Reads a whole file, or standard input for "-". False (and a message) on
// failure.
bool ReadInput(const std::string& path, const char* command, std::string* out) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    *out = ss.str();
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "aictl: " << command << ": cannot read " << path << "\n";
    return false;
  }
  out->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

// "--ttl 1h" -> ns; false (and a message) if it does not parse.
bool DurationArg(const std::string& text, const char* command, const char* flag,
                 std::chrono::nanoseconds* out) {
  if (text.empty()) return true;
  std::string err;
  auto ns = ParseDuration(text, &err);
  if (!ns) {
    std::cerr << "aictl: " << command << ": " << flag << ": " << err << "\n";
    return false;
  }
  *out = std::chrono::nanoseconds(*ns);
  return true;
}

bool TimeArg(const std::string& text, const char* command, const char* flag,
             std::optional<Timestamp>* out) {
  if (text.empty()) return true;
  std::string err;
  auto ns = ParseTimeArg(text, NowNs(), &err);
  if (!ns) {
    std::cerr << "aictl: " << command << ": " << flag << ": " << err << "\n";
    return false;
  }
  *out = Timestamp(std::chrono::nanoseconds(*ns));
  return true;
}

// "--embedding '[0.1, 0.2]'" -> floats.
bool EmbeddingArg(const std::string& text, const char* command, std::vector<float>* out) {
  if (text.empty()) return true;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    std::cerr << "aictl: " << command << ": --embedding: expected a JSON array of numbers\n";
    return false;
  }
  for (const auto& v : j) {
    if (!v.is_number()) {
      std::cerr << "aictl: " << command << ": --embedding: expected a JSON array of numbers\n";
      return false;
    }
    out->push_back(v.get<float>());
  }
  return true;
}

// "--filter key=value": value as JSON if it is a JSON scalar, else as a
// JSON string ("status=draft" means "draft").
bool FilterArg(const std::string& text, const char* command, MemoryMetadataFilter* out) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    std::cerr << "aictl: " << command << ": --filter: expected KEY=VALUE, got '" << text << "'\n";
    return false;
  }
  out->key = text.substr(0, eq);
  std::string v = text.substr(eq + 1);
  json j = json::parse(v, nullptr, false);
  out->value_json = (!j.is_discarded() && j.is_primitive()) ? v : json(v).dump();
  return true;
}

}  // namespace aikernel::cli::mem
