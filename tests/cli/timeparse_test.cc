#include "cli/timeparse.h"

#include <gtest/gtest.h>

namespace aikernel::cli {
namespace {

constexpr int64_t kS = 1'000'000'000;

int64_t Dur(const char* s) {
  std::string err;
  auto v = ParseDuration(s, &err);
  EXPECT_TRUE(v.has_value()) << s << ": " << err;
  return v.value_or(-1);
}

TEST(ParseDuration, Units) {
  EXPECT_EQ(Dur("90s"), 90 * kS);
  EXPECT_EQ(Dur("10m"), 600 * kS);
  EXPECT_EQ(Dur("2h"), 7200 * kS);
  EXPECT_EQ(Dur("1d"), 86400 * kS);
  EXPECT_EQ(Dur("1w"), 7 * 86400 * kS);
  EXPECT_EQ(Dur("1h30m"), 5400 * kS);
  EXPECT_EQ(Dur("500ms"), kS / 2);
  EXPECT_EQ(Dur("7us"), 7000);
  EXPECT_EQ(Dur("7µs"), 7000);
  EXPECT_EQ(Dur("3ns"), 3);
}

TEST(ParseDuration, RejectsWithReason) {
  for (const char* bad : {"", "10", "m", "10x", "-5m", "1.5h", "99999999999999999999s", "10 m"}) {
    std::string err;
    EXPECT_FALSE(ParseDuration(bad, &err).has_value()) << bad;
    EXPECT_NE(err.find("is not a duration"), std::string::npos) << bad << ": " << err;
  }
}

int64_t Time(const char* s, int64_t now = 0) {
  std::string err;
  auto v = ParseTimeArg(s, now, &err);
  EXPECT_TRUE(v.has_value()) << s << ": " << err;
  return v.value_or(-1);
}

TEST(ParseTimeArg, Rfc3339) {
  EXPECT_EQ(Time("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(Time("2023-11-14T22:13:20Z"), 1'700'000'000 * kS);
  EXPECT_EQ(Time("2023-11-14t22:13:20z"), 1'700'000'000 * kS);
  EXPECT_EQ(Time("2023-11-14 22:13:20Z"), 1'700'000'000 * kS);
  EXPECT_EQ(Time("2023-11-14T22:13:20.5Z"), 1'700'000'000 * kS + kS / 2);
  EXPECT_EQ(Time("2023-11-14T22:13:20.123456789Z"), 1'700'000'000 * kS + 123'456'789);
  EXPECT_EQ(Time("2023-11-15T00:13:20+02:00"), 1'700'000'000 * kS);
  EXPECT_EQ(Time("2023-11-14T17:13:20-05:00"), 1'700'000'000 * kS);
  EXPECT_EQ(Time("2024-02-29"), 1'709'164'800 * kS);
  EXPECT_EQ(Time("1969-12-31T23:59:59Z"), -kS);
}

TEST(ParseTimeArg, RelativeAndNow) {
  const int64_t now = 1'700'000'000 * kS;
  EXPECT_EQ(Time("now", now), now);
  EXPECT_EQ(Time("10m", now), now - 600 * kS);
  EXPECT_EQ(Time("-2h", now), now - 7200 * kS);
  EXPECT_EQ(Time("1h30m", now), now - 5400 * kS);
}

TEST(ParseTimeArg, Rejects) {
  for (const char* bad : {"yesterday", "2023-02-30", "2023-13-01", "2023-11-14T22:13:20",
                          "2023-11-14T25:00:00Z", "2023-11-14T22:13Z", "2023-11-14T22:13:20.Z",
                          "2023-11-14T22:13:20+0200", "2023-11-14T22:13:20Zjunk", "10"}) {
    std::string err;
    EXPECT_FALSE(ParseTimeArg(bad, 0, &err).has_value()) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  std::string err;
  ParseTimeArg("2023-11-14T22:13:20", 0, &err);
  EXPECT_NE(err.find("missing zone"), std::string::npos) << err;
}

TEST(FormatRfc3339, Digits) {
  EXPECT_EQ(FormatRfc3339(0, 3), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000 * kS + 123'456'789, 9), "2023-11-14T22:13:20.123456789Z");
  EXPECT_EQ(FormatRfc3339(1'700'000'000 * kS + 123'456'789, 0), "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatRfc3339(-1, 9), "1969-12-31T23:59:59.999999999Z");
}

TEST(FormatRfc3339, RoundTrips) {
  for (int64_t ns : {int64_t{0}, 1'700'000'000 * kS + 1, 4'102'444'800 * kS - 1}) {
    std::string err;
    EXPECT_EQ(ParseTimeArg(FormatRfc3339(ns, 9), 0, &err).value_or(-1), ns);
  }
}

}  // namespace
}  // namespace aikernel::cli
