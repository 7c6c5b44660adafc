// aictl node bundle | node peer add|ls|rm: federation with peer nodes through
// the daemon's Federation service (docs/net.md). Operators only by default.
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/mem_common.h"
#include "cli/session.h"

namespace aikernel::cli {

namespace {

using mem::json;
using mem::Sub;

json PeerJson(const PeerInfo& p) {
  return {{"name", p.name},         {"trust_domain", p.trust_domain}, {"address", p.address},
          {"source", p.source},     {"added_at", mem::Time(p.added_at)},
          {"pending", p.pending},   {"bundle_pem", p.bundle_pem}};
}

int RunBundle(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->FederationBundle();
  if (!r.ok()) return Report("node bundle", r.status());
  if (g.json) {
    std::cout << DumpJson({{"trust_domain", r->trust_domain},
                           {"node_spiffe_id", r->node_spiffe_id},
                           {"listen_address", r->listen_address},
                           {"bundle_pem", r->bundle_pem},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    // The PEM alone on stdout, so `aictl node bundle > node-a.pem` works.
    std::cout << r->bundle_pem;
    std::cerr << "trust domain " << r->trust_domain << ", node " << r->node_spiffe_id
              << (r->listen_address.empty() ? ", peer listener off"
                                            : ", peer listener " + r->listen_address)
              << "\n";
  }
  return kExitOk;
}

struct AddArgs {
  std::string name, address, bundle, trust_domain;
};

int RunAdd(const Globals& g, const AddArgs& a) {
  PeerInfo p;
  p.name = a.name;
  p.address = a.address;
  p.trust_domain = a.trust_domain;
  if (!mem::ReadInput(a.bundle, "node peer add", &p.bundle_pem)) return kExitError;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->AddPeer(p);
  if (!r.ok()) return Report("node peer add", r.status());
  if (g.json) {
    json j = PeerJson(r->peer);
    j["audit_sequence"] = r->audit_sequence;
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    std::cout << "peer " << r->peer.name << " (trust domain " << r->peer.trust_domain << ") at "
              << r->peer.address << "\n";
  }
  return kExitOk;
}

int RunLs(const Globals& g) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->ListPeers();
  if (!r.ok()) return Report("node peer ls", r.status());
  if (g.json) {
    json list = json::array();
    for (const PeerInfo& p : r->peers) list.push_back(PeerJson(p));
    std::cout << DumpJson({{"peers", list}, {"audit_sequence", r->audit_sequence}}, 2) << "\n";
    return kExitOk;
  }
  Table t({"NAME", "TRUST DOMAIN", "ADDRESS", "SOURCE", "PENDING", "ADDED (UTC)"});
  for (const PeerInfo& p : r->peers) {
    t.AddRow({p.name, p.trust_domain, p.address, p.source, std::to_string(p.pending),
              mem::Time(p.added_at)});
  }
  if (t.rows() == 0) {
    std::cerr << "aictl: node peer ls: no peers\n";
  } else {
    std::cout << t.Render();
  }
  return kExitOk;
}

int RunRm(const Globals& g, const std::string& name) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->RemovePeer(name);
  if (!r.ok()) return Report("node peer rm", r.status());
  if (g.json) {
    std::cout << DumpJson({{"removed", r->removed}, {"audit_sequence", r->audit_sequence}}, 2)
              << "\n";
  } else {
    std::cout << "removed peer " << name << "\n";
  }
  return kExitOk;
}

}  // namespace

void AddFederationCommands(CLI::App& node, Context& ctx) {
  CLI::App* bundle =
      Sub(node, "bundle", "Print this node's CA bundle (PEM) for peers to federate with");
  bundle->callback([&ctx] { ctx.exit_code = RunBundle(ctx.globals); });

  CLI::App* peer = Sub(node, "peer", "Federated peer nodes: add, ls, rm");
  peer->require_subcommand(1);
  auto add_args = std::make_shared<AddArgs>();
  CLI::App* add = Sub(*peer, "add", "Federate a peer node: its address and CA bundle");
  add->add_option("name", add_args->name, "A name for the peer")->required();
  add->add_option("--address", add_args->address, "HOST:PORT of its [peer] listen")
      ->required();
  add->add_option("--bundle", add_args->bundle,
                  "Its bundle: the output of 'aictl node bundle' there (- for stdin)")
      ->required()
      ->type_name("FILE");
  add->add_option("--trust-domain", add_args->trust_domain,
                  "Its trust domain (default: the one its bundle names)");
  add->callback([&ctx, add_args] { ctx.exit_code = RunAdd(ctx.globals, *add_args); });
  CLI::App* ls = Sub(*peer, "ls", "List peers with the messages waiting for each");
  ls->callback([&ctx] { ctx.exit_code = RunLs(ctx.globals); });
  auto rm_name = std::make_shared<std::string>();
  CLI::App* rm = Sub(*peer, "rm", "Forget a peer (messages for it wait until it is added again)");
  rm->add_option("name", *rm_name, "The peer")->required();
  rm->callback([&ctx, rm_name] { ctx.exit_code = RunRm(ctx.globals, *rm_name); });
}

}  // namespace aikernel::cli
