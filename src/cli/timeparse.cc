#include "cli/timeparse.h"

#include <chrono>
#include <cstdio>
#include <limits>

namespace aikernel::cli {

namespace {

constexpr int64_t kNs = 1;
constexpr int64_t kUs = 1000 * kNs;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kS = 1000 * kMs;
constexpr int64_t kMin = 60 * kS;
constexpr int64_t kH = 60 * kMin;
constexpr int64_t kD = 24 * kH;
constexpr int64_t kW = 7 * kD;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads exactly `n` digits at `*pos`.
bool Digits(std::string_view s, size_t* pos, int n, int* out) {
  if (*pos + n > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[*pos + i];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* pos, char c) {
  if (*pos < s.size() && s[*pos] == c) {
    ++*pos;
    return true;
  }
  return false;
}

int64_t DaysFromCivil(int y, int m, int d) {
  using namespace std::chrono;
  return sys_days(year{y} / month{static_cast<unsigned>(m)} / day{static_cast<unsigned>(d)})
      .time_since_epoch()
      .count();
}

bool ValidDate(int y, int m, int d) {
  using namespace std::chrono;
  return year_month_day(year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)})
      .ok();
}

std::optional<int64_t> ParseRfc3339(std::string_view s, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<int64_t> {
    *error = "'" + std::string(s) + "' is not an RFC 3339 time (" + why +
             "); use e.g. 2025-01-02T03:04:05Z, 2025-01-02 or a relative time like 10m";
    return std::nullopt;
  };
  size_t p = 0;
  int y, mo, d;
  if (!Digits(s, &p, 4, &y) || !Expect(s, &p, '-') || !Digits(s, &p, 2, &mo) ||
      !Expect(s, &p, '-') || !Digits(s, &p, 2, &d)) {
    return fail("expected YYYY-MM-DD");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || !ValidDate(y, mo, d)) return fail("no such date");
  // Times are int64 nanoseconds since 1970 on the wire and in the ledger,
  // which covers 1677-09-21 to 2262-04-11; refuse rather than wrap.
  if (y < 1678 || y > 2261) return fail("year must be between 1678 and 2261");
  int64_t ns = DaysFromCivil(y, mo, d) * kD;
  if (p == s.size()) return ns;  // a date: midnight UTC
  if (!(Expect(s, &p, 'T') || Expect(s, &p, 't') || Expect(s, &p, ' '))) {
    return fail("expected 'T' after the date");
  }
  int h, mi, sec;
  if (!Digits(s, &p, 2, &h) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &mi) ||
      !Expect(s, &p, ':') || !Digits(s, &p, 2, &sec)) {
    return fail("expected HH:MM:SS");
  }
  if (h > 23 || mi > 59 || sec > 60) return fail("time of day out of range");
  ns += h * kH + mi * kMin + sec * kS;
  if (Expect(s, &p, '.')) {
    int64_t frac = 0;
    int n = 0;
    while (p < s.size() && IsDigit(s[p])) {
      if (n < 9) {
        frac = frac * 10 + (s[p] - '0');
        ++n;
      }
      ++p;
    }
    if (n == 0) return fail("expected digits after '.'");
    for (int i = n; i < 9; ++i) frac *= 10;
    ns += frac;
  }
  if (Expect(s, &p, 'Z') || Expect(s, &p, 'z')) {
    // UTC
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    int sign = s[p] == '+' ? 1 : -1;
    ++p;
    int oh, om;
    if (!Digits(s, &p, 2, &oh) || !Expect(s, &p, ':') || !Digits(s, &p, 2, &om) || oh > 23 ||
        om > 59) {
      return fail("expected a zone offset like +02:00");
    }
    ns -= sign * (oh * kH + om * kMin);
  } else {
    return fail("missing zone: end with Z or an offset like +02:00");
  }
  if (p != s.size()) return fail("unexpected text after the zone");
  return ns;
}

}  // namespace

std::optional<int64_t> ParseDuration(std::string_view text, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<int64_t> {
    *error = "'" + std::string(text) + "' is not a duration (" + why +
             "); use e.g. 30s, 10m, 2h, 1d or 1h30m";
    return std::nullopt;
  };
  if (text.empty()) return fail("empty");
  int64_t total = 0;
  size_t p = 0;
  while (p < text.size()) {
    if (!IsDigit(text[p])) return fail("expected a number");
    int64_t n = 0;
    while (p < text.size() && IsDigit(text[p])) {
      if (n > std::numeric_limits<int64_t>::max() / 10) return fail("too large");
      n = n * 10 + (text[p] - '0');
      ++p;
    }
    size_t u = p;
    while (p < text.size() && !IsDigit(text[p])) ++p;
    std::string_view unit = text.substr(u, p - u);
    int64_t mult;
    if (unit == "ns") mult = kNs;
    else if (unit == "us" || unit == "\xC2\xB5s") mult = kUs;
    else if (unit == "ms") mult = kMs;
    else if (unit == "s") mult = kS;
    else if (unit == "m") mult = kMin;
    else if (unit == "h") mult = kH;
    else if (unit == "d") mult = kD;
    else if (unit == "w") mult = kW;
    else if (unit.empty()) return fail("a number needs a unit");
    else return fail("unknown unit '" + std::string(unit) + "'");
    if (n > (std::numeric_limits<int64_t>::max() - total) / mult) return fail("too large");
    total += n * mult;
  }
  return total;
}

std::optional<int64_t> ParseTimeArg(std::string_view text, int64_t now_ns, std::string* error) {
  if (text == "now") return now_ns;
  // Four digits and a dash: a date or an RFC 3339 time.
  if (text.size() >= 5 && IsDigit(text[0]) && IsDigit(text[1]) && IsDigit(text[2]) &&
      IsDigit(text[3]) && text[4] == '-') {
    return ParseRfc3339(text, error);
  }
  std::string_view d = text;
  if (!d.empty() && d[0] == '-') d.remove_prefix(1);
  std::string derr;
  auto ago = ParseDuration(d, &derr);
  if (!ago) {
    *error = "'" + std::string(text) +
             "' is neither an RFC 3339 time nor a relative time; use e.g. "
             "2025-01-02T03:04:05Z, 2025-01-02, now, or 10m / 2h / 1d (that long ago)";
    return std::nullopt;
  }
  return now_ns - *ago;
}

std::string FormatRfc3339(int64_t ns, int frac_digits) {
  using namespace std::chrono;
  if (frac_digits < 0) frac_digits = 0;
  if (frac_digits > 9) frac_digits = 9;
  sys_time<nanoseconds> tp{nanoseconds(ns)};
  auto dp = floor<days>(tp);
  year_month_day ymd{dp};
  hh_mm_ss<nanoseconds> hms{tp - dp};
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(hms.hours().count()), static_cast<int>(hms.minutes().count()),
                static_cast<int>(hms.seconds().count()));
  std::string out = buf;
  if (frac_digits > 0) {
    char frac[16];
    std::snprintf(frac, sizeof(frac), "%09lld", static_cast<long long>(hms.subseconds().count()));
    out += '.';
    out.append(frac, frac_digits);
  }
  out += 'Z';
  return out;
}

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace aikernel::cli
