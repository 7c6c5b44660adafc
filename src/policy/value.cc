#include "policy/value.h"

#include <algorithm>
#include <cstdio>

#include "policy/extensions.h"

namespace aikernel::policy {

namespace {

template <typename T>
int Cmp3(const T& a, const T& b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}

}  // namespace

std::string EntityUid::ToString() const {
  return type + "::\"" + EscapeString(id) + "\"";
}

Value Value::Set(std::vector<Value> elems) {
  std::sort(elems.begin(), elems.end());
  elems.erase(std::unique(elems.begin(), elems.end()), elems.end());
  return Value(Rep(std::in_place_index<4>,
                   std::make_shared<const ValueSet>(std::move(elems))));
}

int Value::Compare(const Value& a, const Value& b) {
  if (a.v_.index() != b.v_.index()) return Cmp3(a.v_.index(), b.v_.index());
  switch (a.kind()) {
    case Kind::kBool:
      return Cmp3(a.as_bool(), b.as_bool());
    case Kind::kLong:
      return Cmp3(a.as_long(), b.as_long());
    case Kind::kString: {
      const auto& pa = std::get<2>(a.v_);
      const auto& pb = std::get<2>(b.v_);
      if (pa == pb) return 0;
      int c = pa->compare(*pb);
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case Kind::kEntity: {
      const auto& pa = std::get<3>(a.v_);
      const auto& pb = std::get<3>(b.v_);
      if (pa == pb) return 0;
      return Cmp3(*pa, *pb);
    }
    case Kind::kSet: {
      const auto& sa = a.as_set();
      const auto& sb = b.as_set();
      if (&sa == &sb) return 0;
      size_t n = std::min(sa.size(), sb.size());
      for (size_t i = 0; i < n; ++i) {
        int c = Compare(sa[i], sb[i]);
        if (c != 0) return c;
      }
      return Cmp3(sa.size(), sb.size());
    }
    case Kind::kRecord: {
      const auto& ra = a.as_record();
      const auto& rb = b.as_record();
      if (&ra == &rb) return 0;
      auto ia = ra.begin();
      auto ib = rb.begin();
      for (; ia != ra.end() && ib != rb.end(); ++ia, ++ib) {
        int c = ia->first.compare(ib->first);
        if (c != 0) return c < 0 ? -1 : 1;
        c = Compare(ia->second, ib->second);
        if (c != 0) return c;
      }
      return Cmp3(ra.size(), rb.size());
    }
    case Kind::kDecimal:
      return Cmp3(a.as_decimal().scaled, b.as_decimal().scaled);
    case Kind::kIp: {
      const IpAddr& x = a.as_ip();
      const IpAddr& y = b.as_ip();
      if (x.v6 != y.v6) return Cmp3(x.v6, y.v6);
      if (x.bytes != y.bytes) return Cmp3(x.bytes, y.bytes);
      return Cmp3(x.prefix, y.prefix);
    }
    case Kind::kDatetime:
      return Cmp3(a.as_datetime().ms, b.as_datetime().ms);
    case Kind::kDuration:
      return Cmp3(a.as_duration().ms, b.as_duration().ms);
  }
  return 0;
}

bool Value::SetContains(const Value& v) const {
  const ValueSet& s = as_set();
  return std::binary_search(s.begin(), s.end(), v);
}

const char* KindName(Value::Kind k) {
  switch (k) {
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kLong:
      return "long";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kEntity:
      return "entity";
    case Value::Kind::kSet:
      return "set";
    case Value::Kind::kRecord:
      return "record";
    case Value::Kind::kDecimal:
      return "decimal";
    case Value::Kind::kIp:
      return "ipaddr";
    case Value::Kind::kDatetime:
      return "datetime";
    case Value::Kind::kDuration:
      return "duration";
  }
  return "?";
}

std::string EscapeString(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\0':
        out += "\\0";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[12];
          std::snprintf(buf, sizeof buf, "\\u{%x}", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out;
}

std::string Value::ToString() const {
  switch (kind()) {
    case Kind::kBool:
      return as_bool() ? "true" : "false";
    case Kind::kLong:
      return std::to_string(as_long());
    case Kind::kString:
      return "\"" + EscapeString(as_string()) + "\"";
    case Kind::kEntity:
      return as_entity().ToString();
    case Kind::kSet: {
      std::string out = "[";
      bool first = true;
      for (const Value& v : as_set()) {
        if (!first) out += ", ";
        first = false;
        out += v.ToString();
      }
      return out + "]";
    }
    case Kind::kRecord: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, v] : as_record()) {
        if (!first) out += ", ";
        first = false;
        out += "\"" + EscapeString(k) + "\": " + v.ToString();
      }
      return out + "}";
    }
    case Kind::kDecimal:
      return "decimal(\"" + FormatDecimal(as_decimal()) + "\")";
    case Kind::kIp:
      return "ip(\"" + FormatIp(as_ip()) + "\")";
    case Kind::kDatetime:
      return "datetime(" + std::to_string(as_datetime().ms) + "ms)";
    case Kind::kDuration:
      return "duration(\"" + std::to_string(as_duration().ms) + "ms\")";
  }
  return "?";
}

}  // namespace aikernel::policy
