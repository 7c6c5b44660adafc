#include "policy/store.h"

#include <openssl/sha.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace aikernel::policy {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return buf.str();
}

class Digest {
 public:
  void Add(std::string_view name, std::string_view data) {
    uint64_t n = name.size(), d = data.size();
    buf_.append(reinterpret_cast<const char*>(&n), sizeof(n));
    buf_.append(name);
    buf_.append(reinterpret_cast<const char*>(&d), sizeof(d));
    buf_.append(data);
  }
  std::string Hex() const {
    unsigned char out[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(buf_.data()), buf_.size(), out);
    static const char* kHex = "0123456789abcdef";
    std::string s;
    for (unsigned char c : out) {
      s += kHex[c >> 4];
      s += kHex[c & 15];
    }
    return s;
  }

 private:
  std::string buf_;
};

// *.cedar files directly in `dir`, sorted by name.
std::vector<fs::path> CedarFiles(const fs::path& dir, std::error_code& ec) {
  std::vector<fs::path> out;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".cedar" && it->is_regular_file()) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status AddFile(const fs::path& path, const std::string& display, PolicySet* set,
                     Digest* digest, PolicyStore* store = nullptr) {
  auto text = ReadWhole(path.string());
  if (!text.ok()) return text.status();
  if (digest != nullptr) digest->Add(display, *text);
  ParseOptions opts;
  opts.id_prefix = path.filename().string() + ":policy";
  opts.use_id_annotation = true;
  AIK_RETURN_IF_ERROR(set->AddText(*text, display, opts));
  if (store != nullptr) store->sources[display] = *std::move(text);
  return absl::OkStatus();
}

// Byte offset of (line, col), both 1-based, col in code points as the lexer
// counts them; npos past the end.
size_t Offset(std::string_view text, SourceLoc loc) {
  size_t i = 0;
  for (int line = 1; line < loc.line; ++line) {
    i = text.find('\n', i);
    if (i == std::string_view::npos) return i;
    ++i;
  }
  for (int col = 1; col < loc.col && i < text.size(); ++col) {
    ++i;
    while (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) ++i;
  }
  return i;
}

}  // namespace

absl::Status AddPolicyPath(const std::string& path, PolicySet* set,
                           std::vector<std::string>* files) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> names = CedarFiles(path, ec);
    if (ec) return absl::NotFoundError(absl::StrCat(path, ": ", ec.message()));
    for (const fs::path& p : names) {
      AIK_RETURN_IF_ERROR(AddFile(p, p.string(), set, nullptr));
      if (files) files->push_back(p.string());
    }
    return absl::OkStatus();
  }
  AIK_RETURN_IF_ERROR(AddFile(path, path, set, nullptr));
  if (files) files->push_back(path);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const PolicyStore>> LoadPolicyStore(const std::string& dir,
                                                                   std::string_view builtin_text) {
  auto store = std::make_shared<PolicyStore>();
  store->dir = dir;
  auto set = std::make_shared<PolicySet>();
  Digest digest;
  if (!builtin_text.empty()) {
    ParseOptions opts;
    opts.id_prefix = "builtin:policy";
    opts.use_id_annotation = true;
    AIK_RETURN_IF_ERROR(set->AddText(builtin_text, "<builtin>", opts));
    digest.Add("<builtin>", builtin_text);
    store->sources["<builtin>"] = std::string(builtin_text);
  }
  std::error_code ec;
  const fs::path root(dir);
  const fs::path pdir = root / "policies";
  if (fs::is_directory(pdir, ec)) {
    std::vector<fs::path> names = CedarFiles(pdir, ec);
    if (ec) return absl::FailedPreconditionError(absl::StrCat(pdir.string(), ": ", ec.message()));
    for (const fs::path& p : names) {
      const std::string display = p.string();
      AIK_RETURN_IF_ERROR(AddFile(p, display, set.get(), &digest, store.get()));
      store->files.push_back("policies/" + p.filename().string());
    }
  }
  const fs::path schema_path = root / "aikernel.cedarschema";
  if (fs::exists(schema_path, ec)) {
    AIK_ASSIGN_OR_RETURN(std::string text, ReadWhole(schema_path.string()));
    digest.Add("aikernel.cedarschema", text);
    AIK_ASSIGN_OR_RETURN(Schema schema, ParseSchema(text, schema_path.string()));
    store->schema = std::make_shared<const Schema>(std::move(schema));
    store->files.push_back("aikernel.cedarschema");
  }
  const fs::path entities_path = root / "entities.json";
  Entities entities;
  if (fs::exists(entities_path, ec)) {
    AIK_ASSIGN_OR_RETURN(std::string text, ReadWhole(entities_path.string()));
    digest.Add("entities.json", text);
    auto parsed = EntitiesFromJsonText(text, store->schema.get());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(entities_path.string(), ": ", parsed.status().message()));
    }
    entities = *std::move(parsed);
    store->files.push_back("entities.json");
  }
  entities.Finalize();
  store->entities = std::make_shared<const Entities>(std::move(entities));
  store->policies = std::move(set);
  store->digest = digest.Hex();
  return std::shared_ptr<const PolicyStore>(std::move(store));
}

std::string PolicySource(const PolicyStore& store, const Policy& p) {
  auto it = store.sources.find(p.file);
  if (it == store.sources.end()) return "";
  const std::string_view text = it->second;
  const size_t begin = Offset(text, p.loc), end = Offset(text, p.end);
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) return "";
  return std::string(text.substr(begin, end - begin + 1));
}

std::vector<std::string> LintPolicies(const PolicySet& set,
                                      const std::vector<std::string>& known_actions) {
  std::vector<std::string> out;
  auto where = [](const Policy& p) {
    return absl::StrCat(p.file, ":", p.loc.line, ":", p.loc.col, ": policy ", p.id, ": ");
  };
  auto check_action = [&](const Policy& p, const EntityUid& uid) {
    if (known_actions.empty() || uid.type != "Action") return;
    if (std::find(known_actions.begin(), known_actions.end(), uid.id) == known_actions.end()) {
      out.push_back(absl::StrCat(where(p), "Action::\"", uid.id,
                                 "\" is not an action aikerneld knows (see docs/policy.md)"));
    }
  };
  for (size_t i = 0; i < set.size(); ++i) {
    const Policy& p = set.policy(i);
    if (p.effect == Effect::kForbid && p.Annotation("approval") != nullptr) {
      out.push_back(where(p) + "@approval on a forbid has no effect (only permits park calls)");
    }
    if (p.action.op == ScopeConstraint::Op::kEq || p.action.op == ScopeConstraint::Op::kIn) {
      check_action(p, p.action.uid);
    }
    for (const EntityUid& u : p.action.uids) check_action(p, u);
    if (p.effect == Effect::kPermit && p.principal.op == ScopeConstraint::Op::kAny &&
        p.action.op == ScopeConstraint::Op::kAny && p.resource.op == ScopeConstraint::Op::kAny &&
        p.conditions.empty()) {
      out.push_back(where(p) + "permits every principal every action on every resource");
    }
  }
  return out;
}

}  // namespace aikernel::policy
