// aictl mem ...: agent memory through the daemon's Memory service, so the
// daemon's policy decides and its ledger records every call.
//
//   ls [NS]  get  put  rm  history  search  export  import   (here)
//   append  events  doc put|get|rm  compact  ns create|show|quota|drop
//                                                          (mem_admin_cmds.cc)
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/cli.h"
#include "cli/format.h"
#include "cli/mem_common.h"
#include "cli/session.h"
#include "cli/timeparse.h"

namespace aikernel::cli {

namespace {

using namespace mem;  // NOLINT: this file is the mem commands

// ---------------------------------------------------------------- key/value

struct LsArgs {
  std::string ns;
  std::string prefix;
  uint32_t limit = 1000;
  bool values = false;
};

int RunLs(const Globals& g, const LsArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  if (a.ns.empty()) {
    auto r = client->MemoryListNamespaces(a.prefix);
    if (!r.ok()) return Report("mem ls", r.status());
    if (g.json) {
      json list = json::array();
      for (const auto& n : r->namespaces) list.push_back(NamespaceJson(n));
      std::cout << DumpJson({{"namespaces", list}, {"audit_sequence", r->audit_sequence}}, 2)
                << "\n";
      return kExitOk;
    }
    Table t({"NAMESPACE", "RECORDS", "BYTES", "MAX RECORDS", "MAX BYTES", "DIM", "CREATED (UTC)"});
    for (const auto& n : r->namespaces) {
      t.AddRow({n.name, std::to_string(n.used_records), std::to_string(n.used_bytes),
                Limit(n.max_records), Limit(n.max_bytes), n.dim ? std::to_string(n.dim) : "-",
                Time(n.created_at)});
    }
    if (t.rows() == 0) {
      std::cerr << "aictl: mem ls: no namespaces" << (a.prefix.empty() ? "" : " under that prefix")
                << "\n";
    } else {
      std::cout << t.Render();
    }
    return kExitOk;
  }
  // Keys of one namespace, page by page up to --limit.
  MemoryListOptions o;
  o.prefix = a.prefix;
  o.keys_only = !a.values;
  std::vector<MemoryEntry> entries;
  std::vector<uint64_t> seqs;
  std::string next;
  do {
    o.page_size = std::min<uint32_t>(a.limit - static_cast<uint32_t>(entries.size()), 1000);
    auto r = client->MemoryList(a.ns, o);
    if (!r.ok()) return Report("mem ls", r.status());
    seqs.push_back(r->audit_sequence);
    for (auto& e : r->entries) entries.push_back(std::move(e));
    next = r->next_page_token;
    o.page_token = next;
  } while (!next.empty() && entries.size() < a.limit);
  if (g.json) {
    json list = json::array();
    for (const auto& e : entries) list.push_back(EntryJson(e, a.values));
    std::cout << DumpJson({{"namespace", a.ns},
                           {"entries", list},
                           {"next_page_token", next},
                           {"audit_sequences", seqs}},
                          2)
              << "\n";
    return kExitOk;
  }
  std::vector<std::string> header = {"KEY", "VERSION", "WRITTEN (UTC)", "EXPIRES"};
  if (a.values) header.push_back("VALUE");
  Table t(header);
  for (const auto& e : entries) {
    std::vector<std::string> row = {e.key, std::to_string(e.version), Time(e.created_at),
                                    Expiry(e.expires_at)};
    if (a.values) row.push_back(Preview(e.value));
    t.AddRow(std::move(row));
  }
  if (t.rows() == 0) {
    std::cerr << "aictl: mem ls: no keys in " << a.ns << "\n";
  } else {
    std::cout << t.Render();
  }
  if (!next.empty()) {
    std::cerr << "aictl: mem ls: more keys after '" << next << "' (raise --limit)\n";
  }
  return kExitOk;
}

struct GetArgs {
  std::string ns, key;
  int64_t version = 0;
};

int RunGet(const Globals& g, const GetArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryGet(a.ns, a.key, a.version);
  if (!r.ok()) return Report("mem get", r.status());
  if (g.json) {
    json j = EntryJson(r->entry, true);
    j["namespace"] = a.ns;
    j["audit_sequence"] = r->audit_sequence;
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    std::cout << r->entry.value << std::flush;  // the bytes, as stored
  }
  return kExitOk;
}

struct PutArgs {
  std::string ns, key, value, file, ttl;
  std::optional<int64_t> if_version;
};

int RunPut(const Globals& g, const PutArgs& a, bool value_given) {
  if (value_given == !a.file.empty()) {
    std::cerr << "aictl: mem put: give the value as an argument or with --file (- for stdin), "
                 "not both\nRun 'aictl mem put --help' for usage.\n";
    return kExitUsage;
  }
  MemoryPutOptions o;
  o.expected_version = a.if_version;
  if (!DurationArg(a.ttl, "mem put", "--ttl", &o.ttl)) return kExitUsage;
  std::string value = a.value;
  if (!a.file.empty() && !ReadInput(a.file, "mem put", &value)) return kExitError;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryPut(a.ns, a.key, value, o);
  if (!r.ok()) return Report("mem put", r.status());
  if (g.json) {
    json j = EntryJson(r->entry, false);
    j["namespace"] = a.ns;
    j["bytes"] = value.size();
    j["audit_sequence"] = r->audit_sequence;
    std::cout << DumpJson(j, 2) << "\n";
  } else {
    std::cout << a.ns << " " << a.key << ": version " << r->entry.version << " ("
              << value.size() << " bytes, expires " << Expiry(r->entry.expires_at)
              << ", audit record " << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

struct RmArgs {
  std::string ns, key;
  std::optional<int64_t> if_version;
};

int RunRm(const Globals& g, const RmArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryDelete(a.ns, a.key, a.if_version);
  if (!r.ok()) return Report("mem rm", r.status());
  if (g.json) {
    std::cout << DumpJson({{"namespace", a.ns},
                           {"key", a.key},
                           {"version", r->version},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::cout << a.ns << " " << a.key << ": deleted (tombstone version " << r->version
              << ", audit record " << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

struct HistoryArgs {
  std::string ns, key;
  uint32_t limit = 0;
};

int RunHistory(const Globals& g, const HistoryArgs& a) {
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryHistory(a.ns, a.key, a.limit);
  if (!r.ok()) return Report("mem history", r.status());
  if (g.json) {
    json list = json::array();
    for (const auto& e : r->entries) list.push_back(EntryJson(e, true));
    std::cout << DumpJson({{"namespace", a.ns},
                           {"key", a.key},
                           {"versions", list},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
    return kExitOk;
  }
  Table t({"VERSION", "WRITTEN (UTC)", "EXPIRES", "VALUE"});
  for (const auto& e : r->entries) {
    t.AddRow({std::to_string(e.version), Time(e.created_at), Expiry(e.expires_at),
              e.deleted ? "(deleted)" : Preview(e.value)});
  }
  std::cout << t.Render();
  return kExitOk;
}

// ---------------------------------------------------------------- search

struct SearchArgs {
  std::string ns, text, embedding, half_life, since, until;
  uint32_t k = 10;
  double text_weight = 1, vector_weight = 1, recency_weight = 0;
  std::vector<std::string> filters;
  bool embeddings = false;
};

int RunSearch(const Globals& g, const SearchArgs& a) {
  MemorySearchQuery q;
  q.text = a.text;
  q.k = a.k;
  q.text_weight = a.text_weight;
  q.vector_weight = a.vector_weight;
  q.recency_weight = a.recency_weight;
  q.include_embeddings = a.embeddings;
  if (!EmbeddingArg(a.embedding, "mem search", &q.embedding) ||
      !DurationArg(a.half_life, "mem search", "--half-life", &q.recency_half_life) ||
      !TimeArg(a.since, "mem search", "--since", &q.updated_from) ||
      !TimeArg(a.until, "mem search", "--until", &q.updated_to)) {
    return kExitUsage;
  }
  for (const auto& f : a.filters) {
    MemoryMetadataFilter mf;
    if (!FilterArg(f, "mem search", &mf)) return kExitUsage;
    q.filters.push_back(std::move(mf));
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemorySearch(a.ns, q);
  if (!r.ok()) return Report("mem search", r.status());
  if (g.json) {
    json hits = json::array();
    for (const auto& h : r->hits) {
      hits.push_back({{"score", h.score},
                      {"text_score", h.text_score},
                      {"bm25", h.bm25},
                      {"vector_score", h.vector_score},
                      {"recency_score", h.recency_score},
                      {"document", DocumentJson(h.document)}});
    }
    std::cout << DumpJson({{"namespace", a.ns}, {"hits", hits}, {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
    return kExitOk;
  }
  Table t({"RANK", "SCORE", "ID", "VERSION", "UPDATED (UTC)", "TEXT"});
  int rank = 0;
  for (const auto& h : r->hits) {
    char score[32];
    std::snprintf(score, sizeof score, "%.4f", h.score);
    t.AddRow({std::to_string(++rank), score, h.document.id, std::to_string(h.document.version),
              Time(h.document.updated_at), Preview(h.document.text, 60)});
  }
  if (t.rows() == 0) {
    std::cerr << "aictl: mem search: no matching documents in " << a.ns << "\n";
  } else {
    std::cout << t.Render();
  }
  return kExitOk;
}

// ---------------------------------------------------------------- bulk

struct ExportArgs {
  std::string ns, prefix, output;
};

int RunExport(const Globals& g, const ExportArgs& a) {
  if (!a.ns.empty() && !a.prefix.empty()) {
    std::cerr << "aictl: mem export: give a namespace or --prefix, not both\n";
    return kExitUsage;
  }
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!a.output.empty() && a.output != "-") {
    file.open(a.output, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::cerr << "aictl: mem export: cannot write " << a.output << "\n";
      return kExitError;
    }
    out = &file;
  }
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  bool write_failed = false;
  auto r = client->MemoryExport(
      {a.ns, a.prefix},
      [&](std::string_view line) {
        out->write(line.data(), static_cast<std::streamsize>(line.size()));
        out->put('\n');
        write_failed = !*out;
        return !write_failed;
      },
      StreamCallFor(g));
  if (!r.ok()) return Report("mem export", r.status());
  out->flush();
  if (write_failed || !*out) {
    std::cerr << "aictl: mem export: writing " << (a.output.empty() ? "standard output" : a.output)
              << " failed after " << r->lines << " lines\n";
    return kExitError;
  }
  if (out != &std::cout) {
    std::cerr << "aictl: mem export: " << r->lines << " lines to " << a.output << " (audit record "
              << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

int RunImport(const Globals& g, const std::string& input) {
  std::string jsonl;
  if (!ReadInput(input, "mem import", &jsonl)) return kExitError;
  int rc = 0;
  auto client = ConnectOrReport(g, &rc);
  if (!client) return rc;
  auto r = client->MemoryImport(jsonl, StreamCallFor(g));
  if (!r.ok()) return Report("mem import", r.status());
  if (g.json) {
    std::cout << DumpJson({{"namespaces_created", r->namespaces},
                           {"kv_versions", r->kv_versions},
                           {"events", r->events},
                           {"documents", r->documents},
                           {"audit_sequence", r->audit_sequence}},
                          2)
              << "\n";
  } else {
    std::cout << "imported " << r->kv_versions << " key/value versions, " << r->events
              << " events, " << r->documents << " documents; " << r->namespaces
              << " namespaces created (audit record " << Seq(r->audit_sequence) << ")\n";
  }
  return kExitOk;
}

}  // namespace

void AddMemoryCommands(CLI::App& mem, Context& ctx) {
  auto ls_args = std::make_shared<LsArgs>();
  CLI::App* ls = Sub(mem, "ls",
                     "Without a namespace: list namespaces with usage and quotas. With one: list "
                     "its keys (newest live version of each), by key");
  ls->add_option("namespace", ls_args->ns, kNsHelp);
  ls->add_option("--prefix", ls_args->prefix, "Only names (or keys) starting with this");
  ls->add_option("--limit", ls_args->limit, "At most this many keys")
      ->type_name("N")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  ls->add_flag("--values", ls_args->values, "Show (with --json: include) the values");
  ls->callback([&ctx, ls_args] { ctx.exit_code = RunLs(ctx.globals, *ls_args); });

  auto get_args = std::make_shared<GetArgs>();
  CLI::App* get = Sub(mem, "get",
                      "Print a key's value (its bytes, as stored; --json: the entry, value as "
                      "\"value\" if UTF-8 else \"value_b64\")");
  get->add_option("namespace", get_args->ns, kNsHelp)->required();
  get->add_option("key", get_args->key, "The key")->required();
  get->add_option("--version", get_args->version, "This version instead of the newest")
      ->type_name("V");
  get->callback([&ctx, get_args] { ctx.exit_code = RunGet(ctx.globals, *get_args); });

  auto put_args = std::make_shared<PutArgs>();
  CLI::App* put = Sub(mem, "put",
                      "Write a key's next version (agent/<name> namespaces are created on their "
                      "first write; shared/ ones by 'mem ns create')");
  put->add_option("namespace", put_args->ns, kNsHelp)->required();
  put->add_option("key", put_args->key, "The key")->required();
  CLI::Option* value = put->add_option("value", put_args->value, "The value (or --file)");
  put->add_option("--file", put_args->file, "Read the value from FILE (- for stdin)")
      ->type_name("FILE");
  put->add_option("--if-version", put_args->if_version,
                  "Compare-and-set: only if the key's live version is this (0: must not exist)")
      ->type_name("V");
  put->add_option("--ttl", put_args->ttl, "Expire after this long (e.g. 1h)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  put->callback([&ctx, put_args, value] {
    ctx.exit_code = RunPut(ctx.globals, *put_args, value->count() > 0);
  });

  auto rm_args = std::make_shared<RmArgs>();
  CLI::App* rm = Sub(mem, "rm",
                     "Delete a key (writes a tombstone version; older versions stay in history "
                     "until compaction)");
  rm->add_option("namespace", rm_args->ns, kNsHelp)->required();
  rm->add_option("key", rm_args->key, "The key")->required();
  rm->add_option("--if-version", rm_args->if_version,
                 "Compare-and-set: only if the key's live version is this")
      ->type_name("V");
  rm->callback([&ctx, rm_args] { ctx.exit_code = RunRm(ctx.globals, *rm_args); });

  auto hist_args = std::make_shared<HistoryArgs>();
  CLI::App* hist = Sub(mem, "history", "Every stored version of a key, newest first");
  hist->add_option("namespace", hist_args->ns, kNsHelp)->required();
  hist->add_option("key", hist_args->key, "The key")->required();
  hist->add_option("--limit", hist_args->limit, "At most this many versions (0: 1000)")
      ->type_name("N")
      ->check(CLI::Range(0u, 10000u));
  hist->callback([&ctx, hist_args] { ctx.exit_code = RunHistory(ctx.globals, *hist_args); });

  auto s = std::make_shared<SearchArgs>();
  CLI::App* search = Sub(mem, "search",
                         "Search a namespace's documents: full text (FTS5 syntax), vector "
                         "(--embedding) or hybrid, best first");
  search->add_option("namespace", s->ns, kNsHelp)->required();
  search->add_option("text", s->text, "Full-text query (FTS5 syntax)");
  search->add_option("-k", s->k, "How many hits")->check(CLI::Range(1u, 1000u))->capture_default_str();
  search->add_option("--embedding", s->embedding, "Query vector, a JSON array of numbers")
      ->type_name("JSON");
  search->add_option("--text-weight", s->text_weight, "Weight of the text score")
      ->capture_default_str();
  search->add_option("--vector-weight", s->vector_weight, "Weight of the vector score")
      ->capture_default_str();
  search->add_option("--recency-weight", s->recency_weight, "Weight of recency")
      ->capture_default_str();
  search->add_option("--half-life", s->half_life, "Recency half-life (default 7d)")
      ->type_name("DURATION")
      ->check(DurationValidator());
  search->add_option("--filter", s->filters,
                     "Metadata KEY=VALUE (VALUE as JSON if it is a JSON scalar, else a string); "
                     "repeatable, all must match")
      ->type_name("KEY=VALUE");
  search->add_option("--since", s->since, "Only documents updated at or after this time")
      ->type_name("TIME")
      ->check(TimeValidator());
  search->add_option("--until", s->until, "Only documents updated before this time")
      ->type_name("TIME")
      ->check(TimeValidator());
  search->add_flag("--embeddings", s->embeddings, "Include embeddings in --json output");
  search->callback([&ctx, s] { ctx.exit_code = RunSearch(ctx.globals, *s); });

  auto exp_args = std::make_shared<ExportArgs>();
  CLI::App* exp = Sub(mem, "export",
                      "Write namespaces and their records as JSON lines (one namespace, those "
                      "under --prefix, or all); 'mem import' restores them exactly");
  exp->add_option("namespace", exp_args->ns, "Exactly this namespace");
  exp->add_option("--prefix", exp_args->prefix, "Every namespace whose name starts with this");
  exp->add_option("-o,--output", exp_args->output, "Write to FILE instead of standard output")
      ->type_name("FILE");
  exp->callback([&ctx, exp_args] { ctx.exit_code = RunExport(ctx.globals, *exp_args); });

  auto import_input = std::make_shared<std::string>("-");
  CLI::App* imp = Sub(mem, "import",
                      "Import JSON lines written by 'mem export', all or nothing (a record that "
                      "exists already fails the whole import)");
  imp->add_option("file", *import_input, "The export (- for stdin)")->capture_default_str();
  imp->callback([&ctx, import_input] { ctx.exit_code = RunImport(ctx.globals, *import_input); });

  mem::AddDocumentAndLogCommands(mem, ctx);
  mem::AddNamespaceCommands(mem, ctx);
}

}  // namespace aikernel::cli
