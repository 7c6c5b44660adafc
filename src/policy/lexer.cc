#include "policy/lexer.h"

#include "common/text.h"

namespace aikernel::policy {

namespace {

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }

// Shared unescaper; when `pattern` is set, `*` and `\*` are reported through
// `on_star(bool escaped)` instead of being appended.
template <typename OnStar>
absl::Status UnescapeImpl(std::string_view raw, bool pattern, std::string* cur,
                          OnStar on_star) {
  for (size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '*' && pattern) {
      on_star(false);
      continue;
    }
    if (c != '\\') {
      cur->push_back(c);
      continue;
    }
    if (++i >= raw.size())
      return absl::InvalidArgumentError("unterminated escape");
    char e = raw[i];
    switch (e) {
      case 'n':
        cur->push_back('\n');
        break;
      case 'r':
        cur->push_back('\r');
        break;
      case 't':
        cur->push_back('\t');
        break;
      case '\\':
        cur->push_back('\\');
        break;
      case '0':
        cur->push_back('\0');
        break;
      case '\'':
        cur->push_back('\'');
        break;
      case '"':
        cur->push_back('"');
        break;
      case '*':
        if (!pattern) return absl::InvalidArgumentError("invalid escape `\\*`");
        on_star(true);
        break;
      case 'x': {
        if (i + 2 >= raw.size())
          return absl::InvalidArgumentError("invalid \\x escape");
        int h1 = HexDigitValue(raw[i + 1]);
        int h2 = HexDigitValue(raw[i + 2]);
        if (h1 < 0 || h2 < 0 || h1 > 7)
          return absl::InvalidArgumentError("invalid \\x escape");
        cur->push_back(static_cast<char>(h1 * 16 + h2));
        i += 2;
        break;
      }
      case 'u': {
        if (i + 1 >= raw.size() || raw[i + 1] != '{')
          return absl::InvalidArgumentError("invalid \\u escape");
        size_t j = i + 2;
        uint32_t cp = 0;
        int n = 0;
        while (j < raw.size() && raw[j] != '}') {
          int h = HexDigitValue(raw[j]);
          if (h < 0 || ++n > 6)
            return absl::InvalidArgumentError("invalid \\u escape");
          cp = cp * 16 + h;
          ++j;
        }
        if (j >= raw.size() || n == 0 || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
          return absl::InvalidArgumentError("invalid \\u escape");
        AppendUtf8(cp, cur);
        i = j;
        break;
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("invalid escape `\\", std::string(1, e), "`"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SyntaxError(std::string_view file, SourceLoc loc,
                         std::string_view msg) {
  return absl::InvalidArgumentError(
      absl::StrCat(Av(file), ":", loc.line, ":", loc.col, ": ", Av(msg)));
}

absl::StatusOr<std::string> Unescape(std::string_view raw) {
  std::string out;
  AIK_RETURN_IF_ERROR(UnescapeImpl(raw, false, &out, [](bool) {}));
  return out;
}

absl::StatusOr<std::vector<PatternElem>> UnescapePattern(std::string_view raw) {
  std::vector<PatternElem> elems;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty()) {
      elems.push_back(PatternElem{false, std::move(cur)});
      cur.clear();
    }
  };
  AIK_RETURN_IF_ERROR(UnescapeImpl(raw, true, &cur, [&](bool escaped) {
    if (escaped) {
      cur.push_back('*');
    } else {
      flush();
      if (elems.empty() || !elems.back().star)
        elems.push_back(PatternElem{true, ""});
    }
  }));
  flush();
  return elems;
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view src,
                                            std::string_view file) {
  std::vector<Token> toks;
  int line = 1;
  int col = 1;
  size_t i = 0;
  auto advance = [&](size_t n) {
    for (size_t k = 0; k < n && i < src.size(); ++k, ++i) {
      unsigned char c = static_cast<unsigned char>(src[i]);
      if (c == '\n') {
        ++line;
        col = 1;
      } else if ((c & 0xC0) != 0x80) {
        ++col;
      }
    }
  };
  while (i < src.size()) {
    char c = src[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      advance(1);
      continue;
    }
    if (c == '/' && i + 1 < src.size() && src[i + 1] == '/') {
      while (i < src.size() && src[i] != '\n') advance(1);
      continue;
    }
    Token t;
    t.loc = {line, col};
    if (IsIdentStart(c)) {
      size_t j = i;
      while (j < src.size() && IsIdentChar(src[j])) ++j;
      t.kind = TokKind::kIdent;
      t.text = std::string(src.substr(i, j - i));
      advance(j - i);
    } else if (c >= '0' && c <= '9') {
      size_t j = i;
      while (j < src.size() && src[j] >= '0' && src[j] <= '9') ++j;
      t.kind = TokKind::kInt;
      t.text = std::string(src.substr(i, j - i));
      advance(j - i);
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < src.size() && src[j] != '"') {
        if (src[j] == '\\') ++j;
        ++j;
      }
      if (j >= src.size())
        return SyntaxError(file, t.loc, "unterminated string");
      t.kind = TokKind::kString;
      t.text = std::string(src.substr(i + 1, j - i - 1));
      advance(j + 1 - i);
    } else {
      static constexpr std::string_view kTwo[] = {
          "==", "!=", "<=", ">=", "&&", "||", "::"};
      t.kind = TokKind::kPunct;
      std::string_view next2 = src.substr(i, 2);
      for (std::string_view two : kTwo) {
        if (next2 == two) t.text.assign(two.data(), two.size());
      }
      if (t.text.empty()) {
        static const std::string_view kOne = "(){}[],;.:@!<>+-*?=/%|&";
        if (kOne.find(c) == std::string_view::npos) {
          return SyntaxError(
              file, t.loc,
              absl::StrCat("unexpected character '",
                           EscapeString(std::string(1, c)), "'"));
        }
        t.text = std::string(1, c);
      }
      advance(t.text.size());
    }
    toks.push_back(std::move(t));
  }
  Token eof;
  eof.kind = TokKind::kEof;
  eof.loc = {line, col};
  toks.push_back(eof);
  return toks;
}

std::string Describe(const Token& t) {
  switch (t.kind) {
    case TokKind::kEof:
      return "end of input";
    case TokKind::kString:
      return "string \"" + t.text + "\"";
    case TokKind::kInt:
      return "integer " + t.text;
    default:
      return "'" + t.text + "'";
  }
}

TokenCursor::TokenCursor(std::vector<Token> toks, std::string_view file)
    : toks_(std::move(toks)), file_(file) {}

const Token& TokenCursor::Peek(size_t ahead) const {
  size_t i = pos_ + ahead;
  return i < toks_.size() ? toks_[i] : toks_.back();
}

const Token& TokenCursor::Next() {
  const Token& t = Peek();
  if (pos_ < toks_.size() - 1) ++pos_;
  return t;
}

bool TokenCursor::IsPunct(std::string_view p, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.kind == TokKind::kPunct && t.text == p;
}

bool TokenCursor::IsIdent(std::string_view w, size_t ahead) const {
  const Token& t = Peek(ahead);
  return t.kind == TokKind::kIdent && t.text == w;
}

absl::Status TokenCursor::Expected(std::string_view what) const {
  return SyntaxError(
      file_, Peek().loc,
      absl::StrCat("expected ", Av(what), ", found ", Describe(Peek())));
}

absl::Status TokenCursor::ExpectPunct(std::string_view p) {
  if (!IsPunct(p)) return Expected(absl::StrCat("'", Av(p), "'"));
  Next();
  return absl::OkStatus();
}

absl::Status TokenCursor::ExpectIdent(std::string_view w) {
  if (!IsIdent(w)) return Expected(absl::StrCat("'", Av(w), "'"));
  Next();
  return absl::OkStatus();
}

absl::StatusOr<std::string> TokenCursor::String(std::string_view what) {
  if (Peek().kind != TokKind::kString) return Expected(what);
  const Token& t = Next();
  auto s = Unescape(t.text);
  if (!s.ok()) return SyntaxError(file_, t.loc, Sv(s.status().message()));
  return s;
}

}  // namespace aikernel::policy
