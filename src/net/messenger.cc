#include "net/messenger.h"

#include <openssl/rand.h>

#include <cctype>
#include <cstdlib>

#include "common/text.h"
#include "identity/spiffe_id.h"

namespace aikernel::net {
namespace {

int64_t SystemNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Messenger::Messenger(Mailbox* mailbox, MessengerOptions options)
    : mailbox_(mailbox), opt_(std::move(options)) {
  if (!opt_.now_ns) opt_.now_ns = SystemNowNs;
}

std::string Messenger::RandomId() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof(b)) != 1) {
    // No entropy source is an impossible state on Linux (getrandom).
    std::abort();
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(b), sizeof(b)));
}

Status Messenger::ValidateMessageId(const std::string& id) {
  if (id.empty() || id.size() > 128) {
    return absl::InvalidArgumentError(
        absl::StrCat("message_id: must be 1..128 characters, got ", id.size()));
  }
  for (char c : id) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == ':' ||
          c == '-')) {
      return absl::InvalidArgumentError(
          "message_id: only letters, digits and . _ : - are allowed");
    }
  }
  return absl::OkStatus();
}

Status Messenger::ValidateTopic(const std::string& topic) {
  if (topic.empty() || topic.size() > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic: must be 1..256 bytes, got ", topic.size()));
  }
  for (char c : topic) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("topic: control characters are not allowed");
    }
  }
  if (!ValidUtf8(topic)) return absl::InvalidArgumentError("topic: not valid UTF-8");
  return absl::OkStatus();
}

StatusOr<Route> Messenger::Resolve(const std::string& to) const {
  if (to.empty()) {
    return absl::InvalidArgumentError("to: empty; expected spiffe://<trust domain>/agent/<name>");
  }
  StatusOr<identity::SpiffeId> id = identity::ParseSpiffeId(to);
  if (!id.ok()) return absl::InvalidArgumentError(absl::StrCat("to: ", id.status().message()));
  const std::string prefix = "/agent/";
  if (id->path.rfind(prefix, 0) != 0 ||
      id->path.find('/', prefix.size()) != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "to: '", to, "' is not an agent's ID (spiffe://<trust domain>/agent/<name>)"));
  }
  Route r;
  r.to = to;
  r.trust_domain = id->trust_domain;
  r.agent_name = id->path.substr(prefix.size());
  if (r.trust_domain == opt_.node) return r;
  std::optional<Peer> peer = PeerByTrustDomain(r.trust_domain);
  if (!peer) {
    return absl::NotFoundError(absl::StrCat(
        "to: trust domain '", r.trust_domain, "' is neither this node's ('", opt_.node,
        "') nor a federated peer's (aictl node peer add)"));
  }
  r.remote = true;
  r.peer = peer->name;
  return r;
}

std::vector<std::string> Messenger::GroupsOf(const Route& route) const {
  if (route.remote || !opt_.agent_groups) return {};
  StatusOr<std::vector<std::string>> g = opt_.agent_groups(route.agent_name);
  return g.ok() ? *g : std::vector<std::string>{};
}

StatusOr<SendResult> Messenger::Send(const Route& route, const SendArgs& a) {
  AIK_RETURN_IF_ERROR(ValidateTopic(a.topic));
  if (static_cast<int64_t>(a.payload.size()) > opt_.max_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("payload: ", a.payload.size(),
                                                   " bytes, more than the limit of ",
                                                   opt_.max_payload_bytes,
                                                   " ([msg] max_payload_bytes)"));
  }
  Envelope env;
  env.message_id = a.message_id.empty() ? RandomId() : a.message_id;
  AIK_RETURN_IF_ERROR(ValidateMessageId(env.message_id));
  int64_t ttl = a.ttl_ns ? *a.ttl_ns
                         : std::chrono::duration_cast<std::chrono::nanoseconds>(opt_.default_ttl)
                               .count();
  if (ttl <= 0) return absl::InvalidArgumentError("ttl: must be positive");
  env.sender = a.sender;
  env.recipient = route.to;
  env.topic = a.topic;
  env.payload = a.payload;
  env.sent_ns = opt_.now_ns();
  env.expires_ns = ttl > INT64_MAX - env.sent_ns ? 0 : env.sent_ns + ttl;
  env.correlation = a.correlation;
  SendResult out;
  out.message_id = env.message_id;
  out.remote = route.remote;
  PutResult put;
  if (route.remote) {
    AIK_ASSIGN_OR_RETURN(put, mailbox_->Enqueue(env, route.peer));
  } else {
    if (opt_.agent_groups) {
      StatusOr<std::vector<std::string>> exists = opt_.agent_groups(route.agent_name);
      if (!exists.ok()) {
        return absl::NotFoundError(
            absl::StrCat("to: no agent named '", route.agent_name, "' on this node"));
      }
    }
    AIK_ASSIGN_OR_RETURN(put, mailbox_->Deliver(env));
  }
  out.duplicate = put.duplicate;
  out.correlation = put.correlation.empty() ? a.correlation : put.correlation;
  return out;
}

StatusOr<PutResult> Messenger::Accept(const Peer& from, Envelope env) {
  AIK_ASSIGN_OR_RETURN(Envelope checked, Check(from, std::move(env)));
  return mailbox_->Deliver(checked);
}

Status Messenger::CheckAgentOf(const Peer& from, const std::string& id, const char* field) {
  StatusOr<identity::SpiffeId> parsed = identity::ParseSpiffeId(id);
  if (!parsed.ok() || parsed->trust_domain != from.trust_domain ||
      parsed->path.rfind("/agent/", 0) != 0 || parsed->path.size() == 7) {
    return absl::UnauthenticatedError(absl::StrCat(field, ": '", id, "' is not an agent of peer ",
                                                   from.name, "'s trust domain '",
                                                   from.trust_domain, "'"));
  }
  return absl::OkStatus();
}

StatusOr<Envelope> Messenger::Check(const Peer& from, Envelope env) const {
  AIK_RETURN_IF_ERROR(CheckAgentOf(from, env.sender, "sender"));
  AIK_ASSIGN_OR_RETURN(Route route, Resolve(env.recipient));
  if (route.remote) {
    return absl::InvalidArgumentError(absl::StrCat(
        "recipient: '", env.recipient, "' is not an agent of this node (no relaying)"));
  }
  AIK_RETURN_IF_ERROR(ValidateTopic(env.topic));
  AIK_RETURN_IF_ERROR(ValidateMessageId(env.message_id));
  if (static_cast<int64_t>(env.payload.size()) > opt_.max_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("payload: ", env.payload.size(),
                                                   " bytes, more than this node's limit of ",
                                                   opt_.max_payload_bytes));
  }
  if (opt_.agent_groups && !opt_.agent_groups(route.agent_name).ok()) {
    return absl::NotFoundError(
        absl::StrCat("recipient: no agent named '", route.agent_name, "' on this node"));
  }
  env.sender_node = from.trust_domain;
  return env;
}

Status Messenger::LoadPeers() {
  AIK_ASSIGN_OR_RETURN(std::vector<Peer> peers, mailbox_->ListPeers());
  std::lock_guard<std::mutex> l(peers_mu_);
  peers_.clear();
  for (Peer& p : peers) peers_.emplace(p.name, std::move(p));
  return absl::OkStatus();
}

Status Messenger::AddPeer(const Peer& peer) {
  AIK_RETURN_IF_ERROR(identity::ValidateTrustDomain(peer.trust_domain));
  if (peer.trust_domain == opt_.node) {
    return absl::InvalidArgumentError(absl::StrCat(
        "trust domain '", peer.trust_domain, "' is this node's own; a peer needs its own"));
  }
  AIK_RETURN_IF_ERROR(mailbox_->PutPeer(peer));
  return LoadPeers();
}

StatusOr<bool> Messenger::RemovePeer(const std::string& name) {
  AIK_ASSIGN_OR_RETURN(bool removed, mailbox_->RemovePeer(name));
  AIK_RETURN_IF_ERROR(LoadPeers());
  return removed;
}

std::vector<Peer> Messenger::Peers() const {
  std::lock_guard<std::mutex> l(peers_mu_);
  std::vector<Peer> out;
  for (const auto& [_, p] : peers_) out.push_back(p);
  return out;
}

std::optional<Peer> Messenger::PeerByTrustDomain(const std::string& td) const {
  std::lock_guard<std::mutex> l(peers_mu_);
  for (const auto& [_, p] : peers_) {
    if (p.trust_domain == td) return p;
  }
  return std::nullopt;
}

std::optional<Peer> Messenger::PeerByName(const std::string& name) const {
  std::lock_guard<std::mutex> l(peers_mu_);
  auto it = peers_.find(name);
  if (it == peers_.end()) return std::nullopt;
  return it->second;
}

}  // namespace aikernel::net
