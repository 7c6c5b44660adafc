#include "tools/mcp/pins.h"

#include <optional>

#include "identity/ossl.h"

namespace aikernel::tools::mcp {

using nlohmann::json;

namespace {

std::string Sha256Hex(const json& j) {
  return identity::ossl::Hex(identity::ossl::Sha256(j.dump(-1, ' ', false,
                                                           json::error_handler_t::replace)));
}

}  // namespace

PinDigest DigestTool(const ToolDef& tool) {
  return PinDigest{Sha256Hex(json(tool.description)), Sha256Hex(tool.input_schema)};
}

StatusOr<std::unique_ptr<PinStore>> PinStore::Open(const std::string& path) {
  std::unique_ptr<PinStore> store(new PinStore(path));
  StatusOr<std::string> text = identity::ossl::ReadFile(path);
  if (absl::IsNotFound(text.status())) return store;
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(
        absl::StrCat(path, ": tool pins are not a JSON object; fix or remove the file "
                           "(removing it re-pins every MCP tool at its next mount)"));
  }
  for (const auto& [name, v] : j.items()) {
    if (!v.is_object() || !v.contains("description_sha256") || !v.contains("schema_sha256") ||
        !v["description_sha256"].is_string() || !v["schema_sha256"].is_string()) {
      return absl::DataLossError(absl::StrCat(path, ": tool pin '", name,
                                              "' lacks description_sha256/schema_sha256"));
    }
    store->pins_[name] = PinDigest{v["description_sha256"].get<std::string>(),
                                   v["schema_sha256"].get<std::string>()};
  }
  return store;
}

StatusOr<std::vector<PinCheck>> PinStore::Check(
    const std::vector<std::pair<std::string, PinDigest>>& tools) {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<PinCheck> out;
  std::vector<std::string> added;
  for (const auto& [name, digest] : tools) {
    auto it = pins_.find(name);
    if (it == pins_.end()) {
      pins_[name] = digest;
      added.push_back(name);
      out.push_back(PinCheck{PinCheck::Result::kNew, ""});
      continue;
    }
    if (it->second == digest) {
      out.push_back(PinCheck{PinCheck::Result::kMatch, ""});
      continue;
    }
    bool d = it->second.description_sha256 != digest.description_sha256;
    bool s = it->second.schema_sha256 != digest.schema_sha256;
    out.push_back(PinCheck{PinCheck::Result::kChanged,
                           d && s ? "description and inputSchema changed"
                           : d    ? "description changed"
                                  : "inputSchema changed"});
  }
  if (!added.empty()) {
    if (Status s = SaveLocked(); !s.ok()) {
      for (const std::string& name : added) pins_.erase(name);
      return s;
    }
  }
  return out;
}

Status PinStore::Accept(const std::string& name, const PinDigest& digest) {
  std::lock_guard<std::mutex> l(mu_);
  auto old = pins_.find(name);
  std::optional<PinDigest> prev;
  if (old != pins_.end()) prev = old->second;
  pins_[name] = digest;
  if (Status s = SaveLocked(); !s.ok()) {
    if (prev) {
      pins_[name] = *prev;
    } else {
      pins_.erase(name);
    }
    return s;
  }
  return absl::OkStatus();
}

size_t PinStore::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return pins_.size();
}

Status PinStore::SaveLocked() const {
  json j = json::object();
  for (const auto& [name, d] : pins_) {
    j[name] = {{"description_sha256", d.description_sha256},
               {"schema_sha256", d.schema_sha256}};
  }
  return identity::ossl::WriteFileAtomic(path_, j.dump(1) + "\n", 0600, /*exclusive=*/false);
}

}  // namespace aikernel::tools::mcp
