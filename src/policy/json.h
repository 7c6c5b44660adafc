// Cedar's JSON formats: entity references, values, entities files, contexts.
//
// Values: JSON booleans, integers, strings, arrays (sets) and objects
// (records); {"__entity": {"type","id"}} is an entity reference and
// {"__extn": {"fn", "arg"}} or {"__extn": {"fn", "args": [...]}} an extension
// value built by calling that function (e.g. {"fn":"decimal","arg":"1.5"},
// {"fn":"offset","args":[dt, dur]}). An entities file is an array of
// {"uid", "attrs", "parents", "tags"}; uids and parents may be written as
// {"type","id"} or with the __entity escape.
//
// When a Schema is given, attribute, tag and context values are read against
// the declared types: a string where an extension type is declared is passed
// to its constructor, and a {"type","id"} object where an entity type is
// declared is an entity reference. The schema's action entities (with their
// `in` parents) are added to the store unless the file defines them.
//
// Every function returns InvalidArgument naming the offending element (and
// the JSON parse position for malformed text) and produces nothing on error.
// Pure functions, thread-safe; no exceptions (nlohmann's non-throwing parse).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/status.h"
#include "policy/entities.h"
#include "policy/schema.h"
#include "policy/strutil.h"
#include "policy/value.h"

namespace aikernel::policy {

absl::StatusOr<EntityUid> UidFromJson(const nlohmann::json& j);
absl::StatusOr<Value> ValueFromJson(const nlohmann::json& j);

absl::StatusOr<Entities> EntitiesFromJson(const nlohmann::json& j,
                                          const Schema* schema = nullptr);
absl::StatusOr<Entities> EntitiesFromJsonText(std::string_view text,
                                              const Schema* schema = nullptr);

// A context is a JSON object; `action` selects the schema's context type.
absl::StatusOr<Value> ContextFromJson(const nlohmann::json& j,
                                      const Schema* schema = nullptr,
                                      const EntityUid* action = nullptr);

// Parses JSON text without exceptions.
absl::StatusOr<nlohmann::json> ParseJsonText(std::string_view text);

}  // namespace aikernel::policy
