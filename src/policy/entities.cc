#include "policy/entities.h"

namespace aikernel::policy {

absl::Status Entities::Add(Entity e) {
  if (nodes_.contains(e.uid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("duplicate entity ", e.uid.ToString()));
  }
  EntityUid key = e.uid;
  nodes_.emplace(std::move(key), Node{std::move(e), {}});
  return absl::OkStatus();
}

void Entities::AddIfAbsent(Entity e) {
  if (nodes_.contains(e.uid)) return;
  EntityUid key = e.uid;
  nodes_.emplace(std::move(key), Node{std::move(e), {}});
}

void Entities::Finalize() {
  // Depth-first from each entity over parents; `seen` guards cycles.
  std::vector<const EntityUid*> stack;
  for (auto& [uid, node] : nodes_) {
    node.ancestors.clear();
    stack.clear();
    for (const EntityUid& p : node.entity.parents) stack.push_back(&p);
    while (!stack.empty()) {
      const EntityUid* cur = stack.back();
      stack.pop_back();
      if (*cur == uid && node.ancestors.contains(*cur)) continue;
      if (!node.ancestors.insert(*cur).second) continue;
      auto it = nodes_.find(*cur);
      if (it != nodes_.end()) {
        for (const EntityUid& p : it->second.entity.parents)
          stack.push_back(&p);
      } else if (const Node* b = base_ ? base_->Find(*cur) : nullptr) {
        // A base entity's ancestors are already transitive (in the base).
        node.ancestors.insert(b->ancestors.begin(), b->ancestors.end());
      }
    }
  }
}

}  // namespace aikernel::policy
