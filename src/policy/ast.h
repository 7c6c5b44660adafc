// The Cedar abstract syntax tree: expressions, scope constraints, policies.
//
// Produced by the parser (parser.h), read by the evaluator and the policy-set
// index. Nodes are immutable after parsing and shared through
// shared_ptr<const Expr>, so a parsed policy can be read concurrently from any
// number of threads. Nothing here can fail.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "policy/extensions.h"
#include "policy/value.h"

namespace aikernel::policy {

struct SourceLoc {
  int line = 0;
  int col = 0;
};

enum class Var : uint8_t { kPrincipal, kAction, kResource, kContext };

enum class ExprKind : uint8_t {
  kLit,       // lit
  kVar,       // var
  kNot,       // !a
  kNeg,       // -a
  kAnd,       // a && b
  kOr,        // a || b
  kIf,        // if a then b else c
  kEq,        // a == b
  kNe,        // a != b
  kLt,        // a < b
  kLe,        // a <= b
  kGt,        // a > b
  kGe,        // a >= b
  kAdd,       // a + b
  kSub,       // a - b
  kMul,       // a * b
  kIn,        // a in b
  kHas,       // a has name
  kGetAttr,   // a.name, a["name"]
  kLike,      // a like pattern
  kIs,        // a is name (an entity type)
  kContains,  // a.contains(b)
  kContainsAll,
  kContainsAny,
  kIsEmpty,
  kGetTag,   // a.getTag(b)
  kHasTag,   // a.hasTag(b)
  kSet,      // [kids...]
  kRecord,   // {keys[i]: kids[i]}
  kExtCall,  // ext(kids...), receiver first for methods
};

// One piece of a `like` pattern: a run of literal bytes, or a wildcard.
struct PatternElem {
  bool star = false;
  std::string literal;
};

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  ExprKind kind = ExprKind::kLit;
  Var var = Var::kPrincipal;
  ExtFn ext = ExtFn::kIp;
  Value lit;
  std::string name;                  // attribute, or entity type for kIs
  std::vector<std::string> keys;     // kRecord keys, parallel to kids
  std::vector<PatternElem> pattern;  // kLike
  std::vector<ExprPtr> kids;
  SourceLoc loc;
  int depth = 1;  // 1 + the deepest kid; the parser bounds it
};

// A scope constraint on principal, action or resource.
struct ScopeConstraint {
  enum class Op : uint8_t {
    kAny,    // no constraint
    kEq,     // == uid
    kIn,     // in uid
    kInSet,  // in [uids] (action only)
    kIs,     // is type
    kIsIn,   // is type in uid
  };
  Op op = Op::kAny;
  EntityUid uid;
  std::vector<EntityUid> uids;
  std::string type;
};

struct Condition {
  bool when = true;  // false: unless
  ExprPtr body;
};

enum class Effect : uint8_t { kPermit, kForbid };

struct Policy {
  std::string id;
  Effect effect = Effect::kPermit;
  std::vector<std::pair<std::string, std::string>> annotations;
  ScopeConstraint principal;
  ScopeConstraint action;
  ScopeConstraint resource;
  std::vector<Condition> conditions;
  std::string file;
  SourceLoc loc;  // its first token (an annotation, or permit/forbid)
  SourceLoc end;  // its closing ';'

  // The value of annotation `key`, or nullptr.
  const std::string* Annotation(std::string_view key) const {
    for (const auto& [k, v] : annotations)
      if (k == key) return &v;
    return nullptr;
  }
};

}  // namespace aikernel::policy
