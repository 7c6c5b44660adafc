#include "cli/format.h"

#include <gtest/gtest.h>

#include "cli/views.h"

namespace aikernel::cli {
namespace {

TEST(ExitCodes, Mapping) {
  EXPECT_EQ(ExitCodeForGrpcCode(0), 0);
  EXPECT_EQ(ExitCodeForGrpcCode(7), 3);   // PERMISSION_DENIED
  EXPECT_EQ(ExitCodeForGrpcCode(16), 3);  // UNAUTHENTICATED
  for (int c : {1, 2, 3, 4, 5, 8, 9, 13, 14}) EXPECT_EQ(ExitCodeForGrpcCode(c), 1) << c;
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kPermissionDenied, "x")), kExitDenied);
  EXPECT_EQ(ExitCodeFor(Status(StatusCode::kUnavailable, "x")), kExitError);
}

TEST(Table, AlignsColumnsLastUnpadded) {
  Table t({"SEQ", "PRINCIPAL", "ACTION"});
  t.AddRow({"1", "operator:0", "admin.status"});
  t.AddRow({"12345", "u", "x"});
  EXPECT_EQ(t.Render(),
            "SEQ    PRINCIPAL   ACTION\n"
            "1      operator:0  admin.status\n"
            "12345  u           x\n");
}

TEST(Table, CountsUtf8AsOneColumn) {
  Table t({"A", "B"});
  t.AddRow({"µµ", "x"});
  t.AddRow({"abc", "y"});
  EXPECT_EQ(t.Render(), "A    B\nµµ   x\nabc  y\n");
}

TEST(FixedRow, OverlongCellsPushRight) {
  EXPECT_EQ(FixedRow({"a", "b", "c"}, {3, 3}), "a    b    c\n");
  EXPECT_EQ(FixedRow({"abcdef", "b", "c"}, {3, 3}), "abcdef  b  c\n");
}

TEST(RenderFields, AlignsValues) {
  EXPECT_EQ(RenderFields({{"node", "a"}, {"ledger head", "#3"}}),
            "node         a\n"
            "ledger head  #3\n");
}

TEST(FormatDurationHuman, Ranges) {
  EXPECT_EQ(FormatDurationHuman(850), "850ns");
  EXPECT_EQ(FormatDurationHuman(12'300), "12.3µs");
  EXPECT_EQ(FormatDurationHuman(4'560'000), "4.56ms");
  EXPECT_EQ(FormatDurationHuman(7'890'000'000), "7.89s");
  EXPECT_EQ(FormatDurationHuman(303'000'000'000), "5m3s");
  EXPECT_EQ(FormatDurationHuman(3723'000'000'000), "1h2m");
  EXPECT_EQ(FormatDurationHuman(3LL * 86400'000'000'000 + 4 * 3600'000'000'000LL), "3d4h");
  EXPECT_EQ(FormatDurationHuman(-850), "-850ns");
}

TEST(DumpJson, InvalidUtf8IsReplacedNotThrown) {
  nlohmann::ordered_json j = {{"principal", std::string("bad\xff")}};
  std::string out;
  EXPECT_NO_THROW(out = DumpJson(j));
  EXPECT_NE(out.find("bad"), std::string::npos);
}

}  // namespace
}  // namespace aikernel::cli
