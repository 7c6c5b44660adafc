// aictl msg send|recv|ack|ls: agent messages through the daemon's Msg
// service (docs/net.md), so the daemon's policy decides and its ledger
// records every call. Operators name the inbox they read (`--inbox`);
// agents using aictl over AIKERNEL_FD read their own.
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

json MessageJson(const Message& m) {
  json j = {{"seq", m.seq},
            {"message_id", m.message_id},
            {"sender", m.sender},
            {"recipient", m.recipient},
            {"topic", m.topic}};
  mem::PutBytes(j, "payload", "payload_b64", m.payload);
  j["sent_at"] = mem::Time(m.sent_at);
  j["expires_at"] = mem::Expiry(m.expires_at);
  j["deliveries"] = m.deliveries;
  j["correlation_id"] = m.correlation_id;
  if (!m.sender_node.empty()) j["sender_node"] = m.sender_node;
  return j;
}

struct SendArgs {
  std::string to, topic, payload, file, id, ttl;
};

int RunSend(const Globals& g, const SendArgs& a, bool has_payload) {
  SendArgs in = a;
  if (!has_payload && !mem::ReadInput(a.file.empty() ? "-" : a.file, "msg send", &in.payload)) {
    return kExitError;
  }
  MsgSendOptions o;
  o.message_id = a.id;
  if (!mem::DurationArg(a.ttl, "msg send", "--ttl", &o.ttl)) return kExitUsage;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MsgSend(a.to, a.topic, in.payload, o);
  if (!r.ok()) return Report("msg send", r.status());
  if (g.json) {
    std::cout << DumpJson({{"message_id", r->message_id},
                           {"duplicate", r->duplicate},
                           {"remote", r->remote},
                           {"correlation_id", r->correlation_id},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::cout << (r->duplicate ? "duplicate of " : "sent ") << r->message_id
              << (r->remote ? " (queued for the peer node)" : "") << " correlation "
              << r->correlation_id << "\n";
  }
  return kExitOk;
}

struct RecvArgs {
  std::string inbox, wait = "0s";
  uint32_t max = 100;
  bool ack = false;
};

int RunRecv(const Globals& g, const RecvArgs& a) {
  MsgReceiveOptions o;
  o.inbox = a.inbox;
  o.max_messages = a.max;
  std::chrono::nanoseconds wait{0};
  if (!mem::DurationArg(a.wait, "msg recv", "--wait", &wait)) return kExitUsage;
  o.wait = std::chrono::duration_cast<std::chrono::milliseconds>(wait);
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  CallOptions call;
  call.timeout = o.wait + std::chrono::seconds(30);
  auto r = client->MsgReceive(o, call);
  if (!r.ok()) return Report("msg recv", r.status());
  std::vector<uint64_t> seqs;
  for (const Message& m : r->messages) seqs.push_back(m.seq);
  uint32_t acked = 0;
  if (a.ack && !seqs.empty()) {
    auto ack = client->MsgAck(seqs, a.inbox);
    if (!ack.ok()) return Report("msg recv --ack", ack.status());
    acked = ack->acked;
  }
  if (g.json) {
    json list = json::array();
    for (const Message& m : r->messages) list.push_back(MessageJson(m));
    std::cout << DumpJson({{"messages", list}, {"acked", acked},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
    return kExitOk;
  }
  Table t({"SEQ", "FROM", "TOPIC", "SENT (UTC)", "DELIVERIES", "PAYLOAD"});
  for (const Message& m : r->messages) {
    t.AddRow({std::to_string(m.seq), m.sender, m.topic, mem::Time(m.sent_at),
              std::to_string(m.deliveries), mem::Preview(m.payload)});
  }
  if (t.rows() == 0) {
    std::cerr << "aictl: msg recv: no messages\n";
  } else {
    std::cout << t.Render();
  }
  return kExitOk;
}

struct AckArgs {
  std::string inbox;
  std::vector<uint64_t> seqs;
};

int RunAck(const Globals& g, const AckArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MsgAck(a.seqs, a.inbox);
  if (!r.ok()) return Report("msg ack", r.status());
  if (g.json) {
    std::cout << DumpJson({{"acked", r->acked}, {"audit_sequence", r->audit_sequence}}, 2)
              << "\n";
  } else {
    std::cout << "acknowledged " << r->acked << "\n";
  }
  return kExitOk;
}

struct LsArgs {
  bool outbox = false, all = false;
  std::string agent;
  uint32_t limit = 100;
};

int RunLs(const Globals& g, const LsArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  MsgListOptions o;
  o.outbox = a.outbox;
  o.agent = a.agent;
  o.include_done = a.all;
  o.limit = a.limit;
  auto r = client->MsgList(o);
  if (!r.ok()) return Report("msg ls", r.status());
  if (g.json) {
    json in = json::array(), out = json::array();
    for (const Message& m : r->inbox) in.push_back(MessageJson(m));
    for (const MsgOutboxEntry& e : r->outbox) {
      out.push_back({{"seq", e.seq},
                     {"message_id", e.message_id},
                     {"sender", e.sender},
                     {"recipient", e.recipient},
                     {"peer", e.peer},
                     {"topic", e.topic},
                     {"attempts", e.attempts},
                     {"next_attempt_at", e.next_attempt_at ? mem::Time(*e.next_attempt_at) : ""},
                     {"last_error", e.last_error},
                     {"delivered", e.delivered},
                     {"correlation_id", e.correlation_id}});
    }
    std::cout << DumpJson({{a.outbox ? "outbox" : "inbox", a.outbox ? out : in},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
    return kExitOk;
  }
  if (a.outbox) {
    Table t({"SEQ", "FROM", "TO", "PEER", "TOPIC", "ATTEMPTS", "STATE"});
    for (const MsgOutboxEntry& e : r->outbox) {
      t.AddRow({std::to_string(e.seq), e.sender, e.recipient, e.peer, e.topic,
                std::to_string(e.attempts),
                e.delivered ? "delivered" : (e.last_error.empty() ? "queued" : e.last_error)});
    }
    std::cout << t.Render();
  } else {
    Table t({"SEQ", "TO", "FROM", "TOPIC", "SENT (UTC)", "DELIVERIES", "PAYLOAD"});
    for (const Message& m : r->inbox) {
      t.AddRow({std::to_string(m.seq), m.recipient, m.sender, m.topic, mem::Time(m.sent_at),
                std::to_string(m.deliveries), mem::Preview(m.payload)});
    }
    std::cout << t.Render();
  }
  return kExitOk;
}

}  // namespace

void AddMsgCommands(CLI::App& msg, Context& ctx) {
  auto send_args = std::make_shared<SendArgs>();
  CLI::App* send = Sub(msg, "send", "Send a message to an agent (by SPIFFE ID), here or on a "
                                    "federated peer node");
  send->add_option("to", send_args->to, "spiffe://<trust domain>/agent/<name>")->required();
  send->add_option("topic", send_args->topic, "The topic")->required();
  CLI::Option* payload = send->add_option("payload", send_args->payload, "The payload (or --file)");
  send->add_option("--file", send_args->file, "Read the payload from FILE (- for stdin)")
      ->type_name("FILE");
  send->add_option("--id", send_args->id, "Message id (a retry with the same id is stored once)");
  send->add_option("--ttl", send_args->ttl, "Drop it after this long (e.g. 1h)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  send->callback([&ctx, send_args, payload] {
    ctx.exit_code = RunSend(ctx.globals, *send_args, payload->count() > 0);
  });

  auto recv_args = std::make_shared<RecvArgs>();
  CLI::App* recv = Sub(msg, "recv", "Take messages from an inbox, oldest first");
  recv->add_option("--inbox", recv_args->inbox,
                   "Whose inbox (an agent's SPIFFE ID); agents default to their own");
  recv->add_option("--max", recv_args->max, "At most this many")->check(CLI::Range(1u, 1000u));
  recv->add_option("--wait", recv_args->wait, "Wait this long for a first message (max 60s)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  recv->add_flag("--ack", recv_args->ack, "Acknowledge what was received");
  recv->callback([&ctx, recv_args] { ctx.exit_code = RunRecv(ctx.globals, *recv_args); });

  auto ack_args = std::make_shared<AckArgs>();
  CLI::App* ack = Sub(msg, "ack", "Acknowledge received messages by seq");
  ack->add_option("seqs", ack_args->seqs, "Message seqs")->required();
  ack->add_option("--inbox", ack_args->inbox, "Whose inbox; agents default to their own");
  ack->callback([&ctx, ack_args] { ctx.exit_code = RunAck(ctx.globals, *ack_args); });

  auto ls_args = std::make_shared<LsArgs>();
  CLI::App* ls = Sub(msg, "ls", "List inboxes (default) or the outbox to peer nodes (operators)");
  ls->add_flag("--outbox", ls_args->outbox, "The outbox instead of inboxes");
  ls->add_option("--agent", ls_args->agent, "Only this recipient (inbox) or sender (outbox)");
  ls->add_flag("--all", ls_args->all, "Include acknowledged / delivered messages");
  ls->add_option("--limit", ls_args->limit, "At most this many")->check(CLI::Range(1u, 10000u));
  ls->callback([&ctx, ls_args] { ctx.exit_code = RunLs(ctx.globals, *ls_args); });
}

}  // namespace aikernel::cli
