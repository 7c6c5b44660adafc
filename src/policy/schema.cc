// Cedar schema format parser: tokens (lexer.h) -> raw declarations -> types
// resolved against namespaces.
#include "policy/schema.h"

#include <algorithm>
#include <set>

#include "policy/lexer.h"

namespace aikernel::policy {

namespace {

// A type as written, before names are resolved.
struct RawType {
  enum class Kind : uint8_t { kName, kSet, kRecord } kind = Kind::kName;
  std::string name;
  std::shared_ptr<RawType> elem;
  struct Attr {
    std::string name;
    std::shared_ptr<RawType> type;
    bool required = true;
  };
  std::vector<Attr> attrs;
};
using RawTypePtr = std::shared_ptr<RawType>;

struct RawEntity {
  std::string ns;
  std::vector<std::string> names;
  std::vector<std::string> parents;
  RawTypePtr attrs;
  RawTypePtr tags;
  std::vector<std::string> enum_ids;
};

struct RawAction {
  std::string ns;
  std::vector<std::string> names;
  std::vector<EntityUid> parents;  // type empty: same namespace's Action
  std::vector<std::string> principals;
  std::vector<std::string> resources;
  RawTypePtr context;
};

std::string Qualify(const std::string& ns, const std::string& name) {
  return ns.empty() ? name : ns + "::" + name;
}

}  // namespace

class SchemaParser : private TokenCursor {
 public:
  SchemaParser(std::vector<Token> toks, std::string_view file)
      : TokenCursor(std::move(toks), file) {}

  absl::StatusOr<Schema> Run() {
    while (Peek().kind != TokKind::kEof) {
      AIK_RETURN_IF_ERROR(SkipAnnotations());
      if (IsIdent("namespace")) {
        Next();
        AIK_ASSIGN_OR_RETURN(std::string ns, Path());
        AIK_RETURN_IF_ERROR(ExpectPunct("{"));
        while (!IsPunct("}")) {
          if (Peek().kind == TokKind::kEof) return Expected("'}'");
          AIK_RETURN_IF_ERROR(Decl(ns));
        }
        Next();
      } else {
        AIK_RETURN_IF_ERROR(Decl(""));
      }
    }
    return Resolve();
  }

 private:
  absl::StatusOr<std::string> Ident() {
    if (Peek().kind != TokKind::kIdent) return Expected("an identifier");
    return Next().text;
  }
  absl::StatusOr<std::string> Name() {
    if (Peek().kind == TokKind::kString) return String("a string");
    return Ident();
  }
  absl::StatusOr<std::string> Path() {
    AIK_ASSIGN_OR_RETURN(std::string p, Ident());
    while (IsPunct("::") && Peek(1).kind == TokKind::kIdent) {
      Next();
      p += "::" + Next().text;
    }
    return p;
  }
  absl::Status SkipAnnotations() {
    while (IsPunct("@")) {
      Next();
      AIK_RETURN_IF_ERROR(Ident().status());
      if (IsPunct("(")) {
        Next();
        AIK_RETURN_IF_ERROR(String("a string").status());
        AIK_RETURN_IF_ERROR(ExpectPunct(")"));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Decl(const std::string& ns) {
    AIK_RETURN_IF_ERROR(SkipAnnotations());
    if (IsIdent("entity")) return EntityDecl(ns);
    if (IsIdent("action")) return ActionDeclaration(ns);
    if (IsIdent("type")) {
      Next();
      AIK_ASSIGN_OR_RETURN(std::string name, Ident());
      AIK_RETURN_IF_ERROR(ExpectPunct("="));
      AIK_ASSIGN_OR_RETURN(RawTypePtr t, Type());
      AIK_RETURN_IF_ERROR(ExpectPunct(";"));
      common_[Qualify(ns, name)] = t;
      return absl::OkStatus();
    }
    return Expected("'entity', 'action' or 'type'");
  }

  absl::Status EntityDecl(const std::string& ns) {
    Next();
    RawEntity e;
    e.ns = ns;
    while (true) {
      AIK_ASSIGN_OR_RETURN(std::string n, Ident());
      e.names.push_back(std::move(n));
      if (!IsPunct(",")) break;
      Next();
    }
    if (IsIdent("enum")) {
      Next();
      AIK_RETURN_IF_ERROR(ExpectPunct("["));
      while (!IsPunct("]")) {
        AIK_ASSIGN_OR_RETURN(std::string id, String("a string"));
        e.enum_ids.push_back(std::move(id));
        if (!IsPunct(",")) break;
        Next();
      }
      AIK_RETURN_IF_ERROR(ExpectPunct("]"));
    } else {
      if (IsIdent("in")) {
        Next();
        AIK_ASSIGN_OR_RETURN(e.parents, PathList());
      }
      if (IsPunct("=")) Next();
      if (IsPunct("{")) {
        AIK_ASSIGN_OR_RETURN(e.attrs, Record());
      }
      if (IsIdent("tags")) {
        Next();
        AIK_ASSIGN_OR_RETURN(e.tags, Type());
      }
    }
    AIK_RETURN_IF_ERROR(ExpectPunct(";"));
    entities_.push_back(std::move(e));
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::string>> PathList() {
    std::vector<std::string> out;
    if (IsPunct("[")) {
      Next();
      while (!IsPunct("]")) {
        AIK_ASSIGN_OR_RETURN(std::string p, Path());
        out.push_back(std::move(p));
        if (!IsPunct(",")) break;
        Next();
      }
      AIK_RETURN_IF_ERROR(ExpectPunct("]"));
    } else {
      AIK_ASSIGN_OR_RETURN(std::string p, Path());
      out.push_back(std::move(p));
    }
    return out;
  }

  // Ref := Path '::' STR | Name
  absl::StatusOr<EntityUid> ActionRef() {
    if (Peek().kind == TokKind::kString) {
      AIK_ASSIGN_OR_RETURN(std::string id, String("a string"));
      return EntityUid{"", std::move(id)};
    }
    AIK_ASSIGN_OR_RETURN(std::string first, Ident());
    std::string path = first;
    while (IsPunct("::")) {
      Next();
      if (Peek().kind == TokKind::kString) {
        AIK_ASSIGN_OR_RETURN(std::string id, String("a string"));
        return EntityUid{std::move(path), std::move(id)};
      }
      AIK_ASSIGN_OR_RETURN(std::string part, Ident());
      path += "::" + part;
    }
    if (path != first) return Expected("'::' and an action name");
    return EntityUid{"", std::move(first)};
  }

  absl::Status ActionDeclaration(const std::string& ns) {
    Next();
    RawAction a;
    a.ns = ns;
    while (true) {
      AIK_ASSIGN_OR_RETURN(std::string n, Name());
      a.names.push_back(std::move(n));
      if (!IsPunct(",")) break;
      Next();
    }
    if (IsIdent("in")) {
      Next();
      if (IsPunct("[")) {
        Next();
        while (!IsPunct("]")) {
          AIK_ASSIGN_OR_RETURN(EntityUid u, ActionRef());
          a.parents.push_back(std::move(u));
          if (!IsPunct(",")) break;
          Next();
        }
        AIK_RETURN_IF_ERROR(ExpectPunct("]"));
      } else {
        AIK_ASSIGN_OR_RETURN(EntityUid u, ActionRef());
        a.parents.push_back(std::move(u));
      }
    }
    if (IsIdent("appliesTo")) {
      Next();
      AIK_RETURN_IF_ERROR(ExpectPunct("{"));
      while (!IsPunct("}")) {
        AIK_ASSIGN_OR_RETURN(std::string key, Ident());
        AIK_RETURN_IF_ERROR(ExpectPunct(":"));
        if (key == "principal") {
          AIK_ASSIGN_OR_RETURN(a.principals, PathList());
        } else if (key == "resource") {
          AIK_ASSIGN_OR_RETURN(a.resources, PathList());
        } else if (key == "context") {
          AIK_ASSIGN_OR_RETURN(a.context, Type());
        } else {
          return SyntaxError(file(), Peek().loc,
                             "expected 'principal', 'resource' or 'context'");
        }
        if (!IsPunct(",")) break;
        Next();
      }
      AIK_RETURN_IF_ERROR(ExpectPunct("}"));
    }
    if (IsIdent("attributes")) {
      Next();
      AIK_RETURN_IF_ERROR(Record().status());
    }
    AIK_RETURN_IF_ERROR(ExpectPunct(";"));
    actions_.push_back(std::move(a));
    return absl::OkStatus();
  }

  absl::StatusOr<RawTypePtr> Type() {
    if (depth_ >= 64) return Expected("a type nested less than 64 deep");
    ++depth_;
    absl::StatusOr<RawTypePtr> t = TypeInner();
    --depth_;
    return t;
  }

  absl::StatusOr<RawTypePtr> TypeInner() {
    if (IsPunct("{")) return Record();
    auto t = std::make_shared<RawType>();
    if (IsIdent("Set") && Peek(1).kind == TokKind::kPunct &&
        Peek(1).text == "<") {
      Next();
      Next();
      t->kind = RawType::Kind::kSet;
      AIK_ASSIGN_OR_RETURN(t->elem, Type());
      AIK_RETURN_IF_ERROR(ExpectPunct(">"));
      return t;
    }
    AIK_ASSIGN_OR_RETURN(t->name, Path());
    return t;
  }

  absl::StatusOr<RawTypePtr> Record() {
    AIK_RETURN_IF_ERROR(ExpectPunct("{"));
    auto t = std::make_shared<RawType>();
    t->kind = RawType::Kind::kRecord;
    while (!IsPunct("}")) {
      AIK_RETURN_IF_ERROR(SkipAnnotations());
      RawType::Attr attr;
      AIK_ASSIGN_OR_RETURN(attr.name, Name());
      if (IsPunct("?")) {
        Next();
        attr.required = false;
      }
      AIK_RETURN_IF_ERROR(ExpectPunct(":"));
      AIK_ASSIGN_OR_RETURN(attr.type, Type());
      t->attrs.push_back(std::move(attr));
      if (!IsPunct(",")) break;
      Next();
    }
    AIK_RETURN_IF_ERROR(ExpectPunct("}"));
    return t;
  }

  // ---- resolution ----

  bool IsEntityType(const std::string& q) const {
    return entity_names_.contains(q);
  }

  absl::StatusOr<SchemaTypePtr> ResolveName(const std::string& name,
                                            const std::string& ns, int depth) {
    if (depth > 64) {
      return absl::InvalidArgumentError(
          absl::StrCat("common type ", name, " refers to itself"));
    }
    static const struct {
      const char* name;
      SchemaType::Kind kind;
    } kBuiltins[] = {{"Bool", SchemaType::Kind::kBool},
                     {"Boolean", SchemaType::Kind::kBool},
                     {"Long", SchemaType::Kind::kLong},
                     {"String", SchemaType::Kind::kString},
                     {"ipaddr", SchemaType::Kind::kExtension},
                     {"decimal", SchemaType::Kind::kExtension},
                     {"datetime", SchemaType::Kind::kExtension},
                     {"duration", SchemaType::Kind::kExtension}};
    auto builtin = [&](std::string_view n) -> SchemaTypePtr {
      for (const auto& b : kBuiltins) {
        if (n == b.name) {
          auto t = std::make_shared<SchemaType>();
          t->kind = b.kind;
          if (b.kind == SchemaType::Kind::kExtension) t->name = b.name;
          return t;
        }
      }
      return nullptr;
    };
    auto entity = [](const std::string& q) {
      auto t = std::make_shared<SchemaType>();
      t->kind = SchemaType::Kind::kEntity;
      t->name = q;
      return SchemaTypePtr(t);
    };
    if (std::string_view(name).starts_with("__cedar::")) {
      if (auto b = builtin(std::string_view(name).substr(9))) return b;
    }
    std::vector<std::string> candidates;
    if (!ns.empty()) candidates.push_back(Qualify(ns, name));
    for (const std::string& q : candidates) {
      if (auto it = common_.find(q); it != common_.end())
        return ResolveType(it->second, ns, depth + 1);
      if (IsEntityType(q)) return entity(q);
    }
    if (name.find("::") == std::string::npos) {
      if (auto b = builtin(name)) return b;
    }
    if (auto it = common_.find(name); it != common_.end()) {
      size_t cut = name.rfind("::");
      std::string cns = cut == std::string::npos ? "" : name.substr(0, cut);
      return ResolveType(it->second, cns, depth + 1);
    }
    if (IsEntityType(name)) return entity(name);
    // Undeclared: assume an entity type, qualified in this namespace when the
    // name is unqualified.
    return entity(name.find("::") == std::string::npos ? Qualify(ns, name)
                                                       : name);
  }

  absl::StatusOr<SchemaTypePtr> ResolveType(const RawTypePtr& raw,
                                            const std::string& ns,
                                            int depth = 0) {
    if (!raw) {
      auto t = std::make_shared<SchemaType>();
      t->kind = SchemaType::Kind::kRecord;
      return SchemaTypePtr(t);
    }
    switch (raw->kind) {
      case RawType::Kind::kName:
        return ResolveName(raw->name, ns, depth);
      case RawType::Kind::kSet: {
        auto t = std::make_shared<SchemaType>();
        t->kind = SchemaType::Kind::kSet;
        AIK_ASSIGN_OR_RETURN(t->elem, ResolveType(raw->elem, ns, depth));
        return SchemaTypePtr(t);
      }
      case RawType::Kind::kRecord: {
        auto t = std::make_shared<SchemaType>();
        t->kind = SchemaType::Kind::kRecord;
        for (const auto& a : raw->attrs) {
          SchemaAttr sa;
          sa.required = a.required;
          AIK_ASSIGN_OR_RETURN(sa.type, ResolveType(a.type, ns, depth));
          t->attrs[a.name] = std::move(sa);
        }
        return SchemaTypePtr(t);
      }
    }
    return absl::InternalError("bad type");
  }

  std::string ResolveEntityName(const std::string& name,
                                const std::string& ns) const {
    std::string q = Qualify(ns, name);
    if (IsEntityType(q)) return q;
    return name;
  }

  absl::StatusOr<Schema> Resolve() {
    for (const RawEntity& e : entities_)
      for (const std::string& n : e.names)
        entity_names_.insert(Qualify(e.ns, n));
    Schema s;
    for (const RawEntity& e : entities_) {
      for (const std::string& n : e.names) {
        EntityTypeDecl d;
        d.name = Qualify(e.ns, n);
        for (const std::string& p : e.parents)
          d.parents.push_back(ResolveEntityName(p, e.ns));
        AIK_ASSIGN_OR_RETURN(d.attrs, ResolveType(e.attrs, e.ns));
        if (e.tags) {
          AIK_ASSIGN_OR_RETURN(d.tags, ResolveType(e.tags, e.ns));
        }
        d.enum_ids = e.enum_ids;
        s.entity_types_[d.name] = std::move(d);
      }
    }
    for (const RawAction& a : actions_) {
      std::string type = Qualify(a.ns, "Action");
      for (const std::string& n : a.names) {
        ActionDecl d;
        d.uid = EntityUid{type, n};
        for (const EntityUid& p : a.parents)
          d.parents.push_back(p.type.empty() ? EntityUid{type, p.id} : p);
        for (const std::string& p : a.principals)
          d.principals.push_back(ResolveEntityName(p, a.ns));
        for (const std::string& r : a.resources)
          d.resources.push_back(ResolveEntityName(r, a.ns));
        AIK_ASSIGN_OR_RETURN(d.context, ResolveType(a.context, a.ns));
        s.actions_[d.uid] = std::move(d);
      }
    }
    return s;
  }

  int depth_ = 0;
  std::map<std::string, RawTypePtr> common_;
  std::vector<RawEntity> entities_;
  std::vector<RawAction> actions_;
  std::set<std::string> entity_names_;
};

absl::StatusOr<Schema> ParseSchema(std::string_view text,
                                   std::string_view file) {
  AIK_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(text, file));
  SchemaParser p(std::move(toks), file);
  return p.Run();
}

absl::Status ValueConforms(const Value& v, const SchemaType& t,
                           std::string_view path) {
  using K = SchemaType::Kind;
  using VK = Value::Kind;
  auto fail = [&](std::string_view want) {
    return absl::InvalidArgumentError(absl::StrCat(
        Av(path), ": expected ", Av(want), ", got ", KindName(v.kind())));
  };
  switch (t.kind) {
    case K::kBool:
      return v.is(VK::kBool) ? absl::OkStatus() : fail("Bool");
    case K::kLong:
      return v.is(VK::kLong) ? absl::OkStatus() : fail("Long");
    case K::kString:
      return v.is(VK::kString) ? absl::OkStatus() : fail("String");
    case K::kEntity:
      if (!v.is(VK::kEntity) || v.as_entity().type != t.name)
        return fail(absl::StrCat("an entity of type ", t.name));
      return absl::OkStatus();
    case K::kExtension: {
      bool ok = (t.name == "ipaddr" && v.is(VK::kIp)) ||
                (t.name == "decimal" && v.is(VK::kDecimal)) ||
                (t.name == "datetime" && v.is(VK::kDatetime)) ||
                (t.name == "duration" && v.is(VK::kDuration));
      return ok ? absl::OkStatus() : fail(t.name);
    }
    case K::kSet:
      if (!v.is(VK::kSet)) return fail("a set");
      for (const Value& e : v.as_set()) {
        AIK_RETURN_IF_ERROR(
            ValueConforms(e, *t.elem, absl::StrCat(Av(path), "[]")));
      }
      return absl::OkStatus();
    case K::kRecord: {
      if (!v.is(VK::kRecord)) return fail("a record");
      const Record& r = v.as_record();
      for (const auto& [name, attr] : t.attrs) {
        auto it = r.find(name);
        if (it == r.end()) {
          if (!attr.required) continue;
          return absl::InvalidArgumentError(
              absl::StrCat(Av(path), ": required attribute \"",
                           EscapeString(name), "\" is missing"));
        }
        AIK_RETURN_IF_ERROR(ValueConforms(it->second, *attr.type,
                                          absl::StrCat(Av(path), ".", name)));
      }
      for (const auto& [name, value] : r) {
        if (!t.attrs.contains(name)) {
          return absl::InvalidArgumentError(
              absl::StrCat(Av(path), ": attribute \"", EscapeString(name),
                           "\" is not declared in the schema"));
        }
      }
      return absl::OkStatus();
    }
  }
  return absl::InternalError("unknown schema type");
}

absl::Status ValidateRequest(const Schema& schema, const EntityUid& principal,
                             const EntityUid& action, const EntityUid& resource,
                             const Value& context) {
  const ActionDecl* a = schema.FindAction(action);
  if (a == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "action ", action.ToString(), " is not declared in the schema"));
  }
  auto allowed = [](const std::vector<std::string>& types,
                    const std::string& t) {
    return std::find(types.begin(), types.end(), t) != types.end();
  };
  if (!allowed(a->principals, principal.type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("principal type ", principal.type, " does not apply to ",
                     action.ToString()));
  }
  if (!allowed(a->resources, resource.type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("resource type ", resource.type, " does not apply to ",
                     action.ToString()));
  }
  return ValueConforms(context, *a->context, "context");
}

}  // namespace aikernel::policy
