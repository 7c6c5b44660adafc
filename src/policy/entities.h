// The entity store: entities with attributes, tags and parents, and the
// transitive ancestor relation that Cedar's `in` reads.
//
// Build an Entities by Add()ing entities (a duplicate uid is refused with
// InvalidArgument and leaves the store unchanged), then call Finalize(),
// which computes every entity's ancestors through its parents, transitively;
// cycles in the parent graph are tolerated (each ancestor is visited once).
// A parent need not exist as an entity itself. After Finalize() the store is
// read-only and safe to share across threads; Add after Finalize is allowed
// but requires another Finalize before reads.
//
// Layering: Entities(base) makes a small store over a shared, finalized base
// (held by shared_ptr<const>, so it stays alive and unchanged) without
// copying it. Find looks in the layer first, then in the base; a layer
// entity's ancestors run through both (so a per-call Agent entity whose
// parents are base Groups is `in` those groups and their ancestors). A layer
// entity shadows a base entity with the same uid; base entities' ancestors
// are the base's own. The kernel builds one such layer per call.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <memory>
#include <vector>

#include "common/status.h"
#include "policy/value.h"

namespace aikernel::policy {

struct Entity {
  EntityUid uid;
  Record attrs;
  Record tags;
  std::vector<EntityUid> parents;  // direct parents
};

class Entities {
 public:
  Entities() = default;
  Entities(Entities&&) = default;
  Entities& operator=(Entities&&) = default;
  Entities(const Entities&) = default;
  Entities& operator=(const Entities&) = default;
  // An empty layer over `base` (see above); `base` must be finalized.
  explicit Entities(std::shared_ptr<const Entities> base)
      : base_(std::move(base)) {}

  absl::Status Add(Entity e);
  // Adds `e` unless an entity with its uid exists (used for schema actions).
  void AddIfAbsent(Entity e);
  void Finalize();

  struct Node {
    Entity entity;
    absl::flat_hash_set<EntityUid> ancestors;  // transitive, excludes self
  };

  // nullptr when no such entity (in this layer or its base).
  const Node* Find(const EntityUid& uid) const {
    auto it = nodes_.find(uid);
    if (it != nodes_.end()) return &it->second;
    return base_ ? base_->Find(uid) : nullptr;
  }
  // Cedar `a in b`: a == b, or b is an ancestor of a.
  bool InHierarchy(const EntityUid& a, const EntityUid& b) const {
    if (a == b) return true;
    const Node* n = Find(a);
    return n != nullptr && n->ancestors.contains(b);
  }
  // Entities in this layer (not counting the base).
  size_t size() const { return nodes_.size(); }
  // Visits every entity of this layer, not the base (order unspecified).
  template <typename F>
  void ForEach(F f) const {
    for (const auto& [uid, node] : nodes_) f(node);
  }

 private:
  absl::flat_hash_map<EntityUid, Node> nodes_;
  std::shared_ptr<const Entities> base_;
};

}  // namespace aikernel::policy
