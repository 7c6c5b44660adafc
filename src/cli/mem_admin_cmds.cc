// aictl mem append | events | doc put|get|rm | compact | ns create|show|quota|drop:
// the event log, documents, compaction and namespace administration
// (memory.admin: operators under the shipped policies).
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/mem_common.h"
#include "cli/session.h"
#include "cli/timeparse.h"

namespace aikernel::cli::mem {

namespace {

// ---------------------------------------------------------------- documents, events

struct DocPutArgs {
  std::string ns, id, text, file, meta, embedding, ttl;
  std::optional<int64_t> if_version;
};

int RunDocPut(const Globals& g, const DocPutArgs& a, bool text_given) {
  if (text_given == !a.file.empty()) {
    std::cerr << "aictl: mem doc put: give the text as an argument or with --file (- for "
                 "stdin), not both\n";
    return kExitUsage;
  }
  MemoryDocumentInput in;
  in.id = a.id;
  in.text = a.text;
  in.metadata_json = a.meta;
  in.expected_version = a.if_version;
  if (!EmbeddingArg(a.embedding, "mem doc put", &in.embedding) ||
      !DurationArg(a.ttl, "mem doc put", "--ttl", &in.ttl)) {
    return kExitUsage;
  }
  if (!a.file.empty() && !ReadInput(a.file, "mem doc put", &in.text)) return kExitError;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryPutDocument(a.ns, in);
  if (!r.ok()) return Report("mem doc put", r.status());
  if (g.json) {
    json j = DocumentJson(r->document);
    j["namespace"] = a.ns;
    j["audit_sequence"] = r->audit_sequence;
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    std::cout << a.ns << " document " << a.id << ": version " << r->document.version
              << " (audit record " << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

int RunDocGet(const Globals& g, const std::string& ns, const std::string& id) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryGetDocument(ns, id);
  if (!r.ok()) return Report("mem doc get", r.status());
  if (g.json) {
    json j = DocumentJson(r->document);
    j["namespace"] = ns;
    j["audit_sequence"] = r->audit_sequence;
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    const MemoryDocument& d = r->document;
    std::cout << RenderFields({{"id", d.id},
                               {"version", std::to_string(d.version)},
                               {"metadata", d.metadata_json},
                               {"embedding", d.embedding.empty()
                                                 ? "none"
                                                 : std::to_string(d.embedding.size()) + " dims"},
                               {"updated", Time(d.updated_at)},
                               {"expires", Expiry(d.expires_at)},
                               {"audit record", Seq(r->audit_sequence)}})
              << "\n"
              << d.text << "\n";
  }
  return kExitOk;
}

int RunDocRm(const Globals& g, const std::string& ns, const std::string& id) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryDeleteDocument(ns, id);
  if (!r.ok()) return Report("mem doc rm", r.status());
  if (g.json) {
    std::cout << DumpJson({{"namespace", ns}, {"id", id}, {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::cout << ns << " document " << id << ": deleted (audit record " << Seq(r->audit_sequence)
              << ")\n";
  }
  return kExitOk;
}

struct AppendArgs {
  std::string ns, kind, payload = "null", time, ttl;
};

int RunAppend(const Globals& g, const AppendArgs& a) {
  MemoryEventInput in;
  in.kind = a.kind;
  in.payload_json = a.payload;
  if (!TimeArg(a.time, "mem append", "--time", &in.time) ||
      !DurationArg(a.ttl, "mem append", "--ttl", &in.ttl)) {
    return kExitUsage;
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryAppendEvent(a.ns, in);
  if (!r.ok()) return Report("mem append", r.status());
  if (g.json) {
    json j = EventJson(r->event);
    j["namespace"] = a.ns;
    j["audit_sequence"] = r->audit_sequence;
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    std::cout << a.ns << " event #" << r->event.seq << " (" << r->event.kind << ", audit record "
              << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

struct EventsArgs {
  std::string ns, since, until;
  std::vector<std::string> kinds;
  uint32_t limit = 100;
};

int RunEvents(const Globals& g, const EventsArgs& a) {
  MemoryEventQuery q;
  q.kinds = a.kinds;
  q.page_size = a.limit;
  if (!TimeArg(a.since, "mem events", "--since", &q.from) ||
      !TimeArg(a.until, "mem events", "--until", &q.to)) {
    return kExitUsage;
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryReadEvents(a.ns, q);
  if (!r.ok()) return Report("mem events", r.status());
  if (g.json) {
    json list = json::array();
    for (const auto& e : r->events) list.push_back(EventJson(e));
    std::cout << DumpJson({{"namespace", a.ns},
                           {"events", list},
                           {"next_page_token", r->next_page_token},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
    return kExitOk;
  }
  Table t({"SEQ", "TIME (UTC)", "KIND", "PAYLOAD"});
  for (const auto& e : r->events) {
    t.AddRow({std::to_string(e.seq), Time(e.time), e.kind, Preview(e.payload_json, 60)});
  }
  std::cout << t.Render();
  if (!r->next_page_token.empty()) std::cerr << "aictl: mem events: more (raise --limit)\n";
  return kExitOk;
}

int RunCompact(const Globals& g, const std::string& ns, const std::string& horizon_text) {
  std::chrono::nanoseconds horizon{0};
  if (!DurationArg(horizon_text, "mem compact", "--horizon", &horizon)) return kExitUsage;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryCompact(ns, horizon);
  if (!r.ok()) return Report("mem compact", r.status());
  if (g.json) {
    std::cout << DumpJson({{"versions_dropped", r->versions_dropped},
                           {"bytes_freed", r->bytes_freed},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::cout << "compacted " << (ns.empty() ? "every namespace" : ns) << ": "
              << r->versions_dropped << " versions dropped, " << r->bytes_freed
              << " bytes freed (audit record " << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

// ---------------------------------------------------------------- namespaces

struct NsArgs {
  std::string ns;
  std::optional<int64_t> max_bytes, max_records;
  int32_t dim = 0;
  bool yes = false;
};

int PrintNamespace(const Globals& g, const MemoryNamespaceResult& r) {
  if (g.json) {
    json j = NamespaceJson(r.info);
    j["audit_sequence"] = r.audit_sequence;
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    std::cout << NamespaceText(r.info, r.audit_sequence);
  }
  return kExitOk;
}

int RunNsCreate(const Globals& g, const NsArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryCreateNamespace({a.ns, a.max_bytes, a.max_records, a.dim});
  if (!r.ok()) return Report("mem ns create", r.status());
  return PrintNamespace(g, *r);
}

int RunNsShow(const Globals& g, const NsArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryGetNamespace(a.ns);
  if (!r.ok()) return Report("mem ns show", r.status());
  return PrintNamespace(g, *r);
}

int RunNsQuota(const Globals& g, const NsArgs& a) {
  if (!a.max_bytes && !a.max_records) {
    std::cerr << "aictl: mem ns quota: give --max-bytes, --max-records or both\n";
    return kExitUsage;
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  int64_t bytes = a.max_bytes.value_or(0), records = a.max_records.value_or(0);
  if (!a.max_bytes || !a.max_records) {  // keep the one not given
    auto cur = client->MemoryGetNamespace(a.ns);
    if (!cur.ok()) return Report("mem ns quota", cur.status());
    bytes = a.max_bytes.value_or(cur->info.max_bytes);
    records = a.max_records.value_or(cur->info.max_records);
  }
  auto r = client->MemorySetQuota(a.ns, bytes, records);
  if (!r.ok()) return Report("mem ns quota", r.status());
  return PrintNamespace(g, *r);
}

int RunNsDrop(const Globals& g, const NsArgs& a) {
  if (!a.yes) {
    std::cerr << "aictl: mem ns drop: this removes " << a.ns
              << " and everything in it; add --yes to confirm\n";
    return kExitUsage;
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryDropNamespace(a.ns);
  if (!r.ok()) return Report("mem ns drop", r.status());
  if (g.json) {
    std::cout << DumpJson({{"namespace", a.ns}, {"dropped", true},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::cout << a.ns << ": dropped (audit record " << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddDocumentAndLogCommands(CLI::App& mem, Context& ctx) {
  auto append_args = std::make_shared<AppendArgs>();
  CLI::App* append = Sub(mem, "append", "Append an event to a namespace's episodic log");
  append->add_option("namespace", append_args->ns, kNsHelp)->required();
  append->add_option("kind", append_args->kind, "What kind of event")->required();
  append->add_option("payload", append_args->payload, "Payload, any JSON value")
      ->capture_default_str();
  append->add_option("--time", append_args->time, "The event's time (default now)")
      ->type_name("TIME")
      ->check(TimeValidator());
  append->add_option("--ttl", append_args->ttl, "Expire after this long")
      ->type_name("DURATION")
      ->check(DurationValidator());
  append->callback([&ctx, append_args] { ctx.exit_code = RunAppend(ctx.globals, *append_args); });

  auto ev_args = std::make_shared<EventsArgs>();
  CLI::App* events = Sub(mem, "events", "Read a namespace's episodic log by time and kind");
  events->add_option("namespace", ev_args->ns, kNsHelp)->required();
  events->add_option("--kind", ev_args->kinds, "Only this kind (repeatable)")->type_name("KIND");
  events->add_option("--since", ev_args->since, "At or after this time")
      ->type_name("TIME")
      ->check(TimeValidator());
  events->add_option("--until", ev_args->until, "Before this time")
      ->type_name("TIME")
      ->check(TimeValidator());
  events->add_option("--limit", ev_args->limit, "At most this many events")
      ->check(CLI::Range(1u, 10000u))
      ->capture_default_str();
  events->callback([&ctx, ev_args] { ctx.exit_code = RunEvents(ctx.globals, *ev_args); });

  CLI::App* doc = Sub(mem, "doc", "Documents for search: put, get, rm");
  doc->require_subcommand(1);
  auto put_args = std::make_shared<DocPutArgs>();
  CLI::App* put = Sub(*doc, "put", "Create or replace a document (memory.write)");
  put->add_option("namespace", put_args->ns, kNsHelp)->required();
  put->add_option("id", put_args->id, "Document id")->required();
  CLI::Option* text = put->add_option("text", put_args->text, "The text (or --file)");
  put->add_option("--file", put_args->file, "Read the text from FILE (- for stdin)")
      ->type_name("FILE");
  put->add_option("--meta", put_args->meta, "Metadata, a JSON object")->type_name("JSON");
  put->add_option("--embedding", put_args->embedding, "Embedding, a JSON array of numbers")
      ->type_name("JSON");
  put->add_option("--ttl", put_args->ttl, "Expire after this long (e.g. 7d)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  put->add_option("--if-version", put_args->if_version,
                  "Only if the document's version is this (0: must not exist)")
      ->type_name("V");
  put->callback([&ctx, put_args, text] {
    ctx.exit_code = RunDocPut(ctx.globals, *put_args, text->count() > 0);
  });

  auto id_args = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* get = Sub(*doc, "get", "Show a document (memory.read)");
  get->add_option("namespace", id_args->first, kNsHelp)->required();
  get->add_option("id", id_args->second, "Document id")->required();
  get->callback([&ctx, id_args] {
    ctx.exit_code = RunDocGet(ctx.globals, id_args->first, id_args->second);
  });
  CLI::App* rm = Sub(*doc, "rm", "Delete a document (memory.delete)");
  rm->add_option("namespace", id_args->first, kNsHelp)->required();
  rm->add_option("id", id_args->second, "Document id")->required();
  rm->callback([&ctx, id_args] {
    ctx.exit_code = RunDocRm(ctx.globals, id_args->first, id_args->second);
  });
}

void AddNamespaceCommands(CLI::App& mem, Context& ctx) {
  auto compact_args = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* compact = Sub(mem, "compact",
                          "Drop superseded key/value versions and old tombstones (all namespaces "
                          "without one)");
  compact->add_option("namespace", compact_args->first, kNsHelp);
  compact->add_option("--horizon", compact_args->second,
                      "Keep what was written within this long (default: drop all superseded)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  compact->callback([&ctx, compact_args] {
    ctx.exit_code = RunCompact(ctx.globals, compact_args->first, compact_args->second);
  });

  CLI::App* ns = Sub(mem, "ns", "Manage namespaces: create, show, quota, drop (memory.admin: "
                                "operators)");
  ns->require_subcommand(1);
  auto args = std::make_shared<NsArgs>();
  auto quota_opts = [&](CLI::App* c) {
    c->add_option("--max-bytes", args->max_bytes, "Byte quota (0: unlimited)")
        ->type_name("BYTES")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--max-records", args->max_records, "Record quota (0: unlimited)")
        ->type_name("N")
        ->check(CLI::NonNegativeNumber);
  };
  CLI::App* create = Sub(*ns, "create",
                         "Create a namespace (quotas default to the daemon's [memory] defaults)");
  create->add_option("namespace", args->ns, kNsHelp)->required();
  quota_opts(create);
  create->add_option("--dim", args->dim, "Embedding dimension (0: fixed by the first embedding)")
      ->check(CLI::Range(0, 4096));
  create->callback([&ctx, args] { ctx.exit_code = RunNsCreate(ctx.globals, *args); });

  CLI::App* show = Sub(*ns, "show", "Show a namespace's quotas and usage");
  show->add_option("namespace", args->ns, kNsHelp)->required();
  show->callback([&ctx, args] { ctx.exit_code = RunNsShow(ctx.globals, *args); });

  CLI::App* quota = Sub(*ns, "quota",
                        "Set a namespace's quotas (what is not given stays); data over a lowered "
                        "quota stays, further writes fail");
  quota->add_option("namespace", args->ns, kNsHelp)->required();
  quota_opts(quota);
  quota->callback([&ctx, args] { ctx.exit_code = RunNsQuota(ctx.globals, *args); });

  CLI::App* drop = Sub(*ns, "drop", "Remove a namespace and everything in it");
  drop->add_option("namespace", args->ns, kNsHelp)->required();
  drop->add_flag("--yes", args->yes, "Confirm");
  drop->callback([&ctx, args] { ctx.exit_code = RunNsDrop(ctx.globals, *args); });
}

}  // namespace aikernel::cli::mem
