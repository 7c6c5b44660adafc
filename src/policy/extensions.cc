// decimal, and the table and dispatcher of every extension function.
#include "policy/extensions.h"

#include <cstdio>

namespace aikernel::policy {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

constexpr int64_t kMsPerDay = 86'400'000;

struct Entry {
  const char* name;
  ExtFnInfo info;
};

constexpr Entry kTable[] = {
    {"ip", {ExtFn::kIp, false, 1}},
    {"decimal", {ExtFn::kDecimal, false, 1}},
    {"datetime", {ExtFn::kDatetime, false, 1}},
    {"duration", {ExtFn::kDuration, false, 1}},
    {"isIpv4", {ExtFn::kIsIpv4, true, 1}},
    {"isIpv6", {ExtFn::kIsIpv6, true, 1}},
    {"isLoopback", {ExtFn::kIsLoopback, true, 1}},
    {"isMulticast", {ExtFn::kIsMulticast, true, 1}},
    {"isInRange", {ExtFn::kIsInRange, true, 2}},
    {"lessThan", {ExtFn::kLessThan, true, 2}},
    {"lessThanOrEqual", {ExtFn::kLessThanOrEqual, true, 2}},
    {"greaterThan", {ExtFn::kGreaterThan, true, 2}},
    {"greaterThanOrEqual", {ExtFn::kGreaterThanOrEqual, true, 2}},
    {"offset", {ExtFn::kOffset, true, 2}},
    {"durationSince", {ExtFn::kDurationSince, true, 2}},
    {"toDate", {ExtFn::kToDate, true, 1}},
    {"toTime", {ExtFn::kToTime, true, 1}},
    {"toMilliseconds", {ExtFn::kToMilliseconds, true, 1}},
    {"toSeconds", {ExtFn::kToSeconds, true, 1}},
    {"toMinutes", {ExtFn::kToMinutes, true, 1}},
    {"toHours", {ExtFn::kToHours, true, 1}},
    {"toDays", {ExtFn::kToDays, true, 1}},
};

absl::Status TypeError(ExtFn fn, const char* want, const Value& got) {
  return absl::InvalidArgumentError(absl::StrCat("type error: ", ExtFnName(fn),
                                                 " expects ", want, ", got ",
                                                 KindName(got.kind())));
}

absl::Status Overflow(ExtFn fn) {
  return absl::InvalidArgumentError(
      absl::StrCat("overflow in ", ExtFnName(fn)));
}

}  // namespace

absl::StatusOr<Decimal> ParseDecimal(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid decimal: \"", EscapeString(s), "\""));
  };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && s[i] == '-') {
    neg = true;
    ++i;
  }
  __int128 whole = 0;
  size_t start = i;
  while (i < s.size() && IsDigit(s[i])) {
    whole = whole * 10 + (s[i] - '0');
    if (whole > (static_cast<__int128>(1) << 64)) return bad();
    ++i;
  }
  if (i == start || i >= s.size() || s[i] != '.') return bad();
  ++i;
  start = i;
  int64_t frac = 0;
  while (i < s.size() && IsDigit(s[i])) {
    frac = frac * 10 + (s[i] - '0');
    ++i;
  }
  size_t nfrac = i - start;
  if (nfrac == 0 || nfrac > 4 || i != s.size()) return bad();
  for (size_t k = nfrac; k < 4; ++k) frac *= 10;
  __int128 v = whole * 10000 + frac;
  if (neg) v = -v;
  if (v > INT64_MAX || v < INT64_MIN) {
    return absl::InvalidArgumentError(
        absl::StrCat("decimal out of range: \"", EscapeString(s), "\""));
  }
  return Decimal{static_cast<int64_t>(v)};
}

std::string FormatDecimal(Decimal d) {
  __int128 v = d.scaled;
  bool neg = v < 0;
  if (neg) v = -v;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%04llu", neg ? "-" : "",
                static_cast<unsigned long long>(v / 10000),
                static_cast<unsigned long long>(v % 10000));
  return buf;
}

std::optional<ExtFnInfo> LookupExtension(std::string_view name) {
  if (name == "ipaddr") name = "ip";
  for (const Entry& e : kTable)
    if (name == e.name) return e.info;
  return std::nullopt;
}

const char* ExtFnName(ExtFn fn) {
  for (const Entry& e : kTable)
    if (e.info.fn == fn) return e.name;
  return "?";
}

absl::StatusOr<Value> CallExtension(ExtFn fn, std::span<const Value> args) {
  const ExtFnInfo* info = nullptr;
  for (const Entry& e : kTable)
    if (e.info.fn == fn) info = &e.info;
  if (info == nullptr || static_cast<int>(args.size()) != info->arity) {
    return absl::InvalidArgumentError(
        absl::StrCat("wrong number of arguments to ", ExtFnName(fn)));
  }
  using K = Value::Kind;
  auto want = [&](size_t i, K k) -> absl::Status {
    if (!args[i].is(k)) return TypeError(fn, KindName(k), args[i]);
    return absl::OkStatus();
  };
  switch (fn) {
    case ExtFn::kIp: {
      AIK_RETURN_IF_ERROR(want(0, K::kString));
      AIK_ASSIGN_OR_RETURN(IpAddr ip, ParseIp(args[0].as_string()));
      return Value::Ip(ip);
    }
    case ExtFn::kDecimal: {
      AIK_RETURN_IF_ERROR(want(0, K::kString));
      AIK_ASSIGN_OR_RETURN(Decimal d, ParseDecimal(args[0].as_string()));
      return Value::Dec(d);
    }
    case ExtFn::kDatetime: {
      AIK_RETURN_IF_ERROR(want(0, K::kString));
      AIK_ASSIGN_OR_RETURN(Datetime d, ParseDatetime(args[0].as_string()));
      return Value::Time(d);
    }
    case ExtFn::kDuration: {
      AIK_RETURN_IF_ERROR(want(0, K::kString));
      AIK_ASSIGN_OR_RETURN(Duration d, ParseDuration(args[0].as_string()));
      return Value::Dur(d);
    }
    case ExtFn::kIsIpv4:
      AIK_RETURN_IF_ERROR(want(0, K::kIp));
      return Value::Bool(!args[0].as_ip().v6);
    case ExtFn::kIsIpv6:
      AIK_RETURN_IF_ERROR(want(0, K::kIp));
      return Value::Bool(args[0].as_ip().v6);
    case ExtFn::kIsLoopback:
      AIK_RETURN_IF_ERROR(want(0, K::kIp));
      return Value::Bool(IpIsLoopback(args[0].as_ip()));
    case ExtFn::kIsMulticast:
      AIK_RETURN_IF_ERROR(want(0, K::kIp));
      return Value::Bool(IpIsMulticast(args[0].as_ip()));
    case ExtFn::kIsInRange:
      AIK_RETURN_IF_ERROR(want(0, K::kIp));
      AIK_RETURN_IF_ERROR(want(1, K::kIp));
      return Value::Bool(IpIsInRange(args[0].as_ip(), args[1].as_ip()));
    case ExtFn::kLessThan:
    case ExtFn::kLessThanOrEqual:
    case ExtFn::kGreaterThan:
    case ExtFn::kGreaterThanOrEqual: {
      AIK_RETURN_IF_ERROR(want(0, K::kDecimal));
      AIK_RETURN_IF_ERROR(want(1, K::kDecimal));
      int64_t a = args[0].as_decimal().scaled;
      int64_t b = args[1].as_decimal().scaled;
      bool r = fn == ExtFn::kLessThan          ? a < b
               : fn == ExtFn::kLessThanOrEqual ? a <= b
               : fn == ExtFn::kGreaterThan     ? a > b
                                               : a >= b;
      return Value::Bool(r);
    }
    case ExtFn::kOffset: {
      AIK_RETURN_IF_ERROR(want(0, K::kDatetime));
      AIK_RETURN_IF_ERROR(want(1, K::kDuration));
      int64_t r;
      if (__builtin_add_overflow(args[0].as_datetime().ms,
                                 args[1].as_duration().ms, &r))
        return Overflow(fn);
      return Value::Time(Datetime{r});
    }
    case ExtFn::kDurationSince: {
      AIK_RETURN_IF_ERROR(want(0, K::kDatetime));
      AIK_RETURN_IF_ERROR(want(1, K::kDatetime));
      int64_t r;
      if (__builtin_sub_overflow(args[0].as_datetime().ms,
                                 args[1].as_datetime().ms, &r))
        return Overflow(fn);
      return Value::Dur(Duration{r});
    }
    case ExtFn::kToDate: {
      AIK_RETURN_IF_ERROR(want(0, K::kDatetime));
      int64_t ms = args[0].as_datetime().ms;
      int64_t q = ms / kMsPerDay;
      if (ms % kMsPerDay != 0 && ms < 0) q -= 1;
      int64_t r;
      if (__builtin_mul_overflow(q, kMsPerDay, &r)) return Overflow(fn);
      return Value::Time(Datetime{r});
    }
    case ExtFn::kToTime: {
      AIK_RETURN_IF_ERROR(want(0, K::kDatetime));
      int64_t ms = args[0].as_datetime().ms;
      int64_t r = ms % kMsPerDay;
      if (r < 0) r += kMsPerDay;
      return Value::Dur(Duration{r});
    }
    case ExtFn::kToMilliseconds:
    case ExtFn::kToSeconds:
    case ExtFn::kToMinutes:
    case ExtFn::kToHours:
    case ExtFn::kToDays: {
      AIK_RETURN_IF_ERROR(want(0, K::kDuration));
      int64_t ms = args[0].as_duration().ms;
      int64_t div = fn == ExtFn::kToMilliseconds ? 1
                    : fn == ExtFn::kToSeconds    ? 1000
                    : fn == ExtFn::kToMinutes    ? 60'000
                    : fn == ExtFn::kToHours      ? 3'600'000
                                                 : kMsPerDay;
      return Value::Long(ms / div);
    }
  }
  return absl::InternalError("unknown extension function");
}

}  // namespace aikernel::policy
