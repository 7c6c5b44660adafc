#include "policy/json.h"

#include <algorithm>

#include "policy/extensions.h"

namespace aikernel::policy {

namespace {

using nlohmann::json;

absl::Status Bad(std::string_view what, const json& j) {
  std::string dump = j.dump();
  if (dump.size() > 120) dump = dump.substr(0, 117) + "...";
  return absl::InvalidArgumentError(absl::StrCat(Av(what), ": ", dump));
}

absl::StatusOr<Value> Typed(const json& j, const SchemaType* type);

absl::StatusOr<Value> Extn(const json& e) {
  if (!e.is_object() || !e.contains("fn") || !e["fn"].is_string())
    return Bad("__extn needs a string \"fn\"", e);
  std::string fn = e["fn"].get<std::string>();
  auto info = LookupExtension(fn);
  if (!info) return Bad("unknown extension function", e);
  std::vector<Value> args;
  if (e.contains("arg")) {
    AIK_ASSIGN_OR_RETURN(Value v, Typed(e["arg"], nullptr));
    args.push_back(std::move(v));
  } else if (e.contains("args") && e["args"].is_array()) {
    for (const json& a : e["args"]) {
      AIK_ASSIGN_OR_RETURN(Value v, Typed(a, nullptr));
      args.push_back(std::move(v));
    }
  } else {
    return Bad("__extn needs \"arg\" or \"args\"", e);
  }
  return CallExtension(info->fn, args);
}

absl::StatusOr<EntityUid> PlainUid(const json& j) {
  if (!j.is_object() || !j.contains("type") || !j.contains("id") ||
      !j["type"].is_string() || !j["id"].is_string())
    return Bad("expected an entity reference {\"type\", \"id\"}", j);
  return EntityUid{j["type"].get<std::string>(), j["id"].get<std::string>()};
}

absl::StatusOr<Value> TypedInner(const json& j, const SchemaType* type);

// Bounded nesting keeps recursion well inside any thread's stack.
constexpr int kMaxJsonDepth = 128;
thread_local int json_depth = 0;

const char* TypeName(const SchemaType& t) {
  switch (t.kind) {
    case SchemaType::Kind::kBool:
      return "Bool";
    case SchemaType::Kind::kLong:
      return "Long";
    case SchemaType::Kind::kString:
      return "String";
    case SchemaType::Kind::kEntity:
      return "an entity";
    case SchemaType::Kind::kExtension:
      return t.name.c_str();
    case SchemaType::Kind::kSet:
      return "a set";
    case SchemaType::Kind::kRecord:
      return "a record";
  }
  return "?";
}

// Checks that `v` has the shape `type` declares. Elements and attribute
// values were already checked against their own types when they were read,
// so only this level is checked here.
absl::Status Conforms(const Value& v, const SchemaType& type, const json& j) {
  using K = SchemaType::Kind;
  using VK = Value::Kind;
  bool ok = false;
  switch (type.kind) {
    case K::kBool:
      ok = v.is(VK::kBool);
      break;
    case K::kLong:
      ok = v.is(VK::kLong);
      break;
    case K::kString:
      ok = v.is(VK::kString);
      break;
    case K::kEntity:
      ok = v.is(VK::kEntity) && v.as_entity().type == type.name;
      break;
    case K::kExtension:
      ok = (type.name == "ipaddr" && v.is(VK::kIp)) ||
           (type.name == "decimal" && v.is(VK::kDecimal)) ||
           (type.name == "datetime" && v.is(VK::kDatetime)) ||
           (type.name == "duration" && v.is(VK::kDuration));
      break;
    case K::kSet:
      ok = v.is(VK::kSet);
      break;
    case K::kRecord: {
      if (!v.is(VK::kRecord)) break;
      const Record& r = v.as_record();
      for (const auto& [name, attr] : type.attrs) {
        if (attr.required && !r.contains(name)) {
          return Bad(absl::StrCat("required attribute \"", EscapeString(name),
                                  "\" is missing"),
                     j);
        }
      }
      for (const auto& [name, value] : r) {
        if (!type.attrs.contains(name)) {
          return Bad(absl::StrCat("attribute \"", EscapeString(name),
                                  "\" is not declared in the schema"),
                     j);
        }
      }
      ok = true;
      break;
    }
  }
  if (ok) return absl::OkStatus();
  std::string want = TypeName(type);
  if (type.kind == K::kEntity) want += " of type " + type.name;
  return Bad(absl::StrCat("schema expects ", want), j);
}

absl::StatusOr<Value> Typed(const json& j, const SchemaType* type) {
  if (json_depth >= kMaxJsonDepth)
    return absl::InvalidArgumentError("JSON value nested too deeply");
  ++json_depth;
  absl::StatusOr<Value> v = TypedInner(j, type);
  --json_depth;
  if (v.ok() && type != nullptr) AIK_RETURN_IF_ERROR(Conforms(*v, *type, j));
  return v;
}

absl::StatusOr<Value> TypedInner(const json& j, const SchemaType* type) {
  using K = SchemaType::Kind;
  switch (j.type()) {
    case json::value_t::boolean:
      return Value::Bool(j.get<bool>());
    case json::value_t::number_integer:
      return Value::Long(j.get<int64_t>());
    case json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX))
        return Bad("integer out of range", j);
      return Value::Long(static_cast<int64_t>(u));
    }
    case json::value_t::string: {
      if (type && type->kind == K::kExtension) {
        auto info = LookupExtension(type->name);
        if (info) {
          Value arg = Value::String(j.get<std::string>());
          return CallExtension(info->fn, std::span<const Value>(&arg, 1));
        }
      }
      return Value::String(j.get<std::string>());
    }
    case json::value_t::array: {
      const SchemaType* elem =
          type && type->kind == K::kSet ? type->elem.get() : nullptr;
      std::vector<Value> elems;
      elems.reserve(j.size());
      for (const json& e : j) {
        AIK_ASSIGN_OR_RETURN(Value v, Typed(e, elem));
        elems.push_back(std::move(v));
      }
      return Value::Set(std::move(elems));
    }
    case json::value_t::object: {
      if (j.contains("__entity")) {
        AIK_ASSIGN_OR_RETURN(EntityUid u, PlainUid(j["__entity"]));
        return Value::Entity(std::move(u));
      }
      if (j.contains("__extn")) return Extn(j["__extn"]);
      if (type && type->kind == K::kEntity) {
        AIK_ASSIGN_OR_RETURN(EntityUid u, PlainUid(j));
        return Value::Entity(std::move(u));
      }
      if (type && type->kind == K::kExtension && j.contains("fn"))
        return Extn(j);
      const SchemaType* rec = type && type->kind == K::kRecord ? type : nullptr;
      Record r;
      for (auto it = j.begin(); it != j.end(); ++it) {
        const SchemaType* at = nullptr;
        if (rec) {
          auto a = rec->attrs.find(it.key());
          if (a != rec->attrs.end()) at = a->second.type.get();
        }
        AIK_ASSIGN_OR_RETURN(Value v, Typed(it.value(), at));
        r.emplace(it.key(), std::move(v));
      }
      return Value::MakeRecord(std::move(r));
    }
    case json::value_t::number_float:
      return Bad("floating-point numbers are not Cedar values", j);
    default:
      return Bad("unsupported JSON value", j);
  }
}

absl::StatusOr<Record> RecordFrom(const json& j, const SchemaType* type,
                                  std::string_view what) {
  if (j.is_null()) {
    if (type != nullptr) {
      AIK_RETURN_IF_ERROR(Conforms(Value::MakeRecord({}), *type, j));
    }
    return Record{};
  }
  if (!j.is_object())
    return Bad(absl::StrCat(Av(what), " must be an object"), j);
  AIK_ASSIGN_OR_RETURN(Value v, Typed(j, type));
  if (!v.is(Value::Kind::kRecord))
    return Bad(absl::StrCat(Av(what), " must be a record"), j);
  return v.as_record();
}

}  // namespace

absl::StatusOr<nlohmann::json> ParseJsonText(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return absl::InvalidArgumentError("malformed JSON");
  return j;
}

absl::StatusOr<EntityUid> UidFromJson(const json& j) {
  if (j.is_object() && j.contains("__entity")) return PlainUid(j["__entity"]);
  return PlainUid(j);
}

absl::StatusOr<Value> ValueFromJson(const json& j) { return Typed(j, nullptr); }

absl::StatusOr<Entities> EntitiesFromJson(const json& j, const Schema* schema) {
  if (!j.is_array()) return Bad("entities must be a JSON array", j);
  Entities out;
  for (const json& e : j) {
    if (!e.is_object() || !e.contains("uid"))
      return Bad("entity needs a \"uid\"", e);
    Entity ent;
    AIK_ASSIGN_OR_RETURN(ent.uid, UidFromJson(e["uid"]));
    const EntityTypeDecl* decl =
        schema ? schema->FindEntityType(ent.uid.type) : nullptr;
    const ActionDecl* action = schema ? schema->FindAction(ent.uid) : nullptr;
    if (schema && !decl && !action) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entity ", ent.uid.ToString(), ": ",
          ent.uid.type == "Action" || ent.uid.type.ends_with("::Action")
              ? "action not declared in the schema"
              : "entity type not declared in the schema"));
    }
    if (decl && !decl->enum_ids.empty() &&
        std::find(decl->enum_ids.begin(), decl->enum_ids.end(), ent.uid.id) ==
            decl->enum_ids.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entity ", ent.uid.ToString(), ": id is not one of the enumerated ",
          "ids of ", ent.uid.type));
    }
    {
      const SchemaType* at = decl ? decl->attrs.get() : nullptr;
      auto attrs =
          RecordFrom(e.contains("attrs") ? e["attrs"] : json(), at, "attrs");
      if (!attrs.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "entity ", ent.uid.ToString(), ": ", attrs.status().message()));
      }
      ent.attrs = std::move(*attrs);
    }
    if (e.contains("tags")) {
      const json& tags = e["tags"];
      if (!tags.is_null()) {
        if (!tags.is_object()) return Bad("tags must be an object", tags);
        const SchemaType* tt = decl ? decl->tags.get() : nullptr;
        if (decl && !tt && !tags.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "entity ", ent.uid.ToString(), ": its type declares no tags"));
        }
        for (auto it = tags.begin(); it != tags.end(); ++it) {
          AIK_ASSIGN_OR_RETURN(Value v, Typed(it.value(), tt));
          ent.tags.emplace(it.key(), std::move(v));
        }
      }
    }
    if (e.contains("parents")) {
      const json& ps = e["parents"];
      if (!ps.is_array()) return Bad("parents must be an array", ps);
      for (const json& p : ps) {
        AIK_ASSIGN_OR_RETURN(EntityUid u, UidFromJson(p));
        if (decl && std::find(decl->parents.begin(), decl->parents.end(),
                              u.type) == decl->parents.end()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "entity ", ent.uid.ToString(), ": the schema does not allow a ",
              "parent of type ", u.type));
        }
        ent.parents.push_back(std::move(u));
      }
    }
    AIK_RETURN_IF_ERROR(out.Add(std::move(ent)));
  }
  if (schema) {
    for (const auto& [uid, action] : schema->actions()) {
      Entity ent;
      ent.uid = uid;
      ent.parents = action.parents;
      out.AddIfAbsent(std::move(ent));
    }
  }
  out.Finalize();
  return out;
}

absl::StatusOr<Entities> EntitiesFromJsonText(std::string_view text,
                                              const Schema* schema) {
  AIK_ASSIGN_OR_RETURN(json j, ParseJsonText(text));
  return EntitiesFromJson(j, schema);
}

absl::StatusOr<Value> ContextFromJson(const json& j, const Schema* schema,
                                      const EntityUid* action) {
  const SchemaType* type = nullptr;
  if (schema && action) {
    if (const ActionDecl* a = schema->FindAction(*action))
      type = a->context.get();
  }
  AIK_ASSIGN_OR_RETURN(Record r, RecordFrom(j, type, "context"));
  return Value::MakeRecord(std::move(r));
}

}  // namespace aikernel::policy
