#include "cli/format.h"

#include <cstdio>

namespace aikernel::cli {

int ExitCodeForGrpcCode(int code) {
  if (code == 0) return kExitOk;
  if (code == 7 /*PERMISSION_DENIED*/ || code == 16 /*UNAUTHENTICATED*/) return kExitDenied;
  return kExitError;
}

size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes only
  }
  return n;
}

namespace {
void Pad(std::string* out, size_t have, size_t want) {
  if (have < want) out->append(want - have, ' ');
}
}  // namespace

std::string FixedRow(const std::vector<std::string>& cells, const std::vector<size_t>& widths) {
  std::string out;
  size_t debt = 0;  // how far earlier overlong cells pushed us right
  for (size_t i = 0; i < cells.size(); ++i) {
    out += cells[i];
    if (i + 1 == cells.size()) break;
    size_t w = i < widths.size() ? widths[i] : 0;
    size_t have = DisplayWidth(cells[i]) + debt;
    if (have < w) {
      Pad(&out, have, w);
      debt = 0;
    } else {
      debt = have - w;
    }
    out += "  ";
  }
  out += '\n';
  return out;
}

std::string Table::Render() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i >= widths.size()) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header_);
  for (const auto& r : rows_) measure(r);
  std::string out = FixedRow(header_, widths);
  for (const auto& r : rows_) out += FixedRow(r, widths);
  return out;
}

std::string RenderFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  size_t w = 0;
  for (const auto& [k, v] : fields) w = std::max(w, DisplayWidth(k));
  std::string out;
  for (const auto& [k, v] : fields) {
    out += k;
    Pad(&out, DisplayWidth(k), w);
    out += "  ";
    out += v;
    out += '\n';
  }
  return out;
}

std::string FormatDurationHuman(int64_t ns) {
  char buf[64];
  bool neg = ns < 0;
  uint64_t v = neg ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  const uint64_t us = 1000, ms = 1000 * us, s = 1000 * ms, m = 60 * s, h = 60 * m, d = 24 * h;
  if (v < us) {
    std::snprintf(buf, sizeof(buf), "%lluns", static_cast<unsigned long long>(v));
  } else if (v < ms) {
    std::snprintf(buf, sizeof(buf), "%.1fµs", static_cast<double>(v) / us);
  } else if (v < s) {
    std::snprintf(buf, sizeof(buf), "%.2fms", static_cast<double>(v) / ms);
  } else if (v < m) {
    std::snprintf(buf, sizeof(buf), "%.2fs", static_cast<double>(v) / s);
  } else if (v < h) {
    std::snprintf(buf, sizeof(buf), "%llum%llus", static_cast<unsigned long long>(v / m),
                  static_cast<unsigned long long>((v % m) / s));
  } else if (v < d) {
    std::snprintf(buf, sizeof(buf), "%lluh%llum", static_cast<unsigned long long>(v / h),
                  static_cast<unsigned long long>((v % h) / m));
  } else {
    std::snprintf(buf, sizeof(buf), "%llud%lluh", static_cast<unsigned long long>(v / d),
                  static_cast<unsigned long long>((v % d) / h));
  }
  return neg ? "-" + std::string(buf) : std::string(buf);
}

std::string DumpJson(const nlohmann::ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace aikernel::cli
