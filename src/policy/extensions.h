// Cedar's extension types: decimal, ipaddr, datetime, duration.
//
// Parsers turn the string argument of a constructor (decimal("1.5"),
// ip("10.0.0.0/8"), datetime("2024-01-01T00:00:00Z"), duration("1h30m")) into
// a value, or return InvalidArgument saying why the string is malformed or out
// of range. CallExtension applies a constructor or method to already evaluated
// arguments (receiver first for methods) and returns the result, or an
// InvalidArgument error for a wrong argument type or count, a malformed
// string, or an arithmetic overflow. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "policy/strutil.h"
#include "policy/value.h"

namespace aikernel::policy {

absl::StatusOr<Decimal> ParseDecimal(std::string_view s);
absl::StatusOr<IpAddr> ParseIp(std::string_view s);
absl::StatusOr<Datetime> ParseDatetime(std::string_view s);
absl::StatusOr<Duration> ParseDuration(std::string_view s);

std::string FormatDecimal(Decimal d);
std::string FormatIp(const IpAddr& ip);

bool IpIsLoopback(const IpAddr& ip);
bool IpIsMulticast(const IpAddr& ip);
// True when every address of `ip`'s range lies in `range` (same family).
bool IpIsInRange(const IpAddr& ip, const IpAddr& range);

enum class ExtFn : uint8_t {
  // Constructors (function style).
  kIp,
  kDecimal,
  kDatetime,
  kDuration,
  // ipaddr methods.
  kIsIpv4,
  kIsIpv6,
  kIsLoopback,
  kIsMulticast,
  kIsInRange,
  // decimal methods.
  kLessThan,
  kLessThanOrEqual,
  kGreaterThan,
  kGreaterThanOrEqual,
  // datetime methods.
  kOffset,
  kDurationSince,
  kToDate,
  kToTime,
  // duration methods.
  kToMilliseconds,
  kToSeconds,
  kToMinutes,
  kToHours,
  kToDays,
};

struct ExtFnInfo {
  ExtFn fn;
  bool method;  // called as receiver.name(args) rather than name(args)
  int arity;    // number of arguments including the receiver
};

// Looks up an extension function by the name used in policies and in JSON
// `__extn` escapes ("ip", "decimal", "isInRange", "offset", ...). `ipaddr`
// is accepted as an alias of `ip` in JSON.
std::optional<ExtFnInfo> LookupExtension(std::string_view name);
const char* ExtFnName(ExtFn fn);

absl::StatusOr<Value> CallExtension(ExtFn fn, std::span<const Value> args);

}  // namespace aikernel::policy
