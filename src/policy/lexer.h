// The Cedar tokenizer, shared by the policy parser and the schema parser.
//
// Tokenize splits source text into tokens with 1-based line and column, or
// returns InvalidArgument "file:line:col: message" for an unterminated string
// or a character that cannot start a token. String tokens keep their raw
// (still escaped) text; Unescape turns it into bytes, with `\*` allowed only
// for `like` patterns. Pure functions, thread-safe. TokenCursor walks the
// tokens for a parser.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/ast.h"
#include "policy/strutil.h"

namespace aikernel::policy {

enum class TokKind : uint8_t { kIdent, kString, kInt, kPunct, kEof };

struct Token {
  TokKind kind = TokKind::kEof;
  std::string text;  // identifier, punctuation, raw string body, digits
  SourceLoc loc;
};

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view src,
                                            std::string_view file);

// Unescapes a raw string body. For patterns, an unescaped `*` becomes a
// wildcard element and `\*` a literal star.
absl::StatusOr<std::string> Unescape(std::string_view raw);
absl::StatusOr<std::vector<PatternElem>> UnescapePattern(std::string_view raw);

// "file:line:col: msg"
absl::Status SyntaxError(std::string_view file, SourceLoc loc,
                         std::string_view msg);

// How a token reads in an error message: `end of input`, `string "..."`,
// `integer 12`, or the text in single quotes.
std::string Describe(const Token& t);

// A read position in a token stream from Tokenize (which always ends with a
// kEof token), with the look-ahead and expect helpers the policy parser and
// the schema parser share. Every error is a SyntaxError at a token's
// location. Not thread-safe: one parse at a time.
class TokenCursor {
 public:
  TokenCursor(std::vector<Token> toks, std::string_view file);

  // The token `ahead` places on; the final kEof for any past the end.
  const Token& Peek(size_t ahead = 0) const;
  // The current token; moves on unless it is the final kEof.
  const Token& Next();
  bool IsPunct(std::string_view p, size_t ahead = 0) const;
  bool IsIdent(std::string_view w, size_t ahead = 0) const;
  // "file:line:col: expected <what>, found <Describe(Peek())>".
  absl::Status Expected(std::string_view what) const;
  // Consumes the punctuation `p` (the keyword `w`), or Expected("'p'").
  absl::Status ExpectPunct(std::string_view p);
  absl::Status ExpectIdent(std::string_view w);
  // Consumes a string token and returns it unescaped; Expected(what) if the
  // current token is not a string, the unescape error at its location if it
  // does not unescape.
  absl::StatusOr<std::string> String(std::string_view what);
  std::string_view file() const { return file_; }

 private:
  std::vector<Token> toks_;
  size_t pos_ = 0;
  std::string_view file_;
};

}  // namespace aikernel::policy
