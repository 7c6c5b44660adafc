#include "kernel/cedar_authorizer.h"

#include "policy/json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <google/protobuf/reflection.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include <spdlog/spdlog.h>

#include "kernel/quota.h"
#include "policy/json.h"

namespace aikernel::kernel {
namespace {

namespace pb = google::protobuf;
using policy::Value;

const Value& RedactedValue() {
  static const Value* v = new Value(Value::String("[redacted]"));
  return *v;
}

Value FieldValue(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f,
                 int index, const CedarAuthorizer::NameSet* redacted);

Value ScalarOrMessage(const pb::Message& m, const pb::Reflection* r,
                      const pb::FieldDescriptor* f, int index,
                      const CedarAuthorizer::NameSet* redacted) {
  const bool rep = index >= 0;
  using T = pb::FieldDescriptor;
  switch (f->cpp_type()) {
    case T::CPPTYPE_INT32:
      return Value::Long(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
    case T::CPPTYPE_INT64:
      return Value::Long(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f));
    case T::CPPTYPE_UINT32:
      return Value::Long(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
    case T::CPPTYPE_UINT64: {
      uint64_t v = rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f);
      return Value::Long(v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                              : static_cast<int64_t>(v));
    }
    case T::CPPTYPE_DOUBLE:
    case T::CPPTYPE_FLOAT: {
      double d = f->cpp_type() == T::CPPTYPE_DOUBLE
                     ? (rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f))
                     : (rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      double scaled = std::round(d * 10000.0);
      if (!std::isfinite(scaled) || std::fabs(scaled) > 9.2e18) return Value::String("nan");
      return Value::Dec(policy::Decimal{static_cast<int64_t>(scaled)});
    }
    case T::CPPTYPE_BOOL:
      return Value::Bool(rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f));
    case T::CPPTYPE_ENUM: {
      const pb::EnumValueDescriptor* e =
          rep ? r->GetRepeatedEnum(m, f, index) : r->GetEnum(m, f);
      return Value::String(e ? e->name() : "");
    }
    case T::CPPTYPE_STRING:
      return Value::String(rep ? r->GetRepeatedString(m, f, index) : r->GetString(m, f));
    case T::CPPTYPE_MESSAGE: {
      const pb::Message& sub = rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f);
      return CedarAuthorizer::MessageToValue(sub, redacted);
    }
  }
  return Value::Bool(false);
}

Value FieldValue(const pb::Message& m, const pb::Reflection* r, const pb::FieldDescriptor* f,
                 int index, const CedarAuthorizer::NameSet* redacted) {
  if (redacted != nullptr && redacted->count(f->name()) != 0 &&
      f->cpp_type() == pb::FieldDescriptor::CPPTYPE_STRING) {
    return RedactedValue();
  }
  return ScalarOrMessage(m, r, f, index, redacted);
}

std::string KeyString(const Value& v) {
  if (v.is(Value::Kind::kString)) return v.as_string();
  if (v.is(Value::Kind::kLong)) return std::to_string(v.as_long());
  if (v.is(Value::Kind::kBool)) return v.as_bool() ? "true" : "false";
  return v.ToString();
}

// JSON -> Cedar: numbers as Long (saturating) or decimal, arrays as sets,
// objects as records; null members are left out (test with `has`). With
// `extn` (context the kernel itself computed, never a caller's args), an
// object {"__extn": {"fn", "arg"}} is that extension value (http.fetch's
// context.http.ip).
Value JsonToValue(const nlohmann::json& j, int depth, bool extn = false) {
  using T = nlohmann::json::value_t;
  if (depth > 64) return Value::String("[too deep]");
  switch (j.type()) {
    case T::boolean: return Value::Bool(j.get<bool>());
    case T::number_integer: return Value::Long(j.get<int64_t>());
    case T::number_unsigned: {
      uint64_t v = j.get<uint64_t>();
      return Value::Long(v > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                              : static_cast<int64_t>(v));
    }
    case T::number_float: {
      double scaled = std::round(j.get<double>() * 10000.0);
      if (!std::isfinite(scaled) || std::fabs(scaled) > 9.2e18) return Value::String("nan");
      return Value::Dec(policy::Decimal{static_cast<int64_t>(scaled)});
    }
    case T::string: return Value::String(j.get<std::string>());
    case T::array: {
      std::vector<Value> elems;
      for (const auto& e : j) elems.push_back(JsonToValue(e, depth + 1, extn));
      return Value::Set(std::move(elems));
    }
    case T::object: {
      if (extn && j.size() == 1 && j.contains("__extn")) {
        absl::StatusOr<Value> v = policy::ValueFromJson(j);
        if (v.ok()) return *std::move(v);
      }
      policy::Record rec;
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (!it.value().is_null()) {
          rec.emplace(it.key(), JsonToValue(it.value(), depth + 1, extn));
        }
      }
      return Value::MakeRecord(std::move(rec));
    }
    default: return Value::String("");
  }
}

}  // namespace

Value CedarAuthorizer::MessageToValue(const pb::Message& m, const NameSet* redacted) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  const std::string& type = d->full_name();
  if (type == "google.protobuf.Timestamp") {
    int64_t s = r->GetInt64(m, d->FindFieldByName("seconds"));
    int32_t n = r->GetInt32(m, d->FindFieldByName("nanos"));
    if (s > INT64_MAX / 1000 - 1 || s < INT64_MIN / 1000 + 1) return Value::String("out of range");
    return Value::Time(policy::Datetime{s * 1000 + n / 1'000'000});
  }
  if (type == "google.protobuf.Duration") {
    int64_t s = r->GetInt64(m, d->FindFieldByName("seconds"));
    int32_t n = r->GetInt32(m, d->FindFieldByName("nanos"));
    if (s > INT64_MAX / 1000 - 1 || s < INT64_MIN / 1000 + 1) return Value::String("out of range");
    return Value::Dur(policy::Duration{s * 1000 + n / 1'000'000});
  }
  policy::Record rec;
  for (int i = 0; i < d->field_count(); ++i) {
    const pb::FieldDescriptor* f = d->field(i);
    if (f->is_map()) {
      policy::Record map;
      const pb::Descriptor* entry = f->message_type();
      const pb::FieldDescriptor* kf = entry->map_key();
      const pb::FieldDescriptor* vf = entry->map_value();
      for (int j = 0, n = r->FieldSize(m, f); j < n; ++j) {
        const pb::Message& e = r->GetRepeatedMessage(m, f, j);
        const pb::Reflection* er = e.GetReflection();
        std::string key = KeyString(ScalarOrMessage(e, er, kf, -1, redacted));
        Value v = redacted != nullptr && redacted->count(key) != 0 ? RedactedValue()
                                                                 : FieldValue(e, er, vf, -1, redacted);
        map.emplace(std::move(key), std::move(v));
      }
      rec.emplace(f->name(), Value::MakeRecord(std::move(map)));
    } else if (f->is_repeated()) {
      std::vector<Value> elems;
      for (int j = 0, n = r->FieldSize(m, f); j < n; ++j) {
        elems.push_back(FieldValue(m, r, f, j, redacted));
      }
      rec.emplace(f->name(), Value::Set(std::move(elems)));
    } else if (f->cpp_type() == pb::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (r->HasField(m, f)) rec.emplace(f->name(), FieldValue(m, r, f, -1, redacted));
    } else if (f->has_presence() && !r->HasField(m, f)) {
      continue;  // unset optional / oneof member
    } else {
      rec.emplace(f->name(), FieldValue(m, r, f, -1, redacted));
    }
  }
  return Value::MakeRecord(std::move(rec));
}

policy::EntityUid CedarAuthorizer::PrincipalUid(const Principal& p) {
  switch (p.kind) {
    case Principal::Kind::kOperator: return {"Operator", std::to_string(p.uid)};
    case Principal::Kind::kUser: return {"User", std::to_string(p.uid)};
    case Principal::Kind::kAgent: return {"Agent", p.spiffe_id};
    case Principal::Kind::kAnonymous: break;
  }
  return {"Anonymous", "anonymous"};
}

CedarAuthorizer::CedarAuthorizer() : redacted_(std::make_shared<NameSet>()) {
  auto s = policy::LoadPolicyStore("", kBuiltinPolicies);
  if (!s.ok()) {
    spdlog::critical("builtin policies do not parse: {}", std::string(s.status().message()));
  } else {
    store_ = *std::move(s);
  }
}

void CedarAuthorizer::Install(std::shared_ptr<const policy::PolicyStore> store) {
  std::lock_guard<std::mutex> lock(mu_);
  store_ = std::move(store);
}

std::shared_ptr<const policy::PolicyStore> CedarAuthorizer::store() const {
  std::lock_guard<std::mutex> lock(mu_);
  return store_;
}

void CedarAuthorizer::SetRedactedFields(const std::vector<std::string>& names) {
  auto set = std::make_shared<NameSet>(names.begin(), names.end());
  std::lock_guard<std::mutex> lock(mu_);
  redacted_ = std::move(set);
}

policy::Request CedarAuthorizer::BuildRequest(const AuthzRequest& req,
                                              policy::Entities* layer) const {
  std::shared_ptr<const NameSet> redacted;
  {
    std::lock_guard<std::mutex> lock(mu_);
    redacted = redacted_;
  }
  const Principal& p = *req.principal;
  policy::Entity pe;
  pe.uid = PrincipalUid(p);
  if (p.kind != Principal::Kind::kAnonymous) {
    pe.attrs.emplace("uid", Value::Long(static_cast<int64_t>(p.uid)));
    pe.attrs.emplace("gid", Value::Long(static_cast<int64_t>(p.gid)));
    pe.attrs.emplace("pid", Value::Long(p.pid));
  }
  if (p.kind == Principal::Kind::kAgent) {
    pe.attrs.emplace("instance", Value::String(p.instance_id));
    pe.attrs.emplace("name", Value::String(p.agent_name));
    // Its own memory namespace, for policies on Memory resources
    // (`resource == principal.memory`).
    if (!p.agent_name.empty()) {
      pe.attrs.emplace("memory", Value::Entity({"Memory", "agent/" + p.agent_name}));
    }
    // Its own SPIFFE ID, for policies on SVIDs (`resource == principal.identity`).
    if (!p.spiffe_id.empty()) {
      pe.attrs.emplace("identity", Value::Entity({"SpiffeId", p.spiffe_id}));
    }
    for (const std::string& g : p.agent_groups) pe.parents.push_back({"Group", g});
  }
  (void)layer->Add(std::move(pe));
  layer->Finalize();

  policy::Record ctx;
  ctx.emplace("args", req.args != nullptr ? MessageToValue(*req.args, redacted.get())
                                          : Value::MakeRecord({}));
  ctx.emplace("node", Value::String(req.node));
  ctx.emplace("time", Value::Time(policy::Datetime{req.time_ns / 1'000'000}));
  ctx.emplace("counters", Value::MakeRecord({{"minute", Value::Long(req.counts.minute)},
                                             {"hour", Value::Long(req.counts.hour)},
                                             {"total", Value::Long(req.counts.total)}}));
  policy::Record budgets;
  for (const QuotaUse& q : req.budgets) {
    budgets.emplace(BudgetKey(q), Value::MakeRecord({{"limit", Value::Long(q.limit)},
                                                     {"used", Value::Long(q.used)},
                                                     {"remaining", Value::Long(q.remaining())}}));
  }
  ctx.emplace("budgets", Value::MakeRecord(std::move(budgets)));
  if (req.extra != nullptr) {
    for (const auto& [name, v] : *req.extra) {
      Value val = std::holds_alternative<bool>(v)      ? Value::Bool(std::get<bool>(v))
                  : std::holds_alternative<int64_t>(v) ? Value::Long(std::get<int64_t>(v))
                                                       : Value::String(std::get<std::string>(v));
      ctx.emplace(name, std::move(val));  // never replaces args, node, time, counters, budgets
    }
  }
  if (req.context != nullptr && req.context->is_object()) {
    for (auto it = req.context->begin(); it != req.context->end(); ++it) {
      // Extension values only where the kernel computed them itself
      // (http.fetch's context.http); args and what peers send stay plain.
      ctx.insert_or_assign(it.key(), JsonToValue(it.value(), 0, it.key() == "http"));
    }
  }
  policy::Request out;
  out.principal = PrincipalUid(p);
  out.action = {"Action", std::string(req.call->action)};
  out.resource = {req.resource.type, req.resource.id};
  out.context = Value::MakeRecord(std::move(ctx));
  return out;
}

Decision CedarAuthorizer::Decide(const AuthzRequest& req) const {
  std::shared_ptr<const policy::PolicyStore> s = store();
  Decision d;
  const std::string who = req.principal->Id();
  const std::string what = absl::StrCat(std::string(req.call->action), " on ", req.resource.type, "::\"",
                                        req.resource.id, "\"");
  if (!s) {
    d.rule_ids = {"default-deny"};
    d.reason = absl::StrCat(who, " may not call ", what, ": no policy set is loaded");
    return d;
  }
  d.policy_set = s->digest;
  policy::Entities layer(s->entities);
  policy::Request creq = BuildRequest(req, &layer);
  policy::Response r = policy::Authorize(*s->policies, creq, layer);
  for (const policy::PolicyError& e : r.errors) {
    d.error_ids.push_back(e.policy_id);
    d.error_messages.push_back(e.message);
  }
  std::string errors;
  if (!r.errors.empty()) {
    errors = " (skipped after an evaluation error: ";
    for (size_t i = 0; i < r.errors.size(); ++i) {
      absl::StrAppend(&errors, i ? "; " : "", r.errors[i].policy_id, ": ", r.errors[i].message);
    }
    errors += ")";
  }
  if (r.decision == policy::Decision::kAllow) {
    d.allow = true;
    d.rule_ids = r.reasons;
    for (const std::string& id : r.reasons) {
      const policy::Policy* p = s->policies->Find(id);
      if (p == nullptr) continue;
      if (const std::string* a = p->Annotation("approval")) {
        d.approval = a->empty() ? std::string("approval required by policy ") + id : *a;
        break;
      }
    }
    return d;
  }
  if (r.reasons.empty()) {
    d.rule_ids = {"default-deny"};
    d.reason = absl::StrCat(who, " may not call ", what,
                            ": no policy permits it (default-deny)", errors);
  } else {
    d.rule_ids = r.reasons;
    std::string ids;
    for (const auto& id : r.reasons) absl::StrAppend(&ids, ids.empty() ? "" : ", ", id);
    d.reason = absl::StrCat(who, " may not call ", what, ": forbidden by policy ", ids, errors);
  }
  return d;
}

}  // namespace aikernel::kernel
