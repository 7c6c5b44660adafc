// Time arguments for aictl: durations ("90s", "10m", "1h30m") and points in
// time (RFC 3339, a date, "now", or a duration meaning that long ago).
// Pure functions; thread-safe. Times are int64 nanoseconds since the Unix
// epoch, UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aikernel::cli {

// One or more <integer><unit> terms, unit one of ns us ms s m h d w
// ("1h30m", "500ms", "2d"). No sign, no bare numbers. On failure returns
// nullopt and sets *error to a message naming the problem.
std::optional<int64_t> ParseDuration(std::string_view text, std::string* error);

// Accepts:
//   RFC 3339: 2025-01-02T03:04:05Z, 2025-01-02T03:04:05.250+02:00 ('t', 'z'
//             and a space in place of 'T' are accepted too)
//   a date:   2025-01-02 (midnight UTC)
//   "now"
//   a duration, optionally with a leading '-': that long before `now_ns`
// On failure returns nullopt and sets *error.
std::optional<int64_t> ParseTimeArg(std::string_view text, int64_t now_ns, std::string* error);

// RFC 3339 in UTC with `frac_digits` (0..9) fractional digits:
// FormatRfc3339(0, 3) == "1970-01-01T00:00:00.000Z".
std::string FormatRfc3339(int64_t ns, int frac_digits);

// Now, in ns since the epoch (system clock).
int64_t NowNs();

}  // namespace aikernel::cli
