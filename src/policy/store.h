// policy::LoadPolicyStore: the policy store of a config directory, loaded as
// one immutable unit for atomic hot reload.
//
// Layout under `dir` (all optional):
//   policies/*.cedar      policy files, read in name order; ids are the
//                         policy's @id("...") if it has one, else
//                         "<file name>:policy<n>" (n counts from 0 per file)
//   entities.json         Cedar entities (tools, groups, namespaces, ...)
//   aikernel.cedarschema  a Cedar schema; when present, entities.json is read
//                         against it (and must conform)
// `builtin_text` (named "<builtin>") is parsed first, so its ids are
// reserved; the kernel uses it for the rule every daemon has (Whoami).
//
// A missing `dir` or `dir/policies` is not an error: the store then holds
// only the builtin policies (default deny for everything else). Any other
// error -- a parse error (InvalidArgument "<file>:<line>:<col>: ..."), a
// duplicate id across files, bad entities or schema, an unreadable file --
// fails the whole load: there is no partial set.
//
// `digest` is SHA-256 (hex) over every file's relative name and content, in
// load order, so two loads of the same files give the same digest. Pure
// function; the result is immutable and may be shared across threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "policy/engine.h"

namespace aikernel::policy {

struct PolicyStore {
  std::string dir;
  std::shared_ptr<const PolicySet> policies;
  std::shared_ptr<const Entities> entities;  // finalized; base of per-call layers
  std::shared_ptr<const Schema> schema;      // nullptr when none
  std::vector<std::string> files;            // relative names, load order
  std::string digest;                        // hex SHA-256
  // Policy file texts by the name policies carry in Policy::file
  // ("<builtin>" included), for showing a policy's source.
  std::map<std::string, std::string, std::less<>> sources;
};

// The source text of `p` (from its first token to its ';') as loaded into
// `store`; "" if the store has no text for its file.
std::string PolicySource(const PolicyStore& store, const Policy& p);

absl::StatusOr<std::shared_ptr<const PolicyStore>> LoadPolicyStore(
    const std::string& dir, std::string_view builtin_text = "");

// Reads policy files (or directories of *.cedar) into one set, as the store
// does, for offline tools (aictl policy check / eval).
absl::Status AddPolicyPath(const std::string& path, PolicySet* set,
                           std::vector<std::string>* files);

// Lint findings for a parsed set: things that parse but are likely wrong.
// `known_actions` (may be empty: not checked) are the Action ids that exist.
std::vector<std::string> LintPolicies(const PolicySet& set,
                                      const std::vector<std::string>& known_actions);

}  // namespace aikernel::policy
