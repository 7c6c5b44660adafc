// Random Cedar cases for differential testing against the reference engine.
//
// A Case is a handful of policies (text, keyed by id), an entity store (Cedar
// JSON) and requests (Cedar JSON uids and context). The generator is seeded
// and deterministic; it mixes well-typed expressions with deliberately
// ill-typed ones, missing attributes and tags, overflowing arithmetic,
// malformed extension strings and entities that do not exist, so that
// errors and short-circuiting are exercised as much as decisions.
// Not thread-safe (one generator per thread).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace aikernel::policy::difftest {

struct Case {
  std::vector<std::pair<std::string, std::string>> policies;  // id, text
  nlohmann::json entities;                                    // array
  // {principal, action, resource, context}
  std::vector<nlohmann::json> requests;
  std::string schema;  // Cedar schema text, or empty
};

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  Case Next();
  // A case under a fixed schema, with entity and context values written in
  // the implicit forms the schema allows and no action entities (the schema
  // declares them and their hierarchy).
  Case NextWithSchema();

  enum class T {
    kBool,
    kLong,
    kString,
    kEntity,
    kSet,
    kRecord,
    kIp,
    kDecimal,
    kDatetime,
    kDuration
  };
  std::string Expr(T t, int depth);

 private:
  int R(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  bool P(int pct) { return R(100) < pct; }
  template <typename C>
  const auto& Pick(const C& c) {
    return c[R(static_cast<int>(std::size(c)))];
  }
  T AnyType();
  std::string Policy();
  std::string Scope(const char* var, const char* type, const char* group_type);
  nlohmann::json Entities();
  nlohmann::json Request();

  nlohmann::json Ext(const char* fn, const std::string& arg);
  nlohmann::json Ref(const std::string& type, const std::string& id);

  std::mt19937_64 rng_;
  bool schema_mode_ = false;
};

}  // namespace aikernel::policy::difftest
