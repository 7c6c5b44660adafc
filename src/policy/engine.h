// aikernel's Cedar engine: the one header the kernel includes.
//
// What it is: a native implementation of the Cedar policy language — policy
// parser (parser.h), values and extension types decimal/ipaddr/datetime/
// duration (value.h, extensions.h), evaluator (evaluator.h), entity store and
// Cedar's JSON formats (entities.h, json.h), the Cedar schema format as far
// as reading entities and contexts needs it (schema.h), a scope-indexed
// policy set (policy_set.h) and the authorizer (authorizer.h).
//
// Use:
//   PolicySet ps;  AIK_RETURN_IF_ERROR(ps.AddText(text, "tools.cedar"));
//   AIK_ASSIGN_OR_RETURN(Entities es, EntitiesFromJsonText(json));
//   Request req{principal, action, resource, context};
//   Response r = Authorize(ps, req, es);   // r.decision, r.reasons, r.errors
//
// Per call, layer the calling agent over the shared store without copying
// it: Entities call(shared_base); call.Add(agent); call.Finalize(). With a
// schema, ValidateRequest(schema, p, a, r, context) checks a request first.
//
// Thread-safety: parsed PolicySet, Entities and Schema are immutable once
// built and may be shared by reference (or shared_ptr<const>) across threads;
// Authorize is reentrant. Ownership: every object owns its data; nothing
// borrows past a call except Evaluator (see evaluator.h).
//
// Failure: loading (parse, JSON, schema) returns absl::Status with
// "file:line:col: expected X, found Y" for syntax errors and leaves the
// target unchanged; a decision cannot fail — evaluation errors are reported
// per policy in Response::errors and such policies are skipped, so the
// default is Deny (the kernel treats any load error as "keep the old set").
// No exceptions are thrown; no gRPC or protobuf types appear here.
#pragma once

#include "policy/authorizer.h"
#include "policy/entities.h"
#include "policy/evaluator.h"
#include "policy/json.h"
#include "policy/parser.h"
#include "policy/policy_set.h"
#include "policy/schema.h"
#include "policy/value.h"
