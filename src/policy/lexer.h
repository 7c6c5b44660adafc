// The Cedar tokenizer, shared by the policy parser and the schema parser.
//
// Tokenize splits source text into tokens with 1-based line and column, or
// returns InvalidArgument "file:line:col: message" for an unterminated string
// or a character that cannot start a token. String tokens keep their raw
// (still escaped) text; Unescape turns it into bytes, with `\*` allowed only
// for `like` patterns. Pure functions, thread-safe.
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

}  // namespace aikernel::policy
