#include "tools/json_schema.h"

#include <cmath>
#include <regex>

namespace aikernel::tools {
namespace {

using nlohmann::json;

const char* TypeOf(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "binary";
  }
}

bool HasType(const json& v, const std::string& t) {
  if (t == "null") return v.is_null();
  if (t == "boolean") return v.is_boolean();
  if (t == "string") return v.is_string();
  if (t == "array") return v.is_array();
  if (t == "object") return v.is_object();
  if (t == "number") return v.is_number();
  if (t == "integer") {
    if (v.is_number_integer()) return true;
    if (!v.is_number_float()) return false;
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return true;  // an unknown type name refuses nothing
}

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string Short(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 37) + "..." : s;
}

Status Fail(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
}

const json* Member(const json& schema, const char* key) {
  auto it = schema.find(key);
  return it == schema.end() ? nullptr : &*it;
}

Status Validate(const json& schema, const json& v, const std::string& path, int depth);

Status CheckType(const json& schema, const json& v, const std::string& path) {
  const json* t = Member(schema, "type");
  if (t == nullptr) return absl::OkStatus();
  if (t->is_string()) {
    if (!HasType(v, t->get<std::string>())) {
      return Fail(path, absl::StrCat("expected ", t->get<std::string>(), ", got ", TypeOf(v)));
    }
  } else if (t->is_array()) {
    std::string names;
    for (const json& e : *t) {
      if (!e.is_string()) continue;
      if (HasType(v, e.get<std::string>())) return absl::OkStatus();
      absl::StrAppend(&names, names.empty() ? "" : " or ", e.get<std::string>());
    }
    if (!names.empty()) return Fail(path, absl::StrCat("expected ", names, ", got ", TypeOf(v)));
  }
  return absl::OkStatus();
}

Status CheckNumber(const json& schema, const json& v, const std::string& path) {
  if (!v.is_number()) return absl::OkStatus();
  const double d = v.get<double>();
  auto bound = [&](const char* key, auto bad, const char* words) -> Status {
    const json* b = Member(schema, key);
    if (b != nullptr && b->is_number() && bad(d, b->get<double>())) {
      return Fail(path, absl::StrCat(Short(v), " is ", words, " ", Short(*b)));
    }
    return absl::OkStatus();
  };
  AIK_RETURN_IF_ERROR(bound("minimum", [](double x, double b) { return x < b; }, "less than"));
  AIK_RETURN_IF_ERROR(bound("maximum", [](double x, double b) { return x > b; }, "more than"));
  AIK_RETURN_IF_ERROR(bound("exclusiveMinimum", [](double x, double b) { return x <= b; },
                            "not more than"));
  AIK_RETURN_IF_ERROR(bound("exclusiveMaximum", [](double x, double b) { return x >= b; },
                            "not less than"));
  return absl::OkStatus();
}

Status CheckString(const json& schema, const json& v, const std::string& path) {
  if (!v.is_string()) return absl::OkStatus();
  const std::string& s = v.get_ref<const std::string&>();
  const size_t n = CodePoints(s);
  if (const json* m = Member(schema, "minLength"); m && m->is_number_unsigned() &&
                                                   n < m->get<uint64_t>()) {
    return Fail(path, absl::StrCat("shorter than ", m->get<uint64_t>(), " characters"));
  }
  if (const json* m = Member(schema, "maxLength"); m && m->is_number_unsigned() &&
                                                   n > m->get<uint64_t>()) {
    return Fail(path, absl::StrCat("longer than ", m->get<uint64_t>(), " characters"));
  }
  if (const json* p = Member(schema, "pattern"); p && p->is_string()) {
    // std::regex reports a bad pattern by throwing; keep it inside.
    try {
      std::regex re(p->get<std::string>(), std::regex::ECMAScript);
      if (!std::regex_search(s, re)) {
        return Fail(path, absl::StrCat("does not match pattern ", p->get<std::string>()));
      }
    } catch (const std::exception&) {
      // A schema whose pattern this engine cannot compile refuses nothing.
    }
  }
  return absl::OkStatus();
}

Status CheckArray(const json& schema, const json& v, const std::string& path, int depth) {
  if (!v.is_array()) return absl::OkStatus();
  if (const json* m = Member(schema, "minItems"); m && m->is_number_unsigned() &&
                                                  v.size() < m->get<uint64_t>()) {
    return Fail(path, absl::StrCat("fewer than ", m->get<uint64_t>(), " items"));
  }
  if (const json* m = Member(schema, "maxItems"); m && m->is_number_unsigned() &&
                                                  v.size() > m->get<uint64_t>()) {
    return Fail(path, absl::StrCat("more than ", m->get<uint64_t>(), " items"));
  }
  if (const json* items = Member(schema, "items"); items && items->is_object()) {
    for (size_t i = 0; i < v.size(); ++i) {
      AIK_RETURN_IF_ERROR(Validate(*items, v[i], absl::StrCat(path, "[", i, "]"), depth + 1));
    }
  }
  return absl::OkStatus();
}

Status CheckObject(const json& schema, const json& v, const std::string& path, int depth) {
  if (!v.is_object()) return absl::OkStatus();
  if (const json* req = Member(schema, "required"); req && req->is_array()) {
    for (const json& k : *req) {
      if (k.is_string() && !v.contains(k.get<std::string>())) {
        return Fail(path, absl::StrCat("missing required field '", k.get<std::string>(), "'"));
      }
    }
  }
  const json* props = Member(schema, "properties");
  if (props != nullptr && !props->is_object()) props = nullptr;
  const json* extra = Member(schema, "additionalProperties");
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string sub = absl::StrCat(path, ".", it.key());
    if (props != nullptr) {
      auto p = props->find(it.key());
      if (p != props->end()) {
        if (p->is_object()) AIK_RETURN_IF_ERROR(Validate(*p, it.value(), sub, depth + 1));
        continue;
      }
    }
    if (extra == nullptr) continue;
    if (extra->is_boolean() && !extra->get<bool>()) {
      return Fail(sub, "unknown field (the tool's schema allows no other fields)");
    }
    if (extra->is_object()) AIK_RETURN_IF_ERROR(Validate(*extra, it.value(), sub, depth + 1));
  }
  return absl::OkStatus();
}

Status CheckCombinators(const json& schema, const json& v, const std::string& path, int depth) {
  if (const json* all = Member(schema, "allOf"); all && all->is_array()) {
    for (const json& s : *all) {
      if (s.is_object()) AIK_RETURN_IF_ERROR(Validate(s, v, path, depth + 1));
    }
  }
  if (const json* any = Member(schema, "anyOf"); any && any->is_array() && !any->empty()) {
    Status first;
    bool ok = false;
    for (const json& s : *any) {
      Status st = s.is_object() ? Validate(s, v, path, depth + 1) : absl::OkStatus();
      if (st.ok()) {
        ok = true;
        break;
      }
      if (first.ok()) first = st;
    }
    if (!ok) {
      return Fail(path, absl::StrCat("matches none of anyOf (first: ", first.message(), ")"));
    }
  }
  if (const json* one = Member(schema, "oneOf"); one && one->is_array() && !one->empty()) {
    size_t matches = 0;
    for (const json& s : *one) {
      if (!s.is_object() || Validate(s, v, path, depth + 1).ok()) ++matches;
    }
    if (matches != 1) {
      return Fail(path, absl::StrCat("matches ", matches, " of oneOf's schemas, not exactly one"));
    }
  }
  if (const json* no = Member(schema, "not"); no && no->is_object()) {
    if (Validate(*no, v, path, depth + 1).ok()) return Fail(path, "matches a 'not' schema");
  }
  return absl::OkStatus();
}

Status Validate(const json& schema, const json& v, const std::string& path, int depth) {
  if (!schema.is_object()) return absl::OkStatus();
  // Arguments are bounded by max_args_bytes, but a schema could nest
  // combinators without end; stop well before the stack would.
  if (depth > 64) return Fail(path, "nested deeper than 64 levels");
  AIK_RETURN_IF_ERROR(CheckType(schema, v, path));
  if (const json* e = Member(schema, "enum"); e && e->is_array()) {
    bool found = false;
    for (const json& c : *e) found = found || c == v;
    if (!found) return Fail(path, absl::StrCat(Short(v), " is not one of ", Short(*e)));
  }
  if (const json* c = Member(schema, "const"); c && *c != v) {
    return Fail(path, absl::StrCat("must be ", Short(*c)));
  }
  AIK_RETURN_IF_ERROR(CheckNumber(schema, v, path));
  AIK_RETURN_IF_ERROR(CheckString(schema, v, path));
  AIK_RETURN_IF_ERROR(CheckArray(schema, v, path, depth));
  AIK_RETURN_IF_ERROR(CheckObject(schema, v, path, depth));
  return CheckCombinators(schema, v, path, depth);
}

}  // namespace

Status ValidateArgs(const json& schema, const json& value, const std::string& root) {
  return Validate(schema, value, root, 0);
}

}  // namespace aikernel::tools
