#include "generator.h"

namespace aikernel::policy::difftest {

namespace {

using nlohmann::json;

json Uid(const std::string& type, const std::string& id) {
  return json{{"type", type}, {"id", id}};
}
json Extn(const char* fn, const std::string& arg) {
  return json{{"__extn", {{"fn", fn}, {"arg", arg}}}};
}

const char* kIps[] = {"10.0.0.1",       "10.0.0.0/8",    "127.0.0.1",
                      "127.0.0.0/4",    "224.0.0.1",     "::1",
                      "ff02::1",        "2001:db8::/32", "192.168.1.300",
                      "::ffff:1.2.3.4", "10.1.2.3/24",   "1:2::3:4"};
const char* kDecimals[] = {"1.0",
                           "0.5",
                           "-2.25",
                           "1.2345",
                           "922337203685477.5807",
                           "-922337203685477.5808",
                           "1.23456",
                           "3",
                           "0.0001"};
const char* kDatetimes[] = {"2024-01-01",
                            "1970-01-01T00:00:00Z",
                            "1969-12-31T23:59:59.999Z",
                            "2024-02-29T12:00:00+0130",
                            "2023-02-29",
                            "9999-12-31T23:59:59Z",
                            "0000-01-01",
                            "2024-06-01T00:00:00.5Z",
                            "2024-06-01T10:00:00-0800"};
const char* kDurations[] = {"1d",
                            "2h30m",
                            "-1h",
                            "0ms",
                            "1d2h3m4s5ms",
                            "90m",
                            "1h1d",
                            "9223372036854775807ms",
                            "-9223372036854775808ms",
                            "1.5h"};
const char* kStrings[] = {
    "",       "a",         "ab",  "a*b", "hello",       "\\u{e9}t\\u{e9}",
    "tab\\t", "\\\"q\\\"", "\\0", "**",  "\\u{1F600}x", "aab",
    "abab",   "\\x41"};
const char* kPatterns[] = {
    "*",    "a*",   "*b",  "a\\*b", "h*l*o",        "",     "**",   "\\u{e9}*",
    "*\\*", "a*b*", "*ab", "ab*ab", "*\\u{1F600}*", "\\0*", "a**b", "*a*a*"};
const char* kAttrs[] = {"age",   "name",    "tags",    "addr",
                        "score", "manager", "profile", "nope"};

// Concatenates in order: braced-list elements are evaluated left to right,
// unlike the operands of `+`, so the cases depend only on the seed and not
// on the compiler's evaluation order.
std::string Cat(std::initializer_list<std::string> parts) {
  std::string out;
  for (const std::string& p : parts) out += p;
  return out;
}

}  // namespace

Generator::T Generator::AnyType() { return static_cast<T>(R(10)); }

std::string Generator::Expr(T t, int depth) {
  // Occasionally produce an expression of the wrong type on purpose.
  if (depth > 0 && P(4)) t = AnyType();
  bool leaf = depth <= 0 || P(25);
  auto sub = [&](T u) { return Expr(u, depth - 1); };
  auto cond = [&] {
    return Cat(
        {"(if ", sub(T::kBool), " then ", sub(t), " else ", sub(t), ")"});
  };
  switch (t) {
    case T::kBool: {
      if (leaf) {
        const char* l[] = {"true",
                           "false",
                           "(principal has age)",
                           "(context has flag)",
                           "context.flag",
                           "resource.hasTag(\"owner\")"};
        return Pick(l);
      }
      switch (R(16)) {
        case 0:
          return Cat({"(", sub(T::kBool), " && ", sub(T::kBool), ")"});
        case 1:
          return Cat({"(", sub(T::kBool), " || ", sub(T::kBool), ")"});
        case 2:
          return Cat({"!(", sub(T::kBool), ")"});
        case 3:
          return cond();
        case 4: {
          T u = AnyType();
          return Cat({"(", sub(u), (P(50) ? " == " : " != "),
                      sub(P(80) ? u : AnyType()), ")"});
        }
        case 5: {
          T u = P(70) ? T::kLong : (P(50) ? T::kDatetime : T::kDuration);
          const char* ops[] = {" < ", " <= ", " > ", " >= "};
          return Cat({"(", sub(u), Pick(ops), sub(P(90) ? u : AnyType()), ")"});
        }
        case 6: {
          std::string rhs =
              P(50) ? Cat({"Group::\"g", std::to_string(R(4)), "\""})
                    : Cat({"[Group::\"g", std::to_string(R(4)), "\", ",
                           sub(T::kEntity), "]"});
          return Cat({"(", sub(T::kEntity), " in ", rhs, ")"});
        }
        case 7: {
          std::string base = P(60) ? sub(T::kEntity) : sub(T::kRecord);
          std::string a = Pick(kAttrs);
          if (P(20)) return "(" + base + " has profile.level)";
          return "(" + base + " has " + (P(50) ? a : "\"" + a + "\"") + ")";
        }
        case 8:
          return Cat(
              {"(", sub(T::kString), " like \"", Pick(kPatterns), "\")"});
        case 9: {
          const char* types[] = {"User", "Group", "Doc", "Action", "Ns::Team"};
          std::string s = Cat({"(", sub(T::kEntity), " is ", Pick(types)});
          if (P(30)) s += " in " + sub(T::kEntity);
          return s + ")";
        }
        case 10: {
          const char* m[] = {"contains", "containsAll", "containsAny"};
          const char* name = Pick(m);
          std::string arg =
              std::string(name) == "contains" ? sub(AnyType()) : sub(T::kSet);
          return Cat({sub(T::kSet), ".", name, "(", arg, ")"});
        }
        case 11:
          return Cat({sub(T::kSet), ".isEmpty()"});
        case 12:
          return Cat({sub(T::kEntity), ".hasTag(",
                      (P(80) ? "\"owner\"" : sub(T::kString)), ")"});
        case 13: {
          const char* m[] = {"isIpv4()", "isIpv6()", "isLoopback()",
                             "isMulticast()"};
          if (P(30)) return Cat({sub(T::kIp), ".isInRange(", sub(T::kIp), ")"});
          return Cat({sub(T::kIp), ".", Pick(m)});
        }
        case 14: {
          const char* m[] = {"lessThan", "lessThanOrEqual", "greaterThan",
                             "greaterThanOrEqual"};
          return Cat(
              {sub(T::kDecimal), ".", Pick(m), "(", sub(T::kDecimal), ")"});
        }
        default:
          return Cat({sub(T::kRecord), ".flag"});
      }
    }
    case T::kLong: {
      if (leaf) {
        switch (R(6)) {
          case 0:
            return std::to_string(R(10));
          case 1:
            return P(50) ? "9223372036854775807" : "-9223372036854775808";
          case 2:
            return "principal.age";
          case 3:
            return "context.n";
          case 4:
            return "resource.getTag(\"level\")";
          default:
            return std::to_string(static_cast<int64_t>(rng_() >> R(64)));
        }
      }
      switch (R(7)) {
        case 0:
          return Cat({"(", sub(T::kLong), " + ", sub(T::kLong), ")"});
        case 1:
          return Cat({"(", sub(T::kLong), " - ", sub(T::kLong), ")"});
        case 2:
          return Cat({"(", sub(T::kLong), " * ", sub(T::kLong), ")"});
        case 3:
          return Cat({"(-", sub(T::kLong), ")"});
        case 4:
          return cond();
        case 5: {
          const char* m[] = {"toMilliseconds", "toSeconds", "toMinutes",
                             "toHours", "toDays"};
          return Cat({sub(T::kDuration), ".", Pick(m), "()"});
        }
        default:
          return "principal.profile.level";
      }
    }
    case T::kString: {
      if (leaf || P(50)) {
        switch (R(4)) {
          case 0:
            return "principal.name";
          case 1:
            return "context.s";
          case 2:
            return "resource.getTag(\"owner\")";
          default:
            return std::string("\"") + Pick(kStrings) + "\"";
        }
      }
      return cond();
    }
    case T::kEntity: {
      if (leaf || P(40)) {
        switch (R(7)) {
          case 0:
            return "principal";
          case 1:
            return "resource";
          case 2:
            return "action";
          case 3:
            return "User::\"u" + std::to_string(R(6)) + "\"";
          case 4:
            return "Group::\"g" + std::to_string(R(4)) + "\"";
          case 5:
            // A namespaced type; ids with an escaped quote and a non-ASCII
            // letter.
            return P(50) ? "Ns::Team::\"t\\\"0\"" : "Ns::Team::\"t\\u{e9}\"";
          default:
            return "principal.manager";
        }
      }
      return cond();
    }
    case T::kSet: {
      if (leaf) {
        const char* l[] = {
            "[]",     "principal.tags", "context.set",
            "[1, 2]", "[\"a\", \"b\"]", "[Group::\"g0\", User::\"u1\"]"};
        return Pick(l);
      }
      if (P(20)) return cond();
      std::string s = "[";
      int n = R(4);
      T u = AnyType();
      for (int i = 0; i < n; ++i)
        s += Cat({(i ? ", " : ""), sub(P(80) ? u : AnyType())});
      return s + "]";
    }
    case T::kRecord: {
      if (leaf) {
        const char* l[] = {"context", "principal.profile", "context.rec", "{}"};
        return Pick(l);
      }
      if (P(20)) return cond();
      return Cat({"{flag: ", sub(T::kBool), ", level: ", sub(T::kLong), "}"});
    }
    case T::kIp:
      if (!leaf && P(20)) return cond();
      return P(20) ? "principal.addr"
                   : std::string("ip(\"") + Pick(kIps) + "\")";
    case T::kDecimal:
      if (!leaf && P(20)) return cond();
      return P(20) ? "principal.score"
                   : std::string("decimal(\"") + Pick(kDecimals) + "\")";
    case T::kDatetime:
      if (!leaf && P(40)) {
        switch (R(3)) {
          case 0:
            return Cat({sub(T::kDatetime), ".offset(", sub(T::kDuration), ")"});
          case 1:
            return Cat({sub(T::kDatetime), ".toDate()"});
          default:
            return cond();
        }
      }
      return P(20) ? "context.now"
                   : std::string("datetime(\"") + Pick(kDatetimes) + "\")";
    case T::kDuration:
      if (!leaf && P(40)) {
        switch (R(2)) {
          case 0:
            return Cat(
                {sub(T::kDatetime), ".durationSince(", sub(T::kDatetime), ")"});
          default:
            return Cat({sub(T::kDatetime), ".toTime()"});
        }
      }
      return std::string("duration(\"") + Pick(kDurations) + "\")";
  }
  return "true";
}

std::string Generator::Scope(const char* var, const char* type,
                             const char* group_type) {
  std::string v = var;
  switch (R(5)) {
    case 0:
      return v;
    case 1:
      return v + " == " + type + "::\"" + (v == "principal" ? "u" : "d") +
             std::to_string(R(4)) + "\"";
    case 2:
      return v + " in " + group_type + "::\"" + (v == "principal" ? "g" : "f") +
             std::to_string(R(3)) + "\"";
    case 3:
      return v + " is " + (P(80) ? type : group_type);
    default:
      return v + " is " + type + " in " + group_type + "::\"" +
             (v == "principal" ? "g" : "f") + std::to_string(R(3)) + "\"";
  }
}

std::string Generator::Policy() {
  std::string p = P(65) ? "permit(" : "forbid(";
  p += Scope("principal", "User", "Group") + ", ";
  switch (R(4)) {
    case 0:
      p += "action";
      break;
    case 1:
      p += "action == Action::\"view\"";
      break;
    case 2:
      p += "action in [Action::\"view\", Action::\"edit\"]";
      break;
    default:
      p += "action in Action::\"all\"";
      break;
  }
  p += ", " + Scope("resource", "Doc", "Folder") + ")";
  int n = R(3);
  for (int i = 0; i < n; ++i) {
    p += P(70) ? "\n  when { " : "\n  unless { ";
    p += Expr(T::kBool, 1 + R(4)) + " }";
  }
  return p + ";";
}

json Generator::Entities() {
  json es = json::array();
  for (int g = 0; g < 4; ++g) {
    json parents = json::array();
    for (int h = 0; h < g; ++h)
      if (P(35)) parents.push_back(Uid("Group", "g" + std::to_string(h)));
    es.push_back({{"uid", Uid("Group", "g" + std::to_string(g))},
                  {"attrs", json::object()},
                  {"parents", parents}});
  }
  for (const char* t : {"t\"0", "t\u00e9"})
    es.push_back({{"uid", Uid("Ns::Team", t)},
                  {"attrs", json::object()},
                  {"parents", json::array()}});
  for (int u = 0; u < 5; ++u) {
    json attrs = json::object();
    if (P(70))
      attrs["age"] = P(90) ? json(R(100))
                           : json(int64_t{9007199254740991});  // exact in JS
    if (P(70))
      attrs["name"] =
          Pick(std::vector<std::string>{"alice", "a*b", "", "h\u00e9llo"});
    if (P(60)) attrs["tags"] = json::array({"a", "b"});
    if (P(50))
      attrs["addr"] = Ext(
          "ip", Pick(std::vector<std::string>{"10.0.0.1", "::1", "127.0.0.1"}));
    if (P(50))
      attrs["score"] =
          Ext("decimal", Pick(std::vector<std::string>{"1.5", "-0.25"}));
    if (P(50)) attrs["manager"] = Ref("User", "u" + std::to_string(R(6)));
    if (P(50)) attrs["profile"] = {{"level", R(5)}, {"flag", P(50)}};
    json parents = json::array();
    for (int g = 0; g < 4; ++g)
      if (P(30)) parents.push_back(Uid("Group", "g" + std::to_string(g)));
    if (P(40)) parents.push_back(Uid("Ns::Team", P(50) ? "t\"0" : "t\u00e9"));
    es.push_back({{"uid", Uid("User", "u" + std::to_string(u))},
                  {"attrs", attrs},
                  {"parents", parents}});
  }
  for (int f = 0; f < 3; ++f)
    es.push_back({{"uid", Uid("Folder", "f" + std::to_string(f))},
                  {"attrs", json::object()},
                  {"parents", json::array()}});
  for (int d = 0; d < 3; ++d) {
    json tags = json::object();
    if (P(60)) tags["owner"] = "u" + std::to_string(R(5));
    if (P(60) && !schema_mode_) tags["level"] = R(4);
    json parents = json::array();
    if (P(70)) parents.push_back(Uid("Folder", "f" + std::to_string(R(3))));
    es.push_back({{"uid", Uid("Doc", "d" + std::to_string(d))},
                  {"attrs", json::object()},
                  {"parents", parents},
                  {"tags", tags}});
  }
  es.push_back({{"uid", Uid("Action", "all")},
                {"attrs", json::object()},
                {"parents", json::array()}});
  for (const char* a : {"view", "edit"})
    es.push_back({{"uid", Uid("Action", a)},
                  {"attrs", json::object()},
                  {"parents", json::array({Uid("Action", "all")})}});
  return es;
}

json Generator::Request() {
  json ctx = json::object();
  if (P(70)) ctx["n"] = P(90) ? json(R(10)) : json(int64_t{-9007199254740991});
  if (P(70)) ctx["s"] = Pick(std::vector<std::string>{"hello", "ab", ""});
  if (P(70)) ctx["flag"] = P(50);
  if (P(50)) ctx["now"] = Ext("datetime", "2024-06-01T12:00:00Z");
  if (P(50)) ctx["rec"] = {{"flag", true}, {"level", 2}};
  if (P(50))
    ctx["set"] = schema_mode_ ? json::array({1, 2}) : json::array({1, "a"});
  const char* actions[] = {"view", "edit", "all"};
  return {
      {"principal", Uid("User", "u" + std::to_string(R(6)))},
      {"action", Uid("Action", schema_mode_ ? actions[R(2)] : Pick(actions))},
      {"resource", Uid("Doc", "d" + std::to_string(R(4)))},
      {"context", ctx}};
}

// With a schema, values are written the implicit way the schema allows: a
// string for an extension type, {"type","id"} for an entity reference.
json Generator::Ext(const char* fn, const std::string& arg) {
  return schema_mode_ ? json(arg) : Extn(fn, arg);
}
json Generator::Ref(const std::string& type, const std::string& id) {
  return schema_mode_ ? Uid(type, id) : json{{"__entity", Uid(type, id)}};
}

const char* const kSchema = R"(
namespace Ns { entity Team; }
entity Group in [Group];
entity User in [Group, Ns::Team] = {
  age?: Long, name?: String, tags?: Set<String>, addr?: ipaddr,
  score?: decimal, manager?: User, profile?: { level: Long, flag: Bool },
};
entity Folder;
entity Doc in [Folder] tags String;
action all;
action view, edit in [all] appliesTo {
  principal: [User], resource: [Doc],
  context: { n?: Long, s?: String, flag?: Bool, now?: datetime,
             rec?: { flag: Bool, level: Long }, set?: Set<Long> }
};
)";

Case Generator::NextWithSchema() {
  schema_mode_ = true;
  Case c = Next();
  schema_mode_ = false;
  c.schema = kSchema;
  // The schema declares the actions; leave them out of the entities.
  json es = json::array();
  for (const json& e : c.entities)
    if (e["uid"]["type"] != "Action") es.push_back(e);
  c.entities = es;
  return c;
}

Case Generator::Next() {
  Case c;
  int n = 1 + R(5);
  for (int i = 0; i < n; ++i)
    c.policies.emplace_back("p" + std::to_string(i), Policy());
  c.entities = Entities();
  for (int i = 0; i < 4; ++i) c.requests.push_back(Request());
  return c;
}

}  // namespace aikernel::policy::difftest
