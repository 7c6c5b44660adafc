// Cedar schemas in the Cedar schema format (.cedarschema), as far as the
// engine needs them to read entities and contexts: namespaces, entity type
// declarations (parents, attribute record types, tags, enumerated ids),
// common type declarations, and action declarations (names, `in` parents,
// appliesTo principal/resource types and context type). Annotations are
// accepted and ignored. The schema is not used to validate policies.
//
// ParseSchema returns InvalidArgument "file:line:col: expected X, found Y" on
// a syntax error, or a message naming an undefined common type. A parsed
// Schema is immutable and may be shared across threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/strutil.h"
#include "policy/value.h"

namespace aikernel::policy {

struct SchemaType;
using SchemaTypePtr = std::shared_ptr<const SchemaType>;

struct SchemaAttr {
  SchemaTypePtr type;
  bool required = true;
};

// A resolved type: builtin names, extension names and entity types are fully
// qualified; common types are expanded.
struct SchemaType {
  enum class Kind : uint8_t {
    kBool,
    kLong,
    kString,
    kEntity,     // name = entity type
    kExtension,  // name = "ipaddr" | "decimal" | "datetime" | "duration"
    kSet,        // elem
    kRecord,     // attrs
  };
  Kind kind = Kind::kBool;
  std::string name;
  SchemaTypePtr elem;
  std::map<std::string, SchemaAttr, std::less<>> attrs;
};

struct EntityTypeDecl {
  std::string name;  // fully qualified
  std::vector<std::string> parents;
  SchemaTypePtr attrs;  // a record type
  SchemaTypePtr tags;   // nullptr: no tags
  std::vector<std::string> enum_ids;
};

struct ActionDecl {
  EntityUid uid;
  std::vector<EntityUid> parents;
  std::vector<std::string> principals;
  std::vector<std::string> resources;
  SchemaTypePtr context;  // a record type (possibly empty)
};

class Schema {
 public:
  const EntityTypeDecl* FindEntityType(std::string_view name) const {
    auto it = entity_types_.find(name);
    return it == entity_types_.end() ? nullptr : &it->second;
  }
  const ActionDecl* FindAction(const EntityUid& uid) const {
    auto it = actions_.find(uid);
    return it == actions_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, EntityTypeDecl, std::less<>>& entity_types()
      const {
    return entity_types_;
  }
  const std::map<EntityUid, ActionDecl>& actions() const { return actions_; }

 private:
  friend class SchemaParser;
  std::map<std::string, EntityTypeDecl, std::less<>> entity_types_;
  std::map<EntityUid, ActionDecl> actions_;
};

absl::StatusOr<Schema> ParseSchema(std::string_view text,
                                   std::string_view file = "<schema>");

// Whether `v` has type `t` (recursively: set elements, record attributes,
// required attributes present, no undeclared ones). InvalidArgument names
// the first offending path, e.g. "context.args.path: expected String".
absl::Status ValueConforms(const Value& v, const SchemaType& t,
                           std::string_view path = "value");

// Cedar's request validation: the action is declared, the principal's and
// the resource's types are among those it applies to, and the context
// conforms to its context type. InvalidArgument says which part fails.
absl::Status ValidateRequest(const Schema& schema, const EntityUid& principal,
                             const EntityUid& action, const EntityUid& resource,
                             const Value& context);

}  // namespace aikernel::policy
