// aictl identity bundle | rotate-ca: the node's trust bundle and CA rotation
// (the Identity service).
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/session.h"
#include "cli/timeparse.h"

namespace aikernel::cli {

namespace {

std::string Rfc3339(Timestamp t) {
  return FormatRfc3339(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch())
                           .count(),
                       0);
}

nlohmann::ordered_json BundleJson(const TrustBundle& b) {
  nlohmann::ordered_json cas = nlohmann::ordered_json::array();
  for (const CertificateAuthority& ca : b.cas) {
    nlohmann::ordered_json c = {{"kid", ca.kid},
                                {"active", ca.active},
                                {"not_before", Rfc3339(ca.not_before)},
                                {"not_after", Rfc3339(ca.not_after)}};
    if (ca.retired_at) c["retired_at"] = Rfc3339(*ca.retired_at);
    if (ca.issued_until) c["issued_until"] = Rfc3339(*ca.issued_until);
    cas.push_back(std::move(c));
  }
  nlohmann::ordered_json jwks = nlohmann::ordered_json::parse(b.jwks_json, nullptr, false);
  return {{"trust_domain", b.trust_domain},
          {"cas", cas},
          {"pem", b.pem},
          {"jwks", jwks.is_discarded() ? nlohmann::ordered_json(b.jwks_json) : jwks},
          {"audit_sequence", b.audit_sequence}};
}

struct BundleArgs {
  bool jwks = false;
  bool spiffe = false;
};

int RunBundle(const Globals& g, const BundleArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->FetchTrustBundle();
  if (!r.ok()) return Report("identity bundle", r.status());
  if (g.json) {
    std::cout << DumpJson(BundleJson(*r), 2) << "\n";
  } else if (a.jwks) {
    std::cout << r->jwks_json << "\n";
  } else if (a.spiffe) {
    std::cout << r->spiffe_bundle_json << "\n";
  } else {
    // Exactly the PEM certificates, so the output works as a CA file:
    //   openssl verify -CAfile <(aictl identity bundle) svid.pem
    std::cout << r->pem;
  }
  return kExitOk;
}

int RunRotate(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->RotateCA();
  if (!r.ok()) return Report("identity rotate-ca", r.status());
  if (g.json) {
    std::cout << DumpJson({{"kid", r->kid},
                           {"previous_kid", r->previous_kid},
                           {"bundle", BundleJson(r->bundle)},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
    return kExitOk;
  }
  Table t({"KID", "STATE", "NOT AFTER", "IN BUNDLE UNTIL"});
  for (const CertificateAuthority& ca : r->bundle.cas) {
    t.AddRow({ca.kid, ca.active ? "active" : "retired", Rfc3339(ca.not_after),
              ca.active ? "-" : (ca.issued_until ? Rfc3339(*ca.issued_until) : "-")});
  }
  bool previous_kept = false;
  for (const CertificateAuthority& ca : r->bundle.cas) previous_kept |= ca.kid == r->previous_kid;
  std::cout << "rotated the node CA of " << r->bundle.trust_domain << ": " << r->kid
            << " signs now; " << r->previous_kid
            << (previous_kept
                    ? " is retired and stays in the bundle while what it issued is unexpired\n"
                    : " is retired and left the bundle (nothing it issued is unexpired)\n")
            << "audit record #" << r->audit_sequence << "\n\n"
            << t.Render();
  return kExitOk;
}

}  // namespace

void AddIdentityCommands(CLI::App& identity, Context& ctx) {
  auto bundle_args = std::make_shared<BundleArgs>();
  CLI::App* bundle = identity.add_subcommand(
      "bundle",
      "Print the node's trust bundle: the CA certificates (PEM) that SVIDs chain to, the active "
      "CA and retired ones still in overlap (Identity.TrustBundle; public, allowed for "
      "everyone). Use it as a CA file: openssl verify -CAfile <(aictl identity bundle) svid.pem");
  auto* jwks = bundle->add_flag("--jwks", bundle_args->jwks,
                                "Print the same keys as a JWK Set, for JWT libraries");
  bundle->add_flag("--spiffe", bundle_args->spiffe,
                   "Print the same keys in the SPIFFE bundle format (federation)")
      ->excludes(jwks);
  bundle->footer(kGlobalFooter);
  bundle->callback([&ctx, bundle_args] { ctx.exit_code = RunBundle(ctx.globals, *bundle_args); });

  CLI::App* rotate = identity.add_subcommand(
      "rotate-ca",
      "Make a new node CA the signer. The old CA signs nothing more but stays in the bundle "
      "until the last SVID it issued expires (Identity.RotateCA; operators only)");
  rotate->footer(kGlobalFooter);
  rotate->callback([&ctx] { ctx.exit_code = RunRotate(ctx.globals); });
}

}  // namespace aikernel::cli
