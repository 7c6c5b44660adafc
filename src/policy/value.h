// Cedar values: the runtime data the evaluator computes with.
//
// A Value is one of bool, Long (int64), String, entity reference, Set,
// Record, or an extension value (decimal, ipaddr, datetime, duration).
// Values are immutable once built; strings, entity references, sets and
// records are held through shared_ptr<const ...>, so copying a Value is cheap
// and a Value may be shared and read from any number of threads. Nothing here
// fails: construction cannot error (sets are sorted and de-duplicated on
// construction), and comparison is a total order used for set membership and
// Cedar's `==` (which is structural and never errors).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace aikernel::policy {

// An entity's identity: its type name (e.g. "Ns::User") and id.
struct EntityUid {
  std::string type;
  std::string id;

  friend bool operator==(const EntityUid& a, const EntityUid& b) {
    return a.type == b.type && a.id == b.id;
  }
  friend bool operator<(const EntityUid& a, const EntityUid& b) {
    return a.type != b.type ? a.type < b.type : a.id < b.id;
  }
  template <typename H>
  friend H AbslHashValue(H h, const EntityUid& u) {
    return H::combine(std::move(h), u.type, u.id);
  }
  // Cedar syntax: Type::"id" with the id escaped.
  std::string ToString() const;
};

// decimal: a fixed-point number with four digits after the point, stored as
// value * 10^4.
struct Decimal {
  int64_t scaled = 0;
};
// ipaddr: an IPv4 or IPv6 address with a prefix length (a single address has
// the full prefix, 32 or 128). IPv4 uses bytes[0..3].
struct IpAddr {
  bool v6 = false;
  uint8_t prefix = 32;
  std::array<uint8_t, 16> bytes{};
};
// datetime: milliseconds since the Unix epoch, UTC.
struct Datetime {
  int64_t ms = 0;
};
// duration: a signed number of milliseconds.
struct Duration {
  int64_t ms = 0;
};

class Value;
using ValueSet = std::vector<Value>;  // sorted by Compare, no duplicates
using Record = std::map<std::string, Value, std::less<>>;

class Value {
 public:
  enum class Kind : uint8_t {
    kBool,
    kLong,
    kString,
    kEntity,
    kSet,
    kRecord,
    kDecimal,
    kIp,
    kDatetime,
    kDuration,
  };

  Value() : v_(false) {}
  static Value Bool(bool b) { return Value(Rep(std::in_place_index<0>, b)); }
  static Value Long(int64_t i) { return Value(Rep(std::in_place_index<1>, i)); }
  static Value String(std::string s) {
    return Value(Rep(std::in_place_index<2>,
                     std::make_shared<const std::string>(std::move(s))));
  }
  static Value Entity(EntityUid uid) {
    return Value(Rep(std::in_place_index<3>,
                     std::make_shared<const EntityUid>(std::move(uid))));
  }
  static Value Entity(std::shared_ptr<const EntityUid> uid) {
    return Value(Rep(std::in_place_index<3>, std::move(uid)));
  }
  // Sorts and de-duplicates `elems`.
  static Value Set(std::vector<Value> elems);
  static Value MakeRecord(Record r) {
    return Value(Rep(std::in_place_index<5>,
                     std::make_shared<const Record>(std::move(r))));
  }
  static Value Dec(Decimal d) { return Value(Rep(std::in_place_index<6>, d)); }
  static Value Ip(IpAddr ip) { return Value(Rep(std::in_place_index<7>, ip)); }
  static Value Time(Datetime d) {
    return Value(Rep(std::in_place_index<8>, d));
  }
  static Value Dur(Duration d) { return Value(Rep(std::in_place_index<9>, d)); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is(Kind k) const { return kind() == k; }

  // Accessors: only valid when kind() matches (checked by the caller).
  bool as_bool() const { return std::get<0>(v_); }
  int64_t as_long() const { return std::get<1>(v_); }
  const std::string& as_string() const { return *std::get<2>(v_); }
  const EntityUid& as_entity() const { return *std::get<3>(v_); }
  const std::shared_ptr<const EntityUid>& entity_ptr() const {
    return std::get<3>(v_);
  }
  const ValueSet& as_set() const { return *std::get<4>(v_); }
  const Record& as_record() const { return *std::get<5>(v_); }
  Decimal as_decimal() const { return std::get<6>(v_); }
  const IpAddr& as_ip() const { return std::get<7>(v_); }
  Datetime as_datetime() const { return std::get<8>(v_); }
  Duration as_duration() const { return std::get<9>(v_); }

  // Total order: by kind, then by content. Compare(a, b) == 0 is Cedar `==`.
  static int Compare(const Value& a, const Value& b);
  friend bool operator==(const Value& a, const Value& b) {
    return Compare(a, b) == 0;
  }
  friend bool operator<(const Value& a, const Value& b) {
    return Compare(a, b) < 0;
  }

  // Membership in a set value (binary search).
  bool SetContains(const Value& v) const;

  // Cedar-like rendering for messages and tests.
  std::string ToString() const;

 private:
  using Rep = std::variant<
      bool, int64_t, std::shared_ptr<const std::string>,
      std::shared_ptr<const EntityUid>, std::shared_ptr<const ValueSet>,
      std::shared_ptr<const Record>, Decimal, IpAddr, Datetime, Duration>;
  explicit Value(Rep r) : v_(std::move(r)) {}
  Rep v_;
};

// "bool", "long", "string", "entity", "set", "record", "decimal", "ipaddr",
// "datetime", "duration".
const char* KindName(Value::Kind k);

// Escapes a string the way Cedar prints string literals (without quotes).
std::string EscapeString(std::string_view s);

}  // namespace aikernel::policy
