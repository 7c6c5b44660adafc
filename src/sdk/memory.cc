// The SDK's Memory calls (proto/aikernel/v1/memory.proto): protobuf <->
// the plain types of aikernel/memory.h.

#include "aikernel/client.h"
#include "sdk/client_impl.h"

namespace aikernel {
inline namespace sdk {

namespace pb = ::aikernel::v1;
using Error = ::aikernel::sdk::Status;

namespace {

// In this namespace, beside the overloads below.
using internal::AuditSeqOf;
using internal::FromProto;
using internal::ToProto;

// Import messages carry the JSONL in chunks of this size.
constexpr size_t kImportChunkBytes = 1 << 20;

std::optional<Timestamp> OptionalTime(bool has, const google::protobuf::Timestamp& t) {
  if (!has) return std::nullopt;
  return FromProto(t);
}

MemoryEntry FromProto(const pb::MemoryEntry& m) {
  MemoryEntry e;
  e.key = m.key();
  e.version = m.version();
  e.deleted = m.deleted();
  e.value = m.value();
  e.created_at = FromProto(m.created_at());
  e.expires_at = OptionalTime(m.has_expires_at(), m.expires_at());
  return e;
}

MemoryEvent FromProto(const pb::MemoryEvent& m) {
  MemoryEvent e;
  e.seq = m.seq();
  e.time = FromProto(m.time());
  e.kind = m.kind();
  e.payload_json = m.payload_json();
  e.expires_at = OptionalTime(m.has_expires_at(), m.expires_at());
  return e;
}

MemoryDocument FromProto(const pb::MemoryDocument& m) {
  MemoryDocument d;
  d.id = m.id();
  d.version = m.version();
  d.text = m.text();
  d.metadata_json = m.metadata_json();
  d.embedding.assign(m.embedding().begin(), m.embedding().end());
  d.created_at = FromProto(m.created_at());
  d.updated_at = FromProto(m.updated_at());
  d.expires_at = OptionalTime(m.has_expires_at(), m.expires_at());
  return d;
}

MemoryNamespace FromProto(const pb::MemoryNamespace& m) {
  MemoryNamespace n;
  n.name = m.name();
  n.max_bytes = m.max_bytes();
  n.max_records = m.max_records();
  n.dim = m.dim();
  n.used_bytes = m.used_bytes();
  n.used_records = m.used_records();
  n.created_at = FromProto(m.created_at());
  return n;
}

}  // namespace

#define AIK_MEMORY_CALL(Method, Out, req, fill) \
  AIK_SDK_UNARY(memory, Memory, Method, Out, req, fill)

Result<MemoryEntryResult> Client::MemoryPut(std::string_view ns, std::string_view key,
                                            std::string_view value,
                                            const MemoryPutOptions& options,
                                            const CallOptions& call) {
  pb::MemoryPutRequest req;
  req.set_namespace_(std::string(ns));
  req.set_key(std::string(key));
  req.set_value(std::string(value));
  if (options.expected_version) {
    req.mutable_expected_version()->set_value(*options.expected_version);
  }
  if (options.ttl.count() != 0) ToProto(options.ttl, req.mutable_ttl());
  return AIK_MEMORY_CALL(Put, MemoryEntryResult, req,
                         [](const pb::MemoryPutResponse& r, MemoryEntryResult& out) {
                           out.entry = FromProto(r.entry());
                         });
}

Result<MemoryVersions> Client::MemoryPutBatch(std::string_view ns,
                                              const std::vector<MemoryWrite>& writes,
                                              const CallOptions& call) {
  pb::MemoryPutBatchRequest req;
  req.set_namespace_(std::string(ns));
  for (const MemoryWrite& w : writes) {
    pb::MemoryWrite* out = req.add_writes();
    out->set_key(w.key);
    out->set_value(w.value);
    if (w.options.expected_version) {
      out->mutable_expected_version()->set_value(*w.options.expected_version);
    }
    if (w.options.ttl.count() != 0) ToProto(w.options.ttl, out->mutable_ttl());
  }
  return AIK_MEMORY_CALL(PutBatch, MemoryVersions, req,
                         [](const pb::MemoryPutBatchResponse& r, MemoryVersions& out) {
                           out.versions.assign(r.versions().begin(), r.versions().end());
                         });
}

Result<MemoryEntryResult> Client::MemoryGet(std::string_view ns, std::string_view key,
                                            int64_t version, const CallOptions& call) {
  pb::MemoryGetRequest req;
  req.set_namespace_(std::string(ns));
  req.set_key(std::string(key));
  req.set_version(version);
  return AIK_MEMORY_CALL(Get, MemoryEntryResult, req,
                         [](const pb::MemoryGetResponse& r, MemoryEntryResult& out) {
                           out.entry = FromProto(r.entry());
                         });
}

Result<MemoryEntries> Client::MemoryList(std::string_view ns, const MemoryListOptions& options,
                                         const CallOptions& call) {
  pb::MemoryListRequest req;
  req.set_namespace_(std::string(ns));
  req.set_prefix(options.prefix);
  req.set_page_token(options.page_token);
  req.set_page_size(options.page_size);
  req.set_keys_only(options.keys_only);
  return AIK_MEMORY_CALL(List, MemoryEntries, req,
                         [](const pb::MemoryListResponse& r, MemoryEntries& out) {
                           for (const auto& e : r.entries()) out.entries.push_back(FromProto(e));
                           out.next_page_token = r.next_page_token();
                         });
}

Result<MemoryEntries> Client::MemoryHistory(std::string_view ns, std::string_view key,
                                            uint32_t limit, const CallOptions& call) {
  pb::MemoryHistoryRequest req;
  req.set_namespace_(std::string(ns));
  req.set_key(std::string(key));
  req.set_limit(limit);
  return AIK_MEMORY_CALL(History, MemoryEntries, req,
                         [](const pb::MemoryHistoryResponse& r, MemoryEntries& out) {
                           for (const auto& e : r.entries()) out.entries.push_back(FromProto(e));
                         });
}

Result<MemoryDeleteResult> Client::MemoryDelete(std::string_view ns, std::string_view key,
                                                std::optional<int64_t> expected_version,
                                                const CallOptions& call) {
  pb::MemoryDeleteRequest req;
  req.set_namespace_(std::string(ns));
  req.set_key(std::string(key));
  if (expected_version) req.mutable_expected_version()->set_value(*expected_version);
  return AIK_MEMORY_CALL(Delete, MemoryDeleteResult, req,
                         [](const pb::MemoryDeleteResponse& r, MemoryDeleteResult& out) {
                           out.version = r.version();
                         });
}

Result<MemoryEventResult> Client::MemoryAppendEvent(std::string_view ns,
                                                    const MemoryEventInput& event,
                                                    const CallOptions& call) {
  pb::MemoryAppendEventRequest req;
  req.set_namespace_(std::string(ns));
  if (event.time) ToProto(*event.time, req.mutable_time());
  req.set_kind(event.kind);
  req.set_payload_json(event.payload_json);
  if (event.ttl.count() != 0) ToProto(event.ttl, req.mutable_ttl());
  return AIK_MEMORY_CALL(AppendEvent, MemoryEventResult, req,
                         [](const pb::MemoryAppendEventResponse& r, MemoryEventResult& out) {
                           out.event = FromProto(r.event());
                         });
}

Result<MemoryEvents> Client::MemoryReadEvents(std::string_view ns, const MemoryEventQuery& query,
                                              const CallOptions& call) {
  pb::MemoryReadEventsRequest req;
  req.set_namespace_(std::string(ns));
  if (query.from) ToProto(*query.from, req.mutable_from());
  if (query.to) ToProto(*query.to, req.mutable_to());
  for (const auto& k : query.kinds) req.add_kinds(k);
  req.set_page_token(query.page_token);
  req.set_page_size(query.page_size);
  return AIK_MEMORY_CALL(ReadEvents, MemoryEvents, req,
                         [](const pb::MemoryReadEventsResponse& r, MemoryEvents& out) {
                           for (const auto& e : r.events()) out.events.push_back(FromProto(e));
                           out.next_page_token = r.next_page_token();
                         });
}

Result<MemoryDocumentResult> Client::MemoryPutDocument(std::string_view ns,
                                                       const MemoryDocumentInput& input,
                                                       const CallOptions& call) {
  pb::MemoryPutDocumentRequest req;
  req.set_namespace_(std::string(ns));
  req.set_id(input.id);
  req.set_text(input.text);
  req.set_metadata_json(input.metadata_json);
  req.mutable_embedding()->Assign(input.embedding.begin(), input.embedding.end());
  if (input.ttl.count() != 0) ToProto(input.ttl, req.mutable_ttl());
  if (input.expected_version) req.mutable_expected_version()->set_value(*input.expected_version);
  return AIK_MEMORY_CALL(PutDocument, MemoryDocumentResult, req,
                         [](const pb::MemoryPutDocumentResponse& r, MemoryDocumentResult& out) {
                           out.document = FromProto(r.document());
                         });
}

Result<MemoryDocumentResult> Client::MemoryGetDocument(std::string_view ns, std::string_view id,
                                                       const CallOptions& call) {
  pb::MemoryGetDocumentRequest req;
  req.set_namespace_(std::string(ns));
  req.set_id(std::string(id));
  return AIK_MEMORY_CALL(GetDocument, MemoryDocumentResult, req,
                         [](const pb::MemoryGetDocumentResponse& r, MemoryDocumentResult& out) {
                           out.document = FromProto(r.document());
                         });
}

Result<MemoryAck> Client::MemoryDeleteDocument(std::string_view ns, std::string_view id,
                                               const CallOptions& call) {
  pb::MemoryDeleteDocumentRequest req;
  req.set_namespace_(std::string(ns));
  req.set_id(std::string(id));
  return AIK_MEMORY_CALL(DeleteDocument, MemoryAck, req,
                         [](const pb::MemoryDeleteDocumentResponse&, MemoryAck&) {});
}

Result<MemorySearchResult> Client::MemorySearch(std::string_view ns,
                                                const MemorySearchQuery& query,
                                                const CallOptions& call) {
  pb::MemorySearchRequest req;
  req.set_namespace_(std::string(ns));
  req.set_text(query.text);
  req.mutable_embedding()->Assign(query.embedding.begin(), query.embedding.end());
  req.set_k(query.k);
  req.mutable_text_weight()->set_value(query.text_weight);
  req.mutable_vector_weight()->set_value(query.vector_weight);
  req.set_recency_weight(query.recency_weight);
  ToProto(query.recency_half_life, req.mutable_recency_half_life());
  for (const auto& f : query.filters) {
    pb::MemoryMetadataFilter* out = req.add_filters();
    out->set_key(f.key);
    out->set_value_json(f.value_json);
  }
  if (query.updated_from) ToProto(*query.updated_from, req.mutable_updated_from());
  if (query.updated_to) ToProto(*query.updated_to, req.mutable_updated_to());
  req.set_include_embeddings(query.include_embeddings);
  req.set_candidates(query.candidates);
  return AIK_MEMORY_CALL(Search, MemorySearchResult, req,
                         [](const pb::MemorySearchResponse& r, MemorySearchResult& out) {
                           for (const auto& h : r.hits()) {
                             MemorySearchHit hit;
                             hit.document = FromProto(h.document());
                             hit.score = h.score();
                             hit.text_score = h.text_score();
                             hit.bm25 = h.bm25();
                             hit.vector_score = h.vector_score();
                             hit.recency_score = h.recency_score();
                             out.hits.push_back(std::move(hit));
                           }
                         });
}

Result<MemoryNamespaceResult> Client::MemoryGetNamespace(std::string_view ns,
                                                         const CallOptions& call) {
  pb::MemoryGetNamespaceRequest req;
  req.set_namespace_(std::string(ns));
  return AIK_MEMORY_CALL(GetNamespace, MemoryNamespaceResult, req,
                         [](const pb::MemoryGetNamespaceResponse& r, MemoryNamespaceResult& out) {
                           out.info = FromProto(r.info());
                         });
}

Result<MemoryNamespaces> Client::MemoryListNamespaces(std::string_view prefix,
                                                      const CallOptions& call) {
  pb::MemoryListNamespacesRequest req;
  req.set_prefix(std::string(prefix));
  return AIK_MEMORY_CALL(ListNamespaces, MemoryNamespaces, req,
                         [](const pb::MemoryListNamespacesResponse& r, MemoryNamespaces& out) {
                           for (const auto& n : r.namespaces()) {
                             out.namespaces.push_back(FromProto(n));
                           }
                         });
}

Result<MemoryNamespaceResult> Client::MemoryCreateNamespace(const MemoryNamespaceConfig& config,
                                                            const CallOptions& call) {
  pb::MemoryCreateNamespaceRequest req;
  req.set_namespace_(config.name);
  if (config.max_bytes) req.mutable_max_bytes()->set_value(*config.max_bytes);
  if (config.max_records) req.mutable_max_records()->set_value(*config.max_records);
  req.set_dim(config.dim);
  return AIK_MEMORY_CALL(
      CreateNamespace, MemoryNamespaceResult, req,
      [](const pb::MemoryCreateNamespaceResponse& r, MemoryNamespaceResult& out) {
        out.info = FromProto(r.info());
      });
}

Result<MemoryNamespaceResult> Client::MemorySetQuota(std::string_view ns, int64_t max_bytes,
                                                     int64_t max_records,
                                                     const CallOptions& call) {
  pb::MemorySetQuotaRequest req;
  req.set_namespace_(std::string(ns));
  req.set_max_bytes(max_bytes);
  req.set_max_records(max_records);
  return AIK_MEMORY_CALL(SetQuota, MemoryNamespaceResult, req,
                         [](const pb::MemorySetQuotaResponse& r, MemoryNamespaceResult& out) {
                           out.info = FromProto(r.info());
                         });
}

Result<MemoryAck> Client::MemoryDropNamespace(std::string_view ns, const CallOptions& call) {
  pb::MemoryDropNamespaceRequest req;
  req.set_namespace_(std::string(ns));
  return AIK_MEMORY_CALL(DropNamespace, MemoryAck, req,
                         [](const pb::MemoryDropNamespaceResponse&, MemoryAck&) {});
}

Result<MemoryCompactResult> Client::MemoryCompact(std::string_view ns,
                                                  std::chrono::nanoseconds horizon,
                                                  const CallOptions& call) {
  pb::MemoryCompactRequest req;
  req.set_namespace_(std::string(ns));
  ToProto(horizon, req.mutable_horizon());
  return AIK_MEMORY_CALL(Compact, MemoryCompactResult, req,
                         [](const pb::MemoryCompactResponse& r, MemoryCompactResult& out) {
                           out.versions_dropped = r.versions_dropped();
                           out.bytes_freed = r.bytes_freed();
                         });
}

#undef AIK_MEMORY_CALL

Result<MemoryExportResult> Client::MemoryExport(
    const MemoryExportOptions& options, const std::function<bool(std::string_view)>& on_line,
    const CallOptions& call) {
  if (!options.ns.empty() && !options.prefix.empty()) {
    return Error(StatusCode::kInvalidArgument,
                 "MemoryExportOptions: set either ns or prefix, not both");
  }
  internal::StreamCall s(*impl_, call);
  pb::MemoryExportRequest req;
  if (!options.ns.empty()) {
    req.set_namespace_(options.ns);
  } else {
    req.set_prefix(options.prefix);
  }
  auto reader = impl_->memory->Export(&s.ctx, req);
  MemoryExportResult r;
  bool stopped = false;
  pb::MemoryExportResponse msg;
  while (!stopped && reader->Read(&msg)) {
    for (const std::string& line : msg.lines()) {
      ++r.lines;
      if (!on_line(line)) {
        s.StopByCaller();
        stopped = true;
        break;
      }
    }
  }
  grpc::Status st = reader->Finish();
  r.audit_sequence = AuditSeqOf(s.ctx);
  if (Error e = s.End(st, &r.cancelled); !e.ok()) return e;
  return r;
}

Result<MemoryImportResult> Client::MemoryImport(std::string_view jsonl, const CallOptions& call) {
  grpc::ClientContext ctx;
  impl_->Prepare(ctx, call);
  std::stop_callback cancel(call.stop, [&ctx] { ctx.TryCancel(); });
  pb::MemoryImportResponse resp;
  auto writer = impl_->memory->Import(&ctx, &resp);
  pb::MemoryImportRequest chunk;
  size_t off = 0;
  do {  // at least one message, so the daemon sees (and audits) the call
    size_t n = std::min(kImportChunkBytes, jsonl.size() - off);
    chunk.set_jsonl(jsonl.data() + off, n);
    off += n;
    if (!writer->Write(chunk)) break;  // the daemon ended the call; Finish says why
  } while (off < jsonl.size());
  writer->WritesDone();
  grpc::Status st = writer->Finish();
  if (!st.ok()) return impl_->FromGrpc(st, ctx, call);
  MemoryImportResult r;
  r.namespaces = resp.namespaces();
  r.kv_versions = resp.kv_versions();
  r.events = resp.events();
  r.documents = resp.documents();
  r.audit_sequence = AuditSeqOf(ctx);
  return r;
}

}  // namespace sdk
}  // namespace aikernel
