// Recursive-descent parser over the token stream of lexer.h.
//
//   Policy   := Annot* ('permit'|'forbid') '(' Scope ')' Cond* ';'
//   Expr     := 'if' Expr 'then' Expr 'else' Expr | Or
//   Or       := And ('||' And)*
//   And      := Rel ('&&' Rel)*
//   Rel      := Add [RelOp Add | 'has' Name('.'Name)* | 'like' Str
//                    | 'is' Path ['in' Add]]
//   Add      := Mul (('+'|'-') Mul)*
//   Mul      := Unary ('*' Unary)*
//   Unary    := ('!'|'-')* Member
//   Member   := Primary ('.' Ident ['(' Args ')'] | '[' Str ']')*
#include "policy/parser.h"

#include <algorithm>
#include <limits>

#include "policy/lexer.h"

namespace aikernel::policy {

namespace {

bool IsReserved(std::string_view s) {
  return s == "true" || s == "false" || s == "if" || s == "then" ||
         s == "else" || s == "in" || s == "is" || s == "like" || s == "has" ||
         s == "__cedar";
}

// Deepest expression tree accepted. Chains such as `a && b && ...` or
// `x.a.b...` grow the tree without nesting parentheses, so depth is tracked
// per node and checked as chains are built; evaluation and destruction
// recurse over it, so this bounds their stack use.
constexpr int kMaxAstDepth = 1024;

void SetDepth(Expr& e) {
  int d = 0;
  for (const ExprPtr& k : e.kids) d = std::max(d, k->depth);
  e.depth = d + 1;
}

ExprPtr Make(ExprKind k, SourceLoc loc, std::vector<ExprPtr> kids = {}) {
  auto e = std::make_shared<Expr>();
  e->kind = k;
  e->loc = loc;
  e->kids = std::move(kids);
  SetDepth(*e);
  return e;
}

ExprPtr Lit(Value v, SourceLoc loc) {
  auto e = std::make_shared<Expr>();
  e->kind = ExprKind::kLit;
  e->lit = std::move(v);
  e->loc = loc;
  return e;
}

class Parser : private TokenCursor {
 public:
  Parser(std::vector<Token> toks, std::string_view file)
      : TokenCursor(std::move(toks), file) {}

  absl::StatusOr<std::vector<Policy>> Policies(const ParseOptions& opt) {
    std::vector<Policy> out;
    int n = opt.first_index;
    while (Peek().kind != TokKind::kEof) {
      AIK_ASSIGN_OR_RETURN(Policy p, OnePolicy());
      const std::string* id =
          opt.use_id_annotation ? p.Annotation("id") : nullptr;
      p.id = id ? *id : opt.id_prefix + std::to_string(n);
      ++n;
      out.push_back(std::move(p));
    }
    return out;
  }

  absl::StatusOr<ExprPtr> WholeExpr() {
    AIK_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr());
    if (Peek().kind != TokKind::kEof) return Expected("end of expression");
    return e;
  }

 private:
  absl::StatusOr<Policy> OnePolicy() {
    Policy p;
    p.file = std::string(file());
    p.loc = Peek().loc;
    while (IsPunct("@")) {
      Next();
      if (Peek().kind != TokKind::kIdent) return Expected("an annotation name");
      const Token& name = Next();
      std::string value;
      if (IsPunct("(")) {
        Next();
        AIK_ASSIGN_OR_RETURN(value, String("a string literal"));
        AIK_RETURN_IF_ERROR(ExpectPunct(")"));
      }
      if (p.Annotation(name.text) != nullptr) {
        return SyntaxError(file(), name.loc,
                           absl::StrCat("duplicate annotation @", name.text));
      }
      p.annotations.emplace_back(name.text, std::move(value));
    }
    if (IsIdent("permit")) {
      p.effect = Effect::kPermit;
    } else if (IsIdent("forbid")) {
      p.effect = Effect::kForbid;
    } else {
      return Expected("'permit' or 'forbid'");
    }
    Next();
    AIK_RETURN_IF_ERROR(ExpectPunct("("));
    AIK_RETURN_IF_ERROR(ExpectIdent("principal"));
    AIK_ASSIGN_OR_RETURN(p.principal, Scope(false));
    AIK_RETURN_IF_ERROR(ExpectPunct(","));
    AIK_RETURN_IF_ERROR(ExpectIdent("action"));
    AIK_ASSIGN_OR_RETURN(p.action, Scope(true));
    AIK_RETURN_IF_ERROR(ExpectPunct(","));
    AIK_RETURN_IF_ERROR(ExpectIdent("resource"));
    AIK_ASSIGN_OR_RETURN(p.resource, Scope(false));
    AIK_RETURN_IF_ERROR(ExpectPunct(")"));
    while (IsIdent("when") || IsIdent("unless")) {
      Condition c;
      c.when = Next().text == "when";
      AIK_RETURN_IF_ERROR(ExpectPunct("{"));
      if (IsPunct("}")) return Expected("an expression");
      AIK_ASSIGN_OR_RETURN(c.body, ParseExpr());
      AIK_RETURN_IF_ERROR(ExpectPunct("}"));
      p.conditions.push_back(std::move(c));
    }
    p.end = Peek().loc;
    AIK_RETURN_IF_ERROR(ExpectPunct(";"));
    return p;
  }

  // In the action scope every entity must be an action (type `Action` or
  // `Ns::Action`), as Cedar requires.
  absl::StatusOr<EntityUid> ScopeRef(bool action) {
    SourceLoc loc = Peek().loc;
    AIK_ASSIGN_OR_RETURN(EntityUid u, EntityRef());
    if (action && u.type != "Action" && !u.type.ends_with("::Action")) {
      return SyntaxError(file(), loc,
                         absl::StrCat("expected an action entity (type "
                                      "Action), found ",
                                      u.ToString()));
    }
    return u;
  }

  absl::StatusOr<ScopeConstraint> Scope(bool action) {
    ScopeConstraint c;
    if (IsPunct("==")) {
      Next();
      c.op = ScopeConstraint::Op::kEq;
      AIK_ASSIGN_OR_RETURN(c.uid, ScopeRef(action));
    } else if (IsIdent("in")) {
      Next();
      if (action && IsPunct("[")) {
        Next();
        c.op = ScopeConstraint::Op::kInSet;
        while (!IsPunct("]")) {
          AIK_ASSIGN_OR_RETURN(EntityUid u, ScopeRef(action));
          c.uids.push_back(std::move(u));
          if (!IsPunct(",")) break;
          Next();
        }
        AIK_RETURN_IF_ERROR(ExpectPunct("]"));
      } else {
        c.op = ScopeConstraint::Op::kIn;
        AIK_ASSIGN_OR_RETURN(c.uid, ScopeRef(action));
      }
    } else if (!action && IsIdent("is")) {
      Next();
      c.op = ScopeConstraint::Op::kIs;
      AIK_ASSIGN_OR_RETURN(c.type, Path());
      if (IsIdent("in")) {
        Next();
        c.op = ScopeConstraint::Op::kIsIn;
        AIK_ASSIGN_OR_RETURN(c.uid, EntityRef());
      }
    }
    return c;
  }

  // Path := Ident ('::' Ident)*, stopping before '::' String.
  absl::StatusOr<std::string> Path() {
    if (Peek().kind != TokKind::kIdent || IsReserved(Peek().text))
      return Expected("an entity type name");
    std::string path = Next().text;
    while (IsPunct("::") && Peek(1).kind == TokKind::kIdent) {
      Next();
      AIK_ASSIGN_OR_RETURN(std::string part, Identifier("a type name"));
      path += "::" + part;
    }
    return path;
  }

  // An identifier that is not one of Cedar's reserved words.
  absl::StatusOr<std::string> Identifier(std::string_view what) {
    if (Peek().kind != TokKind::kIdent || IsReserved(Peek().text))
      return Expected(what);
    return Next().text;
  }

  absl::StatusOr<EntityUid> EntityRef() {
    if (IsPunct("?")) {
      return SyntaxError(file(), Peek().loc,
                         "templates (slots such as ?principal) are not "
                         "supported");
    }
    AIK_ASSIGN_OR_RETURN(std::string type, Path());
    AIK_RETURN_IF_ERROR(ExpectPunct("::"));
    AIK_ASSIGN_OR_RETURN(std::string id, String("a string literal"));
    return EntityUid{std::move(type), std::move(id)};
  }

  absl::StatusOr<ExprPtr> ParseExpr() {
    // Bounded nesting keeps recursion (here and in the evaluator) well
    // inside any thread's stack, whatever the input.
    if (depth_ >= kMaxDepth) {
      return SyntaxError(file(), Peek().loc,
                         absl::StrCat("expression nested more than ", kMaxDepth,
                                      " levels deep"));
    }
    ++depth_;
    absl::StatusOr<ExprPtr> e = ParseExprInner();
    --depth_;
    return e;
  }

  absl::StatusOr<ExprPtr> ParseExprInner() {
    if (IsIdent("if")) {
      SourceLoc loc = Next().loc;
      AIK_ASSIGN_OR_RETURN(ExprPtr c, ParseExpr());
      AIK_RETURN_IF_ERROR(ExpectIdent("then"));
      AIK_ASSIGN_OR_RETURN(ExprPtr a, ParseExpr());
      AIK_RETURN_IF_ERROR(ExpectIdent("else"));
      AIK_ASSIGN_OR_RETURN(ExprPtr b, ParseExpr());
      return Make(ExprKind::kIf, loc, {c, a, b});
    }
    return Or();
  }

  absl::StatusOr<ExprPtr> Or() {
    AIK_ASSIGN_OR_RETURN(ExprPtr e, And());
    while (IsPunct("||")) {
      SourceLoc loc = Next().loc;
      AIK_ASSIGN_OR_RETURN(ExprPtr r, And());
      e = Make(ExprKind::kOr, loc, {e, r});
      AIK_RETURN_IF_ERROR(DepthOk(*e));
    }
    return e;
  }

  absl::StatusOr<ExprPtr> And() {
    AIK_ASSIGN_OR_RETURN(ExprPtr e, Rel());
    while (IsPunct("&&")) {
      SourceLoc loc = Next().loc;
      AIK_ASSIGN_OR_RETURN(ExprPtr r, Rel());
      e = Make(ExprKind::kAnd, loc, {e, r});
      AIK_RETURN_IF_ERROR(DepthOk(*e));
    }
    return e;
  }

  absl::StatusOr<ExprPtr> Rel() {
    AIK_ASSIGN_OR_RETURN(ExprPtr e, Add());
    SourceLoc loc = Peek().loc;
    static const struct {
      const char* op;
      ExprKind kind;
    } kOps[] = {{"==", ExprKind::kEq}, {"!=", ExprKind::kNe},
                {"<", ExprKind::kLt},  {"<=", ExprKind::kLe},
                {">", ExprKind::kGt},  {">=", ExprKind::kGe}};
    for (const auto& op : kOps) {
      if (IsPunct(op.op)) {
        Next();
        AIK_ASSIGN_OR_RETURN(ExprPtr r, Add());
        return Make(op.kind, loc, {e, r});
      }
    }
    if (IsPunct("=")) return Expected("'==' (Cedar has no assignment)");
    if (IsIdent("in")) {
      Next();
      AIK_ASSIGN_OR_RETURN(ExprPtr r, Add());
      return Make(ExprKind::kIn, loc, {e, r});
    }
    if (IsIdent("has")) {
      Next();
      // `e has a.b.c` means `e has a && e.a has b && e.a.b has c`.
      std::vector<std::string> names;
      AIK_ASSIGN_OR_RETURN(std::string first, AttrName());
      names.push_back(std::move(first));
      while (IsPunct(".") && Peek(1).kind == TokKind::kIdent) {
        Next();
        AIK_ASSIGN_OR_RETURN(std::string n, Identifier("an attribute name"));
        names.push_back(std::move(n));
      }
      ExprPtr result;
      ExprPtr base = e;
      for (const std::string& n : names) {
        auto has = std::make_shared<Expr>();
        has->kind = ExprKind::kHas;
        has->loc = loc;
        has->name = n;
        has->kids = {base};
        SetDepth(*has);
        result = result ? Make(ExprKind::kAnd, loc, {result, has}) : has;
        AIK_RETURN_IF_ERROR(DepthOk(*result));
        auto get = std::make_shared<Expr>();
        get->kind = ExprKind::kGetAttr;
        get->loc = loc;
        get->name = n;
        get->kids = {base};
        SetDepth(*get);
        base = get;
        AIK_RETURN_IF_ERROR(DepthOk(*get));
      }
      return result;
    }
    if (IsIdent("like")) {
      Next();
      if (Peek().kind != TokKind::kString) return Expected("a pattern string");
      const Token& t = Next();
      auto pat = UnescapePattern(t.text);
      if (!pat.ok())
        return SyntaxError(file(), t.loc, Sv(pat.status().message()));
      auto like = std::make_shared<Expr>();
      like->kind = ExprKind::kLike;
      like->loc = loc;
      like->pattern = std::move(*pat);
      like->kids = {e};
      SetDepth(*like);
      return ExprPtr(like);
    }
    if (IsIdent("is")) {
      Next();
      AIK_ASSIGN_OR_RETURN(std::string type, Path());
      auto is = std::make_shared<Expr>();
      is->kind = ExprKind::kIs;
      is->loc = loc;
      is->name = std::move(type);
      is->kids = {e};
      SetDepth(*is);
      if (IsIdent("in")) {
        Next();
        AIK_ASSIGN_OR_RETURN(ExprPtr r, Add());
        return Make(ExprKind::kAnd, loc,
                    {ExprPtr(is), Make(ExprKind::kIn, loc, {e, r})});
      }
      return ExprPtr(is);
    }
    return e;
  }

  absl::StatusOr<std::string> AttrName() {
    if (Peek().kind == TokKind::kString) return String("a string literal");
    return Identifier("an attribute name");
  }

  absl::StatusOr<ExprPtr> Add() {
    AIK_ASSIGN_OR_RETURN(ExprPtr e, Mul());
    while (IsPunct("+") || IsPunct("-")) {
      const Token& t = Next();
      ExprKind k = t.text == "+" ? ExprKind::kAdd : ExprKind::kSub;
      AIK_ASSIGN_OR_RETURN(ExprPtr r, Mul());
      e = Make(k, t.loc, {e, r});
      AIK_RETURN_IF_ERROR(DepthOk(*e));
    }
    return e;
  }

  absl::StatusOr<ExprPtr> Mul() {
    AIK_ASSIGN_OR_RETURN(ExprPtr e, Unary());
    while (IsPunct("*") || IsPunct("/") || IsPunct("%")) {
      if (!IsPunct("*"))
        return SyntaxError(file(), Peek().loc,
                           "Cedar has no division or remainder operator");
      SourceLoc loc = Next().loc;
      AIK_ASSIGN_OR_RETURN(ExprPtr r, Unary());
      e = Make(ExprKind::kMul, loc, {e, r});
      AIK_RETURN_IF_ERROR(DepthOk(*e));
    }
    return e;
  }

  absl::StatusOr<ExprPtr> Unary() {
    std::vector<Token> ops;
    // As in Cedar: one run of `!` or one run of `-`, at most four long.
    while (IsPunct("!") || IsPunct("-")) {
      if (!ops.empty() && Peek().text != ops[0].text) {
        return SyntaxError(file(), Peek().loc,
                           absl::StrCat("unexpected '", Peek().text,
                                        "' after '", ops[0].text, "'"));
      }
      if (ops.size() == 4) {
        return SyntaxError(file(), Peek().loc,
                           absl::StrCat("too many occurrences of '",
                                        Peek().text, "' (at most four)"));
      }
      ops.push_back(Next());
    }
    // A '-' directly before an integer literal makes a negative literal, so
    // that -9223372036854775808 is representable.
    if (!ops.empty() && ops.back().text == "-" &&
        Peek().kind == TokKind::kInt && !IsPunct(".", 1) && !IsPunct("[", 1)) {
      const Token& t = Next();
      AIK_ASSIGN_OR_RETURN(uint64_t n, IntValue(t));
      if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1)
        return SyntaxError(file(), t.loc, "integer literal too large");
      int64_t v =
          n == static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1
              ? std::numeric_limits<int64_t>::min()
              : -static_cast<int64_t>(n);
      ExprPtr e = Lit(Value::Long(v), ops.back().loc);
      ops.pop_back();
      return ApplyUnary(std::move(ops), e);
    }
    AIK_ASSIGN_OR_RETURN(ExprPtr e, Member());
    return ApplyUnary(std::move(ops), e);
  }

  absl::StatusOr<ExprPtr> ApplyUnary(std::vector<Token> ops, ExprPtr e) {
    for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
      e = Make(it->text == "!" ? ExprKind::kNot : ExprKind::kNeg, it->loc, {e});
      AIK_RETURN_IF_ERROR(DepthOk(*e));
    }
    return e;
  }

  absl::Status DepthOk(const Expr& e) const {
    if (e.depth <= kMaxAstDepth) return absl::OkStatus();
    return SyntaxError(
        file(), e.loc,
        absl::StrCat("expression more than ", kMaxAstDepth, " operators deep"));
  }

  absl::StatusOr<uint64_t> IntValue(const Token& t) {
    uint64_t n = 0;
    for (char c : t.text) {
      uint64_t d = c - '0';
      if (n > (std::numeric_limits<uint64_t>::max() - d) / 10)
        return SyntaxError(file(), t.loc, "integer literal too large");
      n = n * 10 + d;
    }
    return n;
  }

  absl::StatusOr<ExprPtr> Member() {
    AIK_ASSIGN_OR_RETURN(ExprPtr e, Primary());
    while (true) {
      if (IsPunct(".")) {
        SourceLoc loc = Next().loc;
        if (Peek().kind != TokKind::kIdent || IsReserved(Peek().text))
          return Expected("an attribute or method name");
        const Token& name = Next();
        if (IsPunct("(")) {
          Next();
          AIK_ASSIGN_OR_RETURN(std::vector<ExprPtr> args, Args(")"));
          AIK_ASSIGN_OR_RETURN(e, MethodCall(name, e, std::move(args)));
        } else {
          auto get = std::make_shared<Expr>();
          get->kind = ExprKind::kGetAttr;
          get->loc = loc;
          get->name = name.text;
          get->kids = {e};
          SetDepth(*get);
          e = get;
        }
      } else if (IsPunct("[")) {
        SourceLoc loc = Next().loc;
        AIK_ASSIGN_OR_RETURN(std::string key, String("a string literal"));
        AIK_RETURN_IF_ERROR(ExpectPunct("]"));
        auto get = std::make_shared<Expr>();
        get->kind = ExprKind::kGetAttr;
        get->loc = loc;
        get->name = std::move(key);
        get->kids = {e};
        SetDepth(*get);
        e = get;
      } else {
        return e;
      }
      AIK_RETURN_IF_ERROR(DepthOk(*e));
    }
  }

  absl::StatusOr<std::vector<ExprPtr>> Args(std::string_view close) {
    std::vector<ExprPtr> args;
    while (!IsPunct(close)) {
      AIK_ASSIGN_OR_RETURN(ExprPtr a, ParseExpr());
      args.push_back(std::move(a));
      if (!IsPunct(",")) break;
      Next();
    }
    AIK_RETURN_IF_ERROR(ExpectPunct(close));
    return args;
  }

  absl::StatusOr<ExprPtr> MethodCall(const Token& name, ExprPtr recv,
                                     std::vector<ExprPtr> args) {
    static const struct {
      const char* name;
      ExprKind kind;
      size_t nargs;
    } kBuiltins[] = {{"contains", ExprKind::kContains, 1},
                     {"containsAll", ExprKind::kContainsAll, 1},
                     {"containsAny", ExprKind::kContainsAny, 1},
                     {"isEmpty", ExprKind::kIsEmpty, 0},
                     {"getTag", ExprKind::kGetTag, 1},
                     {"hasTag", ExprKind::kHasTag, 1}};
    for (const auto& b : kBuiltins) {
      if (name.text == b.name) {
        if (args.size() != b.nargs) {
          return SyntaxError(file(), name.loc,
                             absl::StrCat("method ", b.name, " takes ", b.nargs,
                                          " argument(s), got ", args.size()));
        }
        std::vector<ExprPtr> kids = {recv};
        for (auto& a : args) kids.push_back(std::move(a));
        return Make(b.kind, name.loc, std::move(kids));
      }
    }
    auto info = LookupExtension(name.text);
    if (!info || !info->method) {
      return SyntaxError(file(), name.loc,
                         absl::StrCat("unknown method '", name.text, "'"));
    }
    // Arity is checked when the call is evaluated, as Cedar does.
    auto call = std::make_shared<Expr>();
    call->kind = ExprKind::kExtCall;
    call->ext = info->fn;
    call->loc = name.loc;
    call->kids.push_back(recv);
    for (auto& a : args) call->kids.push_back(std::move(a));
    SetDepth(*call);
    return ExprPtr(call);
  }

  absl::StatusOr<ExprPtr> Primary() {
    const Token& t = Peek();
    SourceLoc loc = t.loc;
    switch (t.kind) {
      case TokKind::kInt: {
        Next();
        AIK_ASSIGN_OR_RETURN(uint64_t n, IntValue(t));
        if (n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          return SyntaxError(file(), loc, "integer literal too large");
        return Lit(Value::Long(static_cast<int64_t>(n)), loc);
      }
      case TokKind::kString: {
        AIK_ASSIGN_OR_RETURN(std::string s, String("a string literal"));
        return Lit(Value::String(std::move(s)), loc);
      }
      case TokKind::kPunct:
        return PrimaryPunct();
      case TokKind::kIdent:
        return PrimaryIdent();
      case TokKind::kEof:
        break;
    }
    return Expected("an expression");
  }

  absl::StatusOr<ExprPtr> PrimaryPunct() {
    SourceLoc loc = Peek().loc;
    if (IsPunct("(")) {
      Next();
      AIK_ASSIGN_OR_RETURN(ExprPtr e, ParseExpr());
      AIK_RETURN_IF_ERROR(ExpectPunct(")"));
      return e;
    }
    if (IsPunct("[")) {
      Next();
      AIK_ASSIGN_OR_RETURN(std::vector<ExprPtr> elems, Args("]"));
      return Make(ExprKind::kSet, loc, std::move(elems));
    }
    if (IsPunct("{")) {
      Next();
      auto rec = std::make_shared<Expr>();
      rec->kind = ExprKind::kRecord;
      rec->loc = loc;
      while (!IsPunct("}")) {
        SourceLoc kloc = Peek().loc;
        AIK_ASSIGN_OR_RETURN(std::string key, AttrName());
        for (const auto& k : rec->keys) {
          if (k == key)
            return SyntaxError(file(), kloc,
                               absl::StrCat("duplicate record key \"",
                                            EscapeString(key), "\""));
        }
        AIK_RETURN_IF_ERROR(ExpectPunct(":"));
        AIK_ASSIGN_OR_RETURN(ExprPtr v, ParseExpr());
        rec->keys.push_back(std::move(key));
        rec->kids.push_back(std::move(v));
        if (!IsPunct(",")) break;
        Next();
      }
      AIK_RETURN_IF_ERROR(ExpectPunct("}"));
      SetDepth(*rec);
      return ExprPtr(rec);
    }
    if (IsPunct("?")) {
      return SyntaxError(file(), loc,
                         "templates (slots such as ?principal) are not "
                         "supported");
    }
    return Expected("an expression");
  }

  absl::StatusOr<ExprPtr> PrimaryIdent() {
    const Token& t = Peek();
    SourceLoc loc = t.loc;
    if (t.text == "true" || t.text == "false") {
      Next();
      return Lit(Value::Bool(t.text == "true"), loc);
    }
    // `if` is an expression, not a primary: `1 + if ...` needs parentheses.
    static const struct {
      const char* name;
      Var var;
    } kVars[] = {{"principal", Var::kPrincipal},
                 {"action", Var::kAction},
                 {"resource", Var::kResource},
                 {"context", Var::kContext}};
    if (!IsPunct("::", 1)) {
      for (const auto& v : kVars) {
        if (t.text == v.name) {
          Next();
          auto e = std::make_shared<Expr>();
          e->kind = ExprKind::kVar;
          e->var = v.var;
          e->loc = loc;
          return ExprPtr(e);
        }
      }
    }
    if (IsReserved(t.text)) return Expected("an expression");
    // Path, then either ::"id" (an entity) or (args) (a function call).
    std::string path = Next().text;
    while (IsPunct("::") && Peek(1).kind == TokKind::kIdent) {
      Next();
      AIK_ASSIGN_OR_RETURN(std::string part, Identifier("a type name"));
      path += "::" + part;
    }
    if (IsPunct("::")) {
      Next();
      AIK_ASSIGN_OR_RETURN(std::string id, String("a string literal"));
      return Lit(Value::Entity(EntityUid{std::move(path), std::move(id)}), loc);
    }
    if (IsPunct("(")) {
      Next();
      AIK_ASSIGN_OR_RETURN(std::vector<ExprPtr> args, Args(")"));
      std::string_view fname = path;
      auto info = LookupExtension(fname);
      if (!info || info->method || fname == "ipaddr") {
        return SyntaxError(file(), loc,
                           absl::StrCat("unknown function '", path, "'"));
      }
      auto call = std::make_shared<Expr>();
      call->kind = ExprKind::kExtCall;
      call->ext = info->fn;
      call->loc = loc;
      call->kids = std::move(args);
      SetDepth(*call);
      return ExprPtr(call);
    }
    return SyntaxError(file(), loc,
                       absl::StrCat("expected an expression, found unknown "
                                    "identifier '",
                                    path, "'"));
  }

  static constexpr int kMaxDepth = 128;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<Policy>> ParsePolicies(std::string_view text,
                                                  std::string_view file,
                                                  const ParseOptions& options) {
  AIK_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(text, file));
  Parser p(std::move(toks), file);
  return p.Policies(options);
}

absl::StatusOr<ExprPtr> ParseExpression(std::string_view text,
                                        std::string_view file) {
  AIK_ASSIGN_OR_RETURN(std::vector<Token> toks, Tokenize(text, file));
  Parser p(std::move(toks), file);
  return p.WholeExpr();
}

}  // namespace aikernel::policy
