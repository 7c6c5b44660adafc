// datetime and duration: parsing (the formats Cedar accepts) into
// milliseconds.
#include "policy/extensions.h"

namespace aikernel::policy {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at s[*i].
bool Digits(std::string_view s, size_t* i, int n, int* out) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

constexpr int64_t kMsPerDay = 86'400'000;

}  // namespace

absl::StatusOr<Datetime> ParseDatetime(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid datetime: \"", EscapeString(s), "\""));
  };
  size_t i = 0;
  int y, mo, d;
  if (!Digits(s, &i, 4, &y) || !Expect(s, &i, '-') || !Digits(s, &i, 2, &mo) ||
      !Expect(s, &i, '-') || !Digits(s, &i, 2, &d))
    return bad();
  if (mo < 1 || mo > 12 || d < 1 || d > DaysInMonth(y, mo)) return bad();
  int64_t ms = DaysFromCivil(y, mo, d) * kMsPerDay;
  if (i == s.size()) return Datetime{ms};
  int h, mi, sec;
  if (!Expect(s, &i, 'T') || !Digits(s, &i, 2, &h) || !Expect(s, &i, ':') ||
      !Digits(s, &i, 2, &mi) || !Expect(s, &i, ':') || !Digits(s, &i, 2, &sec))
    return bad();
  if (h > 23 || mi > 59 || sec > 59) return bad();
  ms += (static_cast<int64_t>(h) * 3600 + mi * 60 + sec) * 1000;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int frac;
    if (!Digits(s, &i, 3, &frac)) return bad();
    ms += frac;
  }
  if (i >= s.size()) return bad();
  if (s[i] == 'Z') {
    ++i;
  } else if (s[i] == '+' || s[i] == '-') {
    int sign = s[i] == '+' ? 1 : -1;
    ++i;
    int oh, om;
    if (!Digits(s, &i, 2, &oh) || !Digits(s, &i, 2, &om)) return bad();
    if (oh > 23 || om > 59) return bad();
    // Local time = UTC + offset, so UTC = local - offset.
    ms -= sign * (static_cast<int64_t>(oh) * 3600 + om * 60) * 1000;
  } else {
    return bad();
  }
  if (i != s.size()) return bad();
  return Datetime{ms};
}

absl::StatusOr<Duration> ParseDuration(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid duration: \"", EscapeString(s), "\""));
  };
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && s[i] == '-') {
    neg = true;
    ++i;
  }
  if (i == s.size()) return bad();
  // Units in the only order allowed: d, h, m, s, ms.
  static const struct {
    const char* name;
    int64_t ms;
  } kUnits[] = {{"d", kMsPerDay},
                {"h", 3'600'000},
                {"m", 60'000},
                {"s", 1000},
                {"ms", 1}};
  int next_unit = 0;
  __int128 total = 0;
  while (i < s.size()) {
    size_t start = i;
    __int128 n = 0;
    while (i < s.size() && IsDigit(s[i])) {
      n = n * 10 + (s[i] - '0');
      if (n > (static_cast<__int128>(1) << 64)) return bad();
      ++i;
    }
    if (i == start) return bad();
    std::string_view unit;
    if (i + 1 < s.size() && s[i] == 'm' && s[i + 1] == 's') {
      unit = "ms";
    } else if (i < s.size() &&
               (s[i] == 'd' || s[i] == 'h' || s[i] == 'm' || s[i] == 's')) {
      unit = s.substr(i, 1);
    } else {
      return bad();
    }
    i += unit.size();
    int u = next_unit;
    while (u < 5 && unit != kUnits[u].name) ++u;
    if (u == 5) return bad();  // out of order or repeated
    next_unit = u + 1;
    total += n * kUnits[u].ms;
    if (total > (static_cast<__int128>(1) << 64)) return bad();
  }
  if (neg) total = -total;
  if (total > INT64_MAX || total < INT64_MIN) return bad();
  return Duration{static_cast<int64_t>(total)};
}

}  // namespace aikernel::policy
