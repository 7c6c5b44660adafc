// aictl audit verify: offline verification of a ledger file with
// audit::Verify (aik_audit). Talks to no daemon; needs read access to the file.
// This file includes daemon headers (src/audit), never the SDK.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/cli.h"
#include "cli/format.h"

#ifdef AICTL_HAVE_AUDIT
#include "audit/verify.h"
#endif

namespace aikernel::cli {

namespace {

struct VerifyArgs {
  std::string state_dir = "/var/lib/aikernel";
  std::string db;
  std::string pubkey;
};

bool Exists(const std::string& path) {
  struct stat sb;
  return ::stat(path.c_str(), &sb) == 0;
}

int RunVerify(const Globals& g, const VerifyArgs& a) {
  const std::string db = a.db.empty() ? a.state_dir + "/audit.db" : a.db;
  std::string pubkey = a.pubkey;
  if (pubkey.empty() && Exists(a.state_dir + "/keys/node.pub")) pubkey = a.state_dir + "/keys/node.pub";

  struct stat sb;
  if (::stat(db.c_str(), &sb) != 0) {
    std::cerr << "aictl: audit verify: cannot open ledger " << db << ": " << std::strerror(errno)
              << (a.db.empty() ? " (see --db, --state-dir)" : "") << "\n";
    return kExitError;
  }
  std::string pem;
  if (!pubkey.empty()) {
    std::ifstream in(pubkey);
    if (!in) {
      std::cerr << "aictl: audit verify: cannot read public key " << pubkey << ": "
                << std::strerror(errno) << " (see --pubkey)\n";
      return kExitError;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    pem = ss.str();
  }
#ifndef AICTL_HAVE_AUDIT
  (void)g;
  std::cerr << "aictl: audit verify: this aictl was built without the audit library (aik_audit)\n";
  return kExitError;
#else
  audit::VerifyOptions opts;
  opts.db_path = db;
  opts.public_key_pem = pem;
  auto result = audit::Verify(opts);
  if (!result.ok()) {
    std::cerr << "aictl: audit verify: cannot read ledger " << db << ": "
              << result.status().message() << "\n";
    return kExitError;
  }
  const audit::VerifyReport& r = *result;
  if (g.json) {
    nlohmann::ordered_json j = {
        {"ok", r.ok},
        {"db", db},
        {"pubkey", pubkey.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(pubkey)},
        {"key_from_ledger", r.key_from_ledger},
        {"records", r.records},
        {"checkpoints", r.checkpoints},
        {"head_sequence", r.head_sequence},
        {"head_hash", r.head_hash_hex},
    };
    if (!r.ok) {
      j["first_bad_sequence"] = r.first_bad_sequence;
      j["error"] = r.error;
    }
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    std::string key = r.key_from_ledger ? "the key recorded in the ledger itself" : pubkey;
    std::cout << RenderFields({
        {"ledger", db},
        {"records", std::to_string(r.records)},
        {"head", r.head_sequence == 0 ? "empty"
                                      : "#" + std::to_string(r.head_sequence) + "  " +
                                            r.head_hash_hex},
        {"checkpoints", std::to_string(r.checkpoints) + " verified"},
        {"key", key},
    });
    if (r.ok) std::cout << "OK: hash chain and checkpoint signatures verify\n";
  }
  if (r.key_from_ledger) {
    std::cerr << "aictl: audit verify: note: no public key given (--pubkey) and none at "
              << a.state_dir << "/keys/node.pub; checkpoints were checked against the key the "
              << "ledger records, which proves consistency, not origin\n";
  }
  if (!r.ok) {
    std::cerr << "aictl: audit verify: ledger " << db << " FAILED verification";
    if (r.first_bad_sequence != 0) std::cerr << " at sequence " << r.first_bad_sequence;
    std::cerr << ": " << r.error << "\n";
    return kExitError;
  }
  return kExitOk;
#endif
}

}  // namespace

void AddVerifyCommand(CLI::App& audit, Context& ctx) {
  auto args = std::make_shared<VerifyArgs>();
  CLI::App* v = audit.add_subcommand(
      "verify",
      "Verify a ledger file offline, without the daemon: sequence numbers without gaps, the "
      "hash chain, every record's hash, every checkpoint's signature, and that every time mark "
      "bounds its block's times (what time queries rely on). On failure prints the "
      "first bad sequence and the reason, and exits 1");
  v->add_option("--state-dir", args->state_dir, "The daemon's state directory")
      ->type_name("DIR")
      ->capture_default_str();
  v->add_option("--db", args->db, "Ledger file (default: <state-dir>/audit.db)")
      ->type_name("FILE");
  v->add_option("--pubkey", args->pubkey,
                "Node public key (PEM) that signs checkpoints (default: <state-dir>/keys/node.pub "
                "if it exists, else the key recorded in the ledger)")
      ->type_name("FILE");
  v->footer("Global options: --json. Exit codes: 0 the ledger verifies, 1 it does not (or "
            "cannot be read), 2 usage.");
  v->callback([&ctx, args] { ctx.exit_code = RunVerify(ctx.globals, *args); });
}

}  // namespace aikernel::cli
