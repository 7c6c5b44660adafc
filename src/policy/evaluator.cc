#include "policy/evaluator.h"

#include <algorithm>

namespace aikernel::policy {

namespace {

using K = Value::Kind;

absl::Status TypeError(const Expr& e, std::string_view want, const Value& got) {
  return absl::InvalidArgumentError(
      absl::StrCat(e.loc.line, ":", e.loc.col, ": type error: expected ",
                   Av(want), ", got ", KindName(got.kind())));
}

absl::Status EvalError(const Expr& e, std::string_view msg) {
  return absl::InvalidArgumentError(
      absl::StrCat(e.loc.line, ":", e.loc.col, ": ", Av(msg)));
}

}  // namespace

bool ScopeMatches(const ScopeConstraint& c, const EntityUid& uid,
                  const Entities& entities) {
  using Op = ScopeConstraint::Op;
  switch (c.op) {
    case Op::kAny:
      return true;
    case Op::kEq:
      return uid == c.uid;
    case Op::kIn:
      return entities.InHierarchy(uid, c.uid);
    case Op::kInSet:
      for (const EntityUid& u : c.uids)
        if (entities.InHierarchy(uid, u)) return true;
      return false;
    case Op::kIs:
      return uid.type == c.type;
    case Op::kIsIn:
      return uid.type == c.type && entities.InHierarchy(uid, c.uid);
  }
  return false;
}

bool MatchesPattern(std::string_view s, const std::vector<PatternElem>& pat) {
  // Only `*` is special, so literal segments can be placed greedily: the
  // first must be a prefix (unless the pattern starts with `*`), the last a
  // suffix (unless it ends with `*`), the rest found left to right.
  size_t n = pat.size();
  if (n == 0) return s.empty();
  size_t first = 0;
  size_t last = n;
  size_t pos = 0;
  if (!pat[0].star) {
    if (!s.starts_with(pat[0].literal)) return false;
    pos = pat[0].literal.size();
    first = 1;
    if (n == 1) return pos == s.size();
  }
  size_t end = s.size();
  if (!pat[n - 1].star) {
    const std::string& lit = pat[n - 1].literal;
    if (lit.size() > end - pos || !s.ends_with(lit)) return false;
    end -= lit.size();
    last = n - 1;
  }
  for (size_t i = first; i < last; ++i) {
    if (pat[i].star) continue;
    std::string_view window = s.substr(pos, end - pos);
    size_t at = window.find(pat[i].literal);
    if (at == std::string_view::npos) return false;
    pos += at + pat[i].literal.size();
  }
  return pos <= end;
}

Evaluator::Evaluator(const Request& request, const Entities& entities)
    : req_(request),
      entities_(entities),
      principal_(Value::Entity(request.principal)),
      action_(Value::Entity(request.action)),
      resource_(Value::Entity(request.resource)) {}

absl::StatusOr<bool> Evaluator::EvalBool(const Expr& e) {
  AIK_ASSIGN_OR_RETURN(Value v, Eval(e));
  if (!v.is(K::kBool)) return TypeError(e, "bool", v);
  return v.as_bool();
}

absl::StatusOr<bool> Evaluator::Satisfied(const Policy& p) {
  if (!ScopeMatches(p.principal, req_.principal, entities_) ||
      !ScopeMatches(p.action, req_.action, entities_) ||
      !ScopeMatches(p.resource, req_.resource, entities_))
    return false;
  for (const Condition& c : p.conditions) {
    AIK_ASSIGN_OR_RETURN(bool b, EvalBool(*c.body));
    if (b != c.when) return false;
  }
  return true;
}

absl::StatusOr<Value> Evaluator::EvalIn(const Value& lhs, const Value& rhs) {
  const EntityUid& a = lhs.as_entity();
  if (rhs.is(K::kEntity))
    return Value::Bool(entities_.InHierarchy(a, rhs.as_entity()));
  const ValueSet& set = rhs.as_set();
  for (const Value& v : set) {
    if (!v.is(K::kEntity))
      return absl::InvalidArgumentError(
          absl::StrCat("type error: `in` expects a set of entities, found ",
                       KindName(v.kind())));
  }
  for (const Value& v : set)
    if (entities_.InHierarchy(a, v.as_entity())) return Value::Bool(true);
  return Value::Bool(false);
}

absl::StatusOr<Value> Evaluator::EvalAttr(const Expr& e, const Value& base) {
  if (base.is(K::kRecord)) {
    const Record& r = base.as_record();
    auto it = r.find(e.name);
    if (it == r.end())
      return EvalError(e, absl::StrCat("record has no attribute \"",
                                       EscapeString(e.name), "\""));
    return it->second;
  }
  if (base.is(K::kEntity)) {
    const Entities::Node* n = entities_.Find(base.as_entity());
    if (n == nullptr)
      return EvalError(e, absl::StrCat("entity ", base.as_entity().ToString(),
                                       " does not exist"));
    auto it = n->entity.attrs.find(e.name);
    if (it == n->entity.attrs.end())
      return EvalError(
          e, absl::StrCat(base.as_entity().ToString(), " has no attribute \"",
                          EscapeString(e.name), "\""));
    return it->second;
  }
  return TypeError(e, "entity or record", base);
}

absl::StatusOr<Value> Evaluator::Eval(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kLit:
      return e.lit;
    case ExprKind::kVar:
      switch (e.var) {
        case Var::kPrincipal:
          return principal_;
        case Var::kAction:
          return action_;
        case Var::kResource:
          return resource_;
        case Var::kContext:
          return req_.context;
      }
      break;
    case ExprKind::kNot: {
      AIK_ASSIGN_OR_RETURN(bool b, EvalBool(*e.kids[0]));
      return Value::Bool(!b);
    }
    case ExprKind::kNeg: {
      AIK_ASSIGN_OR_RETURN(Value v, Eval(*e.kids[0]));
      if (!v.is(K::kLong)) return TypeError(e, "long", v);
      int64_t r;
      if (__builtin_sub_overflow(int64_t{0}, v.as_long(), &r))
        return EvalError(e, "integer overflow in negation");
      return Value::Long(r);
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      AIK_ASSIGN_OR_RETURN(bool a, EvalBool(*e.kids[0]));
      bool is_and = e.kind == ExprKind::kAnd;
      if (a != is_and) return Value::Bool(a);
      AIK_ASSIGN_OR_RETURN(bool b, EvalBool(*e.kids[1]));
      return Value::Bool(b);
    }
    case ExprKind::kIf: {
      AIK_ASSIGN_OR_RETURN(bool c, EvalBool(*e.kids[0]));
      return Eval(*e.kids[c ? 1 : 2]);
    }
    case ExprKind::kEq:
    case ExprKind::kNe: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      AIK_ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1]));
      return Value::Bool((a == b) == (e.kind == ExprKind::kEq));
    }
    case ExprKind::kLt:
    case ExprKind::kLe:
    case ExprKind::kGt:
    case ExprKind::kGe: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      AIK_ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1]));
      bool comparable =
          a.kind() == b.kind() &&
          (a.is(K::kLong) || a.is(K::kDatetime) || a.is(K::kDuration));
      if (!comparable) {
        return EvalError(
            e, absl::StrCat("type error: cannot compare ", KindName(a.kind()),
                            " with ", KindName(b.kind())));
      }
      int c = Value::Compare(a, b);
      bool r = e.kind == ExprKind::kLt   ? c < 0
               : e.kind == ExprKind::kLe ? c <= 0
               : e.kind == ExprKind::kGt ? c > 0
                                         : c >= 0;
      return Value::Bool(r);
    }
    case ExprKind::kAdd:
    case ExprKind::kSub:
    case ExprKind::kMul: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      AIK_ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1]));
      if (!a.is(K::kLong)) return TypeError(e, "long", a);
      if (!b.is(K::kLong)) return TypeError(e, "long", b);
      int64_t r;
      bool overflow =
          e.kind == ExprKind::kAdd
              ? __builtin_add_overflow(a.as_long(), b.as_long(), &r)
          : e.kind == ExprKind::kSub
              ? __builtin_sub_overflow(a.as_long(), b.as_long(), &r)
              : __builtin_mul_overflow(a.as_long(), b.as_long(), &r);
      if (overflow) return EvalError(e, "integer overflow");
      return Value::Long(r);
    }
    case ExprKind::kIn: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      AIK_ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1]));
      if (!a.is(K::kEntity)) return TypeError(e, "entity", a);
      if (!b.is(K::kEntity) && !b.is(K::kSet))
        return TypeError(e, "entity or set", b);
      return EvalIn(a, b);
    }
    case ExprKind::kHas: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      if (a.is(K::kRecord)) return Value::Bool(a.as_record().contains(e.name));
      if (a.is(K::kEntity)) {
        const Entities::Node* n = entities_.Find(a.as_entity());
        return Value::Bool(n != nullptr && n->entity.attrs.contains(e.name));
      }
      return TypeError(e, "entity or record", a);
    }
    case ExprKind::kGetAttr: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      return EvalAttr(e, a);
    }
    case ExprKind::kLike: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      if (!a.is(K::kString)) return TypeError(e, "string", a);
      return Value::Bool(MatchesPattern(a.as_string(), e.pattern));
    }
    case ExprKind::kIs: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      if (!a.is(K::kEntity)) return TypeError(e, "entity", a);
      return Value::Bool(a.as_entity().type == e.name);
    }
    case ExprKind::kContains: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      AIK_ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1]));
      if (!a.is(K::kSet)) return TypeError(e, "set", a);
      return Value::Bool(a.SetContains(b));
    }
    case ExprKind::kContainsAll:
    case ExprKind::kContainsAny: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      AIK_ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1]));
      if (!a.is(K::kSet)) return TypeError(e, "set", a);
      if (!b.is(K::kSet)) return TypeError(e, "set", b);
      const ValueSet& bs = b.as_set();
      if (e.kind == ExprKind::kContainsAll) {
        return Value::Bool(
            std::all_of(bs.begin(), bs.end(),
                        [&](const Value& v) { return a.SetContains(v); }));
      }
      return Value::Bool(std::any_of(bs.begin(), bs.end(), [&](const Value& v) {
        return a.SetContains(v);
      }));
    }
    case ExprKind::kIsEmpty: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      if (!a.is(K::kSet)) return TypeError(e, "set", a);
      return Value::Bool(a.as_set().empty());
    }
    case ExprKind::kGetTag:
    case ExprKind::kHasTag: {
      AIK_ASSIGN_OR_RETURN(Value a, Eval(*e.kids[0]));
      AIK_ASSIGN_OR_RETURN(Value b, Eval(*e.kids[1]));
      if (!a.is(K::kEntity)) return TypeError(e, "entity", a);
      if (!b.is(K::kString)) return TypeError(e, "string", b);
      const Entities::Node* n = entities_.Find(a.as_entity());
      bool has_tag = e.kind == ExprKind::kHasTag;
      if (n == nullptr) {
        if (has_tag) return Value::Bool(false);
        return EvalError(e, absl::StrCat("entity ", a.as_entity().ToString(),
                                         " does not exist"));
      }
      auto it = n->entity.tags.find(b.as_string());
      if (has_tag) return Value::Bool(it != n->entity.tags.end());
      if (it == n->entity.tags.end())
        return EvalError(
            e, absl::StrCat(a.as_entity().ToString(), " has no tag \"",
                            EscapeString(b.as_string()), "\""));
      return it->second;
    }
    case ExprKind::kSet: {
      std::vector<Value> elems;
      elems.reserve(e.kids.size());
      for (const ExprPtr& k : e.kids) {
        AIK_ASSIGN_OR_RETURN(Value v, Eval(*k));
        elems.push_back(std::move(v));
      }
      return Value::Set(std::move(elems));
    }
    case ExprKind::kRecord: {
      Record r;
      for (size_t i = 0; i < e.kids.size(); ++i) {
        AIK_ASSIGN_OR_RETURN(Value v, Eval(*e.kids[i]));
        r.emplace(e.keys[i], std::move(v));
      }
      return Value::MakeRecord(std::move(r));
    }
    case ExprKind::kExtCall: {
      Value small[2];
      std::vector<Value> big;
      size_t n = e.kids.size();
      if (n > 2) big.resize(n);
      Value* args = n > 2 ? big.data() : small;
      for (size_t i = 0; i < n; ++i) {
        AIK_ASSIGN_OR_RETURN(args[i], Eval(*e.kids[i]));
      }
      auto r = CallExtension(e.ext, std::span<const Value>(args, n));
      if (!r.ok()) return EvalError(e, Sv(r.status().message()));
      return r;
    }
  }
  return absl::InternalError("unknown expression kind");
}

}  // namespace aikernel::policy
