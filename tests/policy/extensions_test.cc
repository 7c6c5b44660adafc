#include "policy/extensions.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace aikernel::policy {
namespace {

using testing::Show;

TEST(Decimal, ParseAndCompare) {
  EXPECT_EQ(ParseDecimal("1.5")->scaled, 15000);
  EXPECT_EQ(ParseDecimal("-0.0001")->scaled, -1);
  EXPECT_EQ(ParseDecimal("922337203685477.5807")->scaled, INT64_MAX);
  EXPECT_EQ(ParseDecimal("-922337203685477.5808")->scaled, INT64_MIN);
  for (const char* bad : {"1", "1.", ".5", "1.23456", "922337203685477.5808",
                          "+1.0", "1.0x", "", "1e3"}) {
    EXPECT_FALSE(ParseDecimal(bad).ok()) << bad;
  }
  EXPECT_EQ(FormatDecimal(Decimal{-15}), "-0.0015");
  EXPECT_EQ(Show(R"(decimal("1.23").lessThan(decimal("1.3")))"), "true");
  EXPECT_EQ(Show(R"(decimal("1.23").greaterThanOrEqual(decimal("1.2300")))"),
            "true");
  EXPECT_EQ(Show(R"(decimal("1.23") < decimal("2.0"))"), "error");
  EXPECT_EQ(Show(R"(decimal("1.23").lessThan(1))"), "error");
  EXPECT_EQ(Show(R"(decimal("x"))"), "error");
}

TEST(IpAddr, ParseAndPredicates) {
  EXPECT_FALSE(ParseIp("10.0.0.1")->v6);
  EXPECT_EQ(ParseIp("10.0.0.0/8")->prefix, 8);
  EXPECT_TRUE(ParseIp("::1")->v6);
  EXPECT_EQ(ParseIp("2001:db8::/32")->prefix, 32);
  for (const char* bad : {"10.0.0", "10.0.0.256", "01.0.0.1", "10.0.0.1/33",
                          "10.0.0.1/08", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8:9",
                          "1::2::3", "::/129", "", "localhost"}) {
    EXPECT_FALSE(ParseIp(bad).ok()) << bad;
  }
  EXPECT_EQ(Show(R"(ip("127.0.0.1").isLoopback())"), "true");
  EXPECT_EQ(Show(R"(ip("127.0.0.0/4").isLoopback())"), "false");
  EXPECT_EQ(Show(R"(ip("::1").isLoopback() && ip("::1").isIpv6())"), "true");
  EXPECT_EQ(Show(R"(ip("224.1.2.3").isMulticast())"), "true");
  EXPECT_EQ(Show(R"(ip("ff02::1").isMulticast())"), "true");
  EXPECT_EQ(Show(R"(ip("10.1.2.3").isInRange(ip("10.0.0.0/8")))"), "true");
  EXPECT_EQ(Show(R"(ip("10.0.0.0/8").isInRange(ip("10.1.0.0/16")))"), "false");
  EXPECT_EQ(Show(R"(ip("10.0.0.1").isInRange(ip("::/0")))"), "false");
  EXPECT_EQ(Show(R"(ip("10.0.0.1").isIpv4())"), "true");
  EXPECT_EQ(Show(R"(ip("10.0.0.1").isInRange("10.0.0.0/8"))"), "error");
}

TEST(Datetime, ParseFormats) {
  EXPECT_EQ(ParseDatetime("1970-01-01")->ms, 0);
  EXPECT_EQ(ParseDatetime("1970-01-02T00:00:01Z")->ms, 86'401'000);
  EXPECT_EQ(ParseDatetime("1970-01-01T00:00:00.123Z")->ms, 123);
  EXPECT_EQ(ParseDatetime("1970-01-01T01:00:00+0100")->ms, 0);
  EXPECT_EQ(ParseDatetime("1969-12-31T23:00:00.000-0100")->ms, 0);
  EXPECT_EQ(ParseDatetime("2024-02-29")->ms, 1'709'164'800'000);
  for (const char* bad : {"2023-02-29", "2024-13-01", "2024-1-01", "24-01-01",
                          "2024-01-01T25:00:00Z", "2024-01-01T00:00:00",
                          "2024-01-01T00:00:00.1Z", "2024-01-01T00:00:60Z",
                          "2024-01-01 00:00:00Z", "2024-01-01T00:00:00+01"}) {
    EXPECT_FALSE(ParseDatetime(bad).ok()) << bad;
  }
}

TEST(Duration, ParseAndConvert) {
  EXPECT_EQ(ParseDuration("1d2h3m4s5ms")->ms, 93'784'005);
  EXPECT_EQ(ParseDuration("-1h")->ms, -3'600'000);
  EXPECT_EQ(ParseDuration("0ms")->ms, 0);
  for (const char* bad :
       {"", "-", "1", "1h1d", "1h1h", "1x", "h", "1.5h", "106751991168d"}) {
    EXPECT_FALSE(ParseDuration(bad).ok()) << bad;
  }
  EXPECT_EQ(Show(R"(duration("90m").toHours())"), "1");
  EXPECT_EQ(Show(R"(duration("-90m").toHours())"), "-1");
  EXPECT_EQ(Show(R"(duration("1d").toMilliseconds())"), "86400000");
  EXPECT_EQ(Show(R"(duration("2d").toDays() + duration("61s").toMinutes())"),
            "3");
  EXPECT_EQ(Show(R"(duration("1h") < duration("61m"))"), "true");
  EXPECT_EQ(Show(R"(duration("1h") < 1)"), "error");
}

TEST(Datetime, Methods) {
  EXPECT_EQ(Show(R"(datetime("2024-01-01").offset(duration("1d")) ==
                    datetime("2024-01-02"))"),
            "true");
  EXPECT_EQ(
      Show(R"(datetime("2024-01-02").durationSince(datetime("2024-01-01")) ==
                    duration("24h"))"),
      "true");
  EXPECT_EQ(Show(R"(datetime("2024-01-01T10:30:00Z").toDate() ==
                    datetime("2024-01-01"))"),
            "true");
  EXPECT_EQ(Show(R"(datetime("2024-01-01T10:30:00Z").toTime() ==
                    duration("10h30m"))"),
            "true");
  // Before the epoch, toDate rounds down and toTime stays non-negative.
  EXPECT_EQ(Show(R"(datetime("1969-12-31T23:00:00Z").toDate() ==
                    datetime("1969-12-31"))"),
            "true");
  EXPECT_EQ(Show(R"(datetime("1969-12-31T23:00:00Z").toTime() ==
                    duration("23h"))"),
            "true");
  EXPECT_EQ(Show(R"(datetime("2024-01-01") < datetime("2024-01-02"))"), "true");
  EXPECT_EQ(Show(R"(datetime("2024-01-01") < duration("1d"))"), "error");
  EXPECT_EQ(Show(R"(datetime("9999-12-31").offset(duration("106751991167d")))"),
            "error");
  EXPECT_EQ(
      Show(
          R"(datetime("1970-01-01").offset(duration("9223372036854775807ms")).offset(duration("1ms")))"),
      "error");
}

TEST(Extensions, ArityIsCheckedAtEvaluation) {
  EXPECT_EQ(Show(R"(ip("1.2.3.4", "x"))"), "error");
  EXPECT_EQ(Show(R"(ip("1.2.3.4").isLoopback(1))"), "error");
  EXPECT_EQ(Show(R"(false && ip("1.2.3.4", "x"))"), "false");
}

}  // namespace
}  // namespace aikernel::policy
