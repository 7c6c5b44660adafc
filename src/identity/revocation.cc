#include "identity/revocation.h"

#include <climits>
#include <mutex>
#include <nlohmann/json.hpp>

#include "identity/ossl.h"

namespace aikernel::identity {

using nlohmann::json;

StatusOr<std::unique_ptr<RevocationList>> RevocationList::Open(
    std::string path) {
  auto list = std::make_unique<RevocationList>();
  list->path_ = std::move(path);
  StatusOr<std::string> text = ossl::ReadFile(list->path_);
  if (absl::IsNotFound(text.status())) return list;
  if (!text.ok()) return text.status();
  json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto bad = [&](const std::string& why) {
    return absl::DataLossError("revocation file " + list->path_ +
                               " is damaged: " + why);
  };
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("version") || doc["version"] != 1) {
    return bad("unknown version");
  }
  if (doc.contains("instances")) {
    if (!doc["instances"].is_array()) return bad("instances is not an array");
    for (const json& e : doc["instances"]) {
      if (!e.is_object() || !e.contains("id") || !e["id"].is_string() ||
          !e.contains("instance") || !e["instance"].is_string() ||
          !e.contains("at") || !e["at"].is_number_integer()) {
        return bad("an instance entry lacks id, instance or at");
      }
      list->instances_[{e["id"].get<std::string>(),
                        e["instance"].get<std::string>()}] =
          e["at"].get<int64_t>();
    }
  }
  if (doc.contains("subjects")) {
    if (!doc["subjects"].is_array()) return bad("subjects is not an array");
    for (const json& e : doc["subjects"]) {
      if (!e.is_object() || !e.contains("id") || !e["id"].is_string() ||
          !e.contains("cutoff") || !e["cutoff"].is_number_integer()) {
        return bad("a subject entry lacks id or cutoff");
      }
      list->cutoffs_[e["id"].get<std::string>()] = e["cutoff"].get<int64_t>();
    }
  }
  return list;
}

Status RevocationList::PersistLocked() {
  if (path_.empty() || !dirty_) return absl::OkStatus();
  json doc = {{"version", 1},
              {"instances", json::array()},
              {"subjects", json::array()}};
  for (const auto& [key, at] : instances_) {
    doc["instances"].push_back(
        {{"id", key.first}, {"instance", key.second}, {"at", at}});
  }
  for (const auto& [id, cutoff] : cutoffs_) {
    doc["subjects"].push_back({{"id", id}, {"cutoff", cutoff}});
  }
  Status s = ossl::WriteFileAtomic(
      path_, doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n",
      0600, /*exclusive=*/false);
  if (s.ok()) dirty_ = false;
  return s;
}

Status RevocationList::RevokeInstance(const std::string& spiffe_id,
                                      const std::string& instance,
                                      int64_t now_s) {
  if (spiffe_id.empty() || instance.empty()) {
    return absl::InvalidArgumentError(
        "revoking an instance needs a SPIFFE ID and an instance id");
  }
  std::unique_lock lock(mu_);
  auto [it, inserted] = instances_.try_emplace({spiffe_id, instance}, now_s);
  dirty_ |= inserted;
  return PersistLocked();
}

Status RevocationList::RevokeSubjectBefore(const std::string& spiffe_id,
                                           int64_t cutoff_s) {
  if (spiffe_id.empty()) {
    return absl::InvalidArgumentError("revoking a subject needs a SPIFFE ID");
  }
  std::unique_lock lock(mu_);
  auto [it, inserted] = cutoffs_.try_emplace(spiffe_id, cutoff_s);
  if (inserted) {
    dirty_ = true;
  } else if (it->second < cutoff_s) {
    it->second = cutoff_s;
    dirty_ = true;
  }
  return PersistLocked();
}

Status RevocationList::Check(const std::string& spiffe_id,
                             const std::string& instance,
                             int64_t issued_at_s) const {
  std::shared_lock lock(mu_);
  if (!instance.empty()) {
    auto it = instances_.find({spiffe_id, instance});
    if (it != instances_.end()) {
      return absl::UnauthenticatedError(
          absl::StrCat("revoked: instance ", instance, " of ", spiffe_id,
                       " was revoked at ", ossl::FormatTime(it->second)));
    }
  }
  auto it = cutoffs_.find(spiffe_id);
  if (it != cutoffs_.end() && issued_at_s <= it->second) {
    return absl::UnauthenticatedError(absl::StrCat(
        "revoked: credentials for ", spiffe_id, " issued at or before ",
        ossl::FormatTime(it->second), " are revoked (this one was issued ",
        ossl::FormatTime(issued_at_s), ")"));
  }
  return absl::OkStatus();
}

bool RevocationList::IsInstanceRevoked(const std::string& spiffe_id,
                                       const std::string& instance) const {
  std::shared_lock lock(mu_);
  return instances_.count({spiffe_id, instance}) != 0;
}

int64_t RevocationList::SubjectCutoff(const std::string& spiffe_id) const {
  std::shared_lock lock(mu_);
  auto it = cutoffs_.find(spiffe_id);
  return it == cutoffs_.end() ? INT64_MIN : it->second;
}

Status RevocationList::Prune(int64_t now_s, int64_t max_ttl_s) {
  std::unique_lock lock(mu_);
  bool changed = false;
  for (auto it = instances_.begin(); it != instances_.end();) {
    if (it->second + max_ttl_s < now_s) {
      it = instances_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  for (auto it = cutoffs_.begin(); it != cutoffs_.end();) {
    if (it->second + max_ttl_s < now_s) {
      it = cutoffs_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  dirty_ |= changed;
  return PersistLocked();
}

std::vector<RevocationList::InstanceEntry> RevocationList::Instances() const {
  std::shared_lock lock(mu_);
  std::vector<InstanceEntry> out;
  for (const auto& [key, at] : instances_) {
    out.push_back({key.first, key.second, at});
  }
  return out;
}

std::vector<RevocationList::SubjectEntry> RevocationList::Subjects() const {
  std::shared_lock lock(mu_);
  std::vector<SubjectEntry> out;
  for (const auto& [id, cutoff] : cutoffs_) out.push_back({id, cutoff});
  return out;
}

}  // namespace aikernel::identity
