// ipaddr: parsing, formatting and predicates.
#include <cstdio>

#include "common/text.h"
#include "policy/extensions.h"

namespace aikernel::policy {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Dotted quad, each octet 0..255 in decimal without leading zeros.
bool ParseV4(std::string_view s, uint8_t out[4]) {
  int part = 0;
  size_t i = 0;
  while (true) {
    size_t start = i;
    int v = 0;
    while (i < s.size() && IsDigit(s[i]) && i - start < 4) {
      v = v * 10 + (s[i] - '0');
      ++i;
    }
    size_t len = i - start;
    if (len == 0 || len > 3 || v > 255) return false;
    if (len > 1 && s[start] == '0') return false;
    out[part++] = static_cast<uint8_t>(v);
    if (part == 4) return i == s.size();
    if (i >= s.size() || s[i] != '.') return false;
    ++i;
  }
}

// Up to eight hex groups with at most one "::".
bool ParseV6(std::string_view s, uint8_t out[16]) {
  uint16_t head[8];
  uint16_t tail[8];
  int nh = 0;
  int nt = 0;
  bool seen_gap = false;
  size_t i = 0;
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    seen_gap = true;
    i = 2;
    if (i == s.size()) {
      for (int k = 0; k < 16; ++k) out[k] = 0;
      return true;
    }
  } else if (!s.empty() && s[0] == ':') {
    return false;
  }
  while (i < s.size()) {
    // Hex groups only: Cedar refuses IPv4-embedded forms (::ffff:1.2.3.4).
    size_t j = i;
    while (j < s.size() && s[j] != ':') ++j;
    size_t len = j - i;
    if (len == 0 || len > 4) return false;
    uint16_t v = 0;
    for (size_t k = i; k < j; ++k) {
      int h = HexDigitValue(s[k]);
      if (h < 0) return false;
      v = static_cast<uint16_t>(v << 4 | h);
    }
    if (seen_gap) {
      if (nt >= 8) return false;
      tail[nt++] = v;
    } else {
      if (nh >= 8) return false;
      head[nh++] = v;
    }
    i = j;
    if (i == s.size()) break;
    // s[i] == ':'
    if (i + 1 < s.size() && s[i + 1] == ':') {
      if (seen_gap) return false;
      seen_gap = true;
      i += 2;
      if (i == s.size()) break;
    } else {
      ++i;
      if (i == s.size()) return false;  // trailing single ':'
    }
  }
  if (seen_gap) {
    if (nh + nt > 7) return false;
  } else if (nh != 8) {
    return false;
  }
  uint16_t groups[8] = {0};
  for (int k = 0; k < nh; ++k) groups[k] = head[k];
  for (int k = 0; k < nt; ++k) groups[8 - nt + k] = tail[k];
  for (int k = 0; k < 8; ++k) {
    out[2 * k] = static_cast<uint8_t>(groups[k] >> 8);
    out[2 * k + 1] = static_cast<uint8_t>(groups[k] & 0xff);
  }
  return true;
}

// The network address of `bytes` under `prefix` bits.
std::array<uint8_t, 16> Network(const std::array<uint8_t, 16>& bytes,
                                int prefix, int total_bytes) {
  std::array<uint8_t, 16> out{};
  for (int i = 0; i < total_bytes; ++i) {
    int bits = prefix - 8 * i;
    if (bits >= 8) {
      out[i] = bytes[i];
    } else if (bits > 0) {
      out[i] = static_cast<uint8_t>(bytes[i] & (0xff << (8 - bits)));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<IpAddr> ParseIp(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid IP address: \"", EscapeString(s), "\""));
  };
  IpAddr ip;
  std::string_view addr = s;
  std::string_view prefix;
  bool has_prefix = false;
  if (size_t slash = s.find('/'); slash != std::string_view::npos) {
    addr = s.substr(0, slash);
    prefix = s.substr(slash + 1);
    has_prefix = true;
  }
  if (addr.find(':') != std::string_view::npos) {
    ip.v6 = true;
    if (!ParseV6(addr, ip.bytes.data())) return bad();
  } else {
    if (!ParseV4(addr, ip.bytes.data())) return bad();
  }
  int max = ip.v6 ? 128 : 32;
  ip.prefix = static_cast<uint8_t>(max);
  if (has_prefix) {
    if (prefix.empty() || prefix.size() > 3) return bad();
    if (prefix.size() > 1 && prefix[0] == '0') return bad();
    int p = 0;
    for (char c : prefix) {
      if (!IsDigit(c)) return bad();
      p = p * 10 + (c - '0');
    }
    if (p > max) return bad();
    ip.prefix = static_cast<uint8_t>(p);
  }
  return ip;
}

std::string FormatIp(const IpAddr& ip) {
  char buf[64];
  std::string out;
  if (!ip.v6) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", ip.bytes[0], ip.bytes[1],
                  ip.bytes[2], ip.bytes[3]);
    out = buf;
  } else {
    for (int k = 0; k < 8; ++k) {
      if (k) out += ':';
      std::snprintf(buf, sizeof buf, "%x",
                    (ip.bytes[2 * k] << 8) | ip.bytes[2 * k + 1]);
      out += buf;
    }
  }
  return out + "/" + std::to_string(ip.prefix);
}

bool IpIsLoopback(const IpAddr& ip) {
  if (!ip.v6) return ip.bytes[0] == 127 && ip.prefix >= 8;
  for (int i = 0; i < 15; ++i)
    if (ip.bytes[i] != 0) return false;
  return ip.bytes[15] == 1 && ip.prefix == 128;
}

bool IpIsMulticast(const IpAddr& ip) {
  if (!ip.v6) return (ip.bytes[0] & 0xf0) == 0xe0 && ip.prefix >= 4;
  return ip.bytes[0] == 0xff && ip.prefix >= 8;
}

bool IpIsInRange(const IpAddr& ip, const IpAddr& range) {
  if (ip.v6 != range.v6) return false;
  if (range.prefix > ip.prefix) return false;
  int n = ip.v6 ? 16 : 4;
  return Network(ip.bytes, range.prefix, n) ==
         Network(range.bytes, range.prefix, n);
}

}  // namespace aikernel::policy
