#include "rpc/memory_service.h"

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

#include "aikernel/v1/memory.grpc.pb.h"
#include "rpc/service_util.h"

namespace aikernel::rpc {
namespace {

namespace pb = ::aikernel::v1;
using kernel::CallRequest;
using kernel::Principal;
using kernel::Syscall;

// The daemon holds a whole import in memory before its one transaction.
constexpr size_t kMaxImportBytes = size_t{1} << 30;
// Export replies carry lines up to about this many bytes each.
constexpr size_t kExportChunkBytes = 64 << 10;
// Longer namespace names are invalid anyway (the memory library says why);
// the ledger keeps a bounded prefix of them.
constexpr size_t kMaxResourceNs = 160;

// `s`, or its first kMaxResourceNs bytes marked as cut.
std::string Bounded(const std::string& s) {
  return s.size() <= kMaxResourceNs ? s : s.substr(0, kMaxResourceNs) + "...(truncated)";
}
// "memory:<ns>": Cedar's Memory::"<ns>".
std::string Resource(const std::string& ns) { return "memory:" + Bounded(ns); }
// Calls over several namespaces: "memories:<prefix>", "memories:*" for all;
// Cedar's Memories::"<prefix>", a type of its own so that no policy on
// Memory entities allows them by accident.
std::string SpanResource(const std::string& prefix) {
  return "memories:" + (prefix.empty() ? std::string("*") : Bounded(prefix));
}

std::optional<int64_t> OptionalVersion(bool has, const google::protobuf::Int64Value& v) {
  if (!has) return std::nullopt;
  return v.value();
}

StatusOr<std::chrono::nanoseconds> Ttl(bool has, const google::protobuf::Duration& d) {
  if (!has) return std::chrono::nanoseconds(0);
  AIK_ASSIGN_OR_RETURN(int64_t ns, NonNegativeNs("ttl", d));
  return std::chrono::nanoseconds(ns);
}

void ToProto(const memory::KvEntry& e, pb::MemoryEntry* out) {
  out->set_key(e.key);
  out->set_version(e.version);
  out->set_deleted(e.deleted);
  out->set_value(e.value);
  SetTimestamp(e.created_ns, out->mutable_created_at());
  if (e.expires_ns != 0) SetTimestamp(e.expires_ns, out->mutable_expires_at());
}

void ToProto(const memory::Event& e, pb::MemoryEvent* out) {
  out->set_seq(e.seq);
  SetTimestamp(e.time_ns, out->mutable_time());
  out->set_kind(e.kind);
  out->set_payload_json(e.payload);
  if (e.expires_ns != 0) SetTimestamp(e.expires_ns, out->mutable_expires_at());
}

void ToProto(const memory::Document& d, pb::MemoryDocument* out) {
  out->set_id(d.id);
  out->set_version(d.version);
  out->set_text(d.text);
  out->set_metadata_json(d.metadata);
  out->mutable_embedding()->Assign(d.embedding.begin(), d.embedding.end());
  SetTimestamp(d.created_ns, out->mutable_created_at());
  SetTimestamp(d.updated_ns, out->mutable_updated_at());
  if (d.expires_ns != 0) SetTimestamp(d.expires_ns, out->mutable_expires_at());
}

void ToProto(const memory::NamespaceInfo& n, pb::MemoryNamespace* out) {
  out->set_name(n.name);
  out->set_max_bytes(n.max_bytes);
  out->set_max_records(n.max_records);
  out->set_dim(n.dim);
  out->set_used_bytes(n.used_bytes);
  out->set_used_records(n.used_records);
  SetTimestamp(n.created_ns, out->mutable_created_at());
}

StatusOr<memory::PutOptions> PutOptionsOf(bool has_version,
                                          const google::protobuf::Int64Value& version,
                                          bool has_ttl, const google::protobuf::Duration& ttl) {
  memory::PutOptions o;
  o.expected_version = OptionalVersion(has_version, version);
  AIK_ASSIGN_OR_RETURN(o.ttl, Ttl(has_ttl, ttl));
  return o;
}

StatusOr<memory::SearchQuery> QueryOf(const pb::MemorySearchRequest& r) {
  memory::SearchQuery q;
  q.text = r.text();
  q.embedding.assign(r.embedding().begin(), r.embedding().end());
  q.k = r.k() == 0 ? 10 : r.k();
  if (r.has_text_weight()) q.text_weight = r.text_weight().value();
  if (r.has_vector_weight()) q.vector_weight = r.vector_weight().value();
  q.recency_weight = r.recency_weight();
  if (r.has_recency_half_life()) {
    AIK_ASSIGN_OR_RETURN(int64_t ns, NonNegativeNs("recency_half_life", r.recency_half_life()));
    q.recency_half_life = std::chrono::nanoseconds(ns);
  }
  for (const auto& f : r.filters()) q.filters.push_back({f.key(), f.value_json()});
  if (r.has_updated_from()) {
    AIK_RETURN_IF_ERROR(CheckTimestamp("updated_from", r.updated_from()));
    q.updated_from_ns = ToNs(r.updated_from());
  }
  if (r.has_updated_to()) {
    AIK_RETURN_IF_ERROR(CheckTimestamp("updated_to", r.updated_to()));
    q.updated_to_ns = ToNs(r.updated_to());
  }
  q.include_embeddings = r.include_embeddings();
  q.candidates = r.candidates();
  return q;
}

class MemoryService final : public pb::Memory::Service {
 public:
  explicit MemoryService(kernel::Kernel* k) : k_(k) {}

  // ---- key/value ----

  grpc::Status Put(grpc::ServerContext* ctx, const pb::MemoryPutRequest* req,
                   pb::MemoryPutResponse* resp) override {
    return Call(ctx, Syscall::kMemPut, Resource(req->namespace_()), req, [&]() -> Status {
      AIK_ASSIGN_OR_RETURN(memory::PutOptions o,
                           PutOptionsOf(req->has_expected_version(), req->expected_version(),
                                        req->has_ttl(), req->ttl()));
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->MemoryForWrite(req->namespace_()));
      AIK_ASSIGN_OR_RETURN(memory::KvEntry e,
                           m->Put(req->namespace_(), req->key(), req->value(), o));
      ToProto(e, resp->mutable_entry());
      return absl::OkStatus();
    });
  }

  grpc::Status PutBatch(grpc::ServerContext* ctx, const pb::MemoryPutBatchRequest* req,
                        pb::MemoryPutBatchResponse* resp) override {
    return Call(ctx, Syscall::kMemPutBatch, Resource(req->namespace_()), req, [&]() -> Status {
      std::vector<memory::KvWrite> writes;
      writes.reserve(req->writes_size());
      for (int i = 0; i < req->writes_size(); ++i) {
        const pb::MemoryWrite& w = req->writes(i);
        StatusOr<memory::PutOptions> o = PutOptionsOf(
            w.has_expected_version(), w.expected_version(), w.has_ttl(), w.ttl());
        if (!o.ok()) {
          return absl::InvalidArgumentError(
              absl::StrCat("writes[", i, "].", o.status().message()));
        }
        writes.push_back({w.key(), w.value(), *o});
      }
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->MemoryForWrite(req->namespace_()));
      AIK_ASSIGN_OR_RETURN(std::vector<int64_t> versions,
                           m->PutBatch(req->namespace_(), writes));
      resp->mutable_versions()->Assign(versions.begin(), versions.end());
      return absl::OkStatus();
    });
  }

  grpc::Status Get(grpc::ServerContext* ctx, const pb::MemoryGetRequest* req,
                   pb::MemoryGetResponse* resp) override {
    return Call(ctx, Syscall::kMemGet, Resource(req->namespace_()), req, [&]() -> Status {
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_ASSIGN_OR_RETURN(memory::KvEntry e,
                           m->Get(req->namespace_(), req->key(), req->version()));
      ToProto(e, resp->mutable_entry());
      return absl::OkStatus();
    });
  }

  grpc::Status List(grpc::ServerContext* ctx, const pb::MemoryListRequest* req,
                    pb::MemoryListResponse* resp) override {
    return Call(ctx, Syscall::kMemList, Resource(req->namespace_()), req, [&]() -> Status {
      memory::ListOptions o;
      o.prefix = req->prefix();
      o.page_token = req->page_token();
      o.limit = req->page_size() == 0 ? 100 : req->page_size();
      o.include_values = !req->keys_only();
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_ASSIGN_OR_RETURN(memory::KvPage page, m->List(req->namespace_(), o));
      for (const auto& e : page.entries) ToProto(e, resp->add_entries());
      resp->set_next_page_token(page.next_page_token);
      return absl::OkStatus();
    });
  }

  grpc::Status History(grpc::ServerContext* ctx, const pb::MemoryHistoryRequest* req,
                       pb::MemoryHistoryResponse* resp) override {
    return Call(ctx, Syscall::kMemHistory, Resource(req->namespace_()), req, [&]() -> Status {
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_ASSIGN_OR_RETURN(
          std::vector<memory::KvEntry> entries,
          m->History(req->namespace_(), req->key(), req->limit() == 0 ? 1000 : req->limit()));
      for (const auto& e : entries) ToProto(e, resp->add_entries());
      return absl::OkStatus();
    });
  }

  grpc::Status Delete(grpc::ServerContext* ctx, const pb::MemoryDeleteRequest* req,
                      pb::MemoryDeleteResponse* resp) override {
    return Call(ctx, Syscall::kMemDelete, Resource(req->namespace_()), req, [&]() -> Status {
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_ASSIGN_OR_RETURN(
          int64_t version,
          m->Delete(req->namespace_(), req->key(),
                    OptionalVersion(req->has_expected_version(), req->expected_version())));
      resp->set_version(version);
      return absl::OkStatus();
    });
  }

  // ---- episodic log ----

  grpc::Status AppendEvent(grpc::ServerContext* ctx, const pb::MemoryAppendEventRequest* req,
                           pb::MemoryAppendEventResponse* resp) override {
    return Call(ctx, Syscall::kMemAppendEvent, Resource(req->namespace_()), req,
                [&]() -> Status {
                  memory::EventInput in;
                  if (req->has_time()) {
                    AIK_RETURN_IF_ERROR(CheckTimestamp("time", req->time()));
                    in.time_ns = ToNs(req->time());
                  }
                  in.kind = req->kind();
                  in.payload = req->payload_json();
                  AIK_ASSIGN_OR_RETURN(in.ttl, Ttl(req->has_ttl(), req->ttl()));
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m,
                                       k_->MemoryForWrite(req->namespace_()));
                  AIK_ASSIGN_OR_RETURN(memory::Event e, m->AppendEvent(req->namespace_(), in));
                  ToProto(e, resp->mutable_event());
                  return absl::OkStatus();
                });
  }

  grpc::Status ReadEvents(grpc::ServerContext* ctx, const pb::MemoryReadEventsRequest* req,
                          pb::MemoryReadEventsResponse* resp) override {
    return Call(ctx, Syscall::kMemReadEvents, Resource(req->namespace_()), req,
                [&]() -> Status {
                  memory::EventQuery q;
                  if (req->has_from()) {
                    AIK_RETURN_IF_ERROR(CheckTimestamp("from", req->from()));
                    q.from_ns = ToNs(req->from());
                  }
                  if (req->has_to()) {
                    AIK_RETURN_IF_ERROR(CheckTimestamp("to", req->to()));
                    q.to_ns = ToNs(req->to());
                  }
                  q.kinds.assign(req->kinds().begin(), req->kinds().end());
                  q.page_token = req->page_token();
                  q.limit = req->page_size() == 0 ? 100 : req->page_size();
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
                  AIK_ASSIGN_OR_RETURN(memory::EventPage page,
                                       m->ReadEvents(req->namespace_(), q));
                  for (const auto& e : page.events) ToProto(e, resp->add_events());
                  resp->set_next_page_token(page.next_page_token);
                  return absl::OkStatus();
                });
  }

  // ---- documents and search ----

  grpc::Status PutDocument(grpc::ServerContext* ctx, const pb::MemoryPutDocumentRequest* req,
                           pb::MemoryPutDocumentResponse* resp) override {
    return Call(ctx, Syscall::kMemPutDocument, Resource(req->namespace_()), req,
                [&]() -> Status {
                  memory::DocumentInput in;
                  in.id = req->id();
                  in.text = req->text();
                  in.metadata = req->metadata_json();
                  in.embedding.assign(req->embedding().begin(), req->embedding().end());
                  AIK_ASSIGN_OR_RETURN(in.ttl, Ttl(req->has_ttl(), req->ttl()));
                  in.expected_version =
                      OptionalVersion(req->has_expected_version(), req->expected_version());
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m,
                                       k_->MemoryForWrite(req->namespace_()));
                  AIK_ASSIGN_OR_RETURN(memory::Document d,
                                       m->PutDocument(req->namespace_(), in));
                  ToProto(d, resp->mutable_document());
                  return absl::OkStatus();
                });
  }

  grpc::Status GetDocument(grpc::ServerContext* ctx, const pb::MemoryGetDocumentRequest* req,
                           pb::MemoryGetDocumentResponse* resp) override {
    return Call(ctx, Syscall::kMemGetDocument, Resource(req->namespace_()), req,
                [&]() -> Status {
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
                  AIK_ASSIGN_OR_RETURN(memory::Document d,
                                       m->GetDocument(req->namespace_(), req->id()));
                  ToProto(d, resp->mutable_document());
                  return absl::OkStatus();
                });
  }

  grpc::Status DeleteDocument(grpc::ServerContext* ctx,
                              const pb::MemoryDeleteDocumentRequest* req,
                              pb::MemoryDeleteDocumentResponse*) override {
    return Call(ctx, Syscall::kMemDeleteDocument, Resource(req->namespace_()), req,
                [&]() -> Status {
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
                  return m->DeleteDocument(req->namespace_(), req->id());
                });
  }

  grpc::Status Search(grpc::ServerContext* ctx, const pb::MemorySearchRequest* req,
                      pb::MemorySearchResponse* resp) override {
    return Call(ctx, Syscall::kMemSearch, Resource(req->namespace_()), req, [&]() -> Status {
      AIK_ASSIGN_OR_RETURN(memory::SearchQuery q, QueryOf(*req));
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_ASSIGN_OR_RETURN(std::vector<memory::SearchHit> hits, m->Search(req->namespace_(), q));
      for (const auto& h : hits) {
        pb::MemorySearchHit* out = resp->add_hits();
        ToProto(h.document, out->mutable_document());
        out->set_score(h.score);
        out->set_text_score(h.text_score);
        out->set_bm25(h.bm25);
        out->set_vector_score(h.vector_score);
        out->set_recency_score(h.recency_score);
      }
      return absl::OkStatus();
    });
  }

  // ---- namespaces ----

  grpc::Status GetNamespace(grpc::ServerContext* ctx, const pb::MemoryGetNamespaceRequest* req,
                            pb::MemoryGetNamespaceResponse* resp) override {
    return Call(ctx, Syscall::kMemGetNamespace, Resource(req->namespace_()), req,
                [&]() -> Status {
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
                  AIK_ASSIGN_OR_RETURN(memory::NamespaceInfo n,
                                       m->GetNamespace(req->namespace_()));
                  ToProto(n, resp->mutable_info());
                  return absl::OkStatus();
                });
  }

  grpc::Status ListNamespaces(grpc::ServerContext* ctx,
                              const pb::MemoryListNamespacesRequest* req,
                              pb::MemoryListNamespacesResponse* resp) override {
    return Call(ctx, Syscall::kMemListNamespaces, SpanResource(req->prefix()), req,
                [&]() -> Status {
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
                  AIK_ASSIGN_OR_RETURN(std::vector<memory::NamespaceInfo> all,
                                       m->ListNamespaces(req->prefix()));
                  for (const auto& n : all) ToProto(n, resp->add_namespaces());
                  return absl::OkStatus();
                });
  }

  grpc::Status CreateNamespace(grpc::ServerContext* ctx,
                               const pb::MemoryCreateNamespaceRequest* req,
                               pb::MemoryCreateNamespaceResponse* resp) override {
    return Call(ctx, Syscall::kMemCreateNamespace, Resource(req->namespace_()), req,
                [&]() -> Status {
                  memory::NamespaceConfig c;
                  c.name = req->namespace_();
                  if (req->has_max_bytes()) {
                    if (req->max_bytes().value() < 0) {
                      return absl::InvalidArgumentError("max_bytes: must be >= 0");
                    }
                    c.max_bytes = req->max_bytes().value();
                  }
                  if (req->has_max_records()) {
                    if (req->max_records().value() < 0) {
                      return absl::InvalidArgumentError("max_records: must be >= 0");
                    }
                    c.max_records = req->max_records().value();
                  }
                  c.dim = req->dim();
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
                  AIK_ASSIGN_OR_RETURN(memory::NamespaceInfo n, m->CreateNamespace(c));
                  ToProto(n, resp->mutable_info());
                  return absl::OkStatus();
                });
  }

  grpc::Status SetQuota(grpc::ServerContext* ctx, const pb::MemorySetQuotaRequest* req,
                        pb::MemorySetQuotaResponse* resp) override {
    return Call(ctx, Syscall::kMemSetQuota, Resource(req->namespace_()), req, [&]() -> Status {
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_RETURN_IF_ERROR(m->SetQuota(req->namespace_(), req->max_bytes(), req->max_records()));
      AIK_ASSIGN_OR_RETURN(memory::NamespaceInfo n, m->GetNamespace(req->namespace_()));
      ToProto(n, resp->mutable_info());
      return absl::OkStatus();
    });
  }

  grpc::Status DropNamespace(grpc::ServerContext* ctx, const pb::MemoryDropNamespaceRequest* req,
                             pb::MemoryDropNamespaceResponse*) override {
    return Call(ctx, Syscall::kMemDropNamespace, Resource(req->namespace_()), req,
                [&]() -> Status {
                  AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
                  return m->DropNamespace(req->namespace_());
                });
  }

  grpc::Status Compact(grpc::ServerContext* ctx, const pb::MemoryCompactRequest* req,
                       pb::MemoryCompactResponse* resp) override {
    std::string resource =
        req->namespace_().empty() ? SpanResource("") : Resource(req->namespace_());
    return Call(ctx, Syscall::kMemCompact, resource, req, [&]() -> Status {
      int64_t horizon = 0;
      if (req->has_horizon()) {
        AIK_ASSIGN_OR_RETURN(horizon, NonNegativeNs("horizon", req->horizon()));
      }
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_ASSIGN_OR_RETURN(memory::CompactStats st,
                           m->Compact(req->namespace_(), std::chrono::nanoseconds(horizon)));
      resp->set_versions_dropped(st.versions_dropped);
      resp->set_bytes_freed(st.bytes_freed);
      return absl::OkStatus();
    });
  }

  // ---- bulk ----

  grpc::Status Export(grpc::ServerContext* ctx, const pb::MemoryExportRequest* req,
                      grpc::ServerWriter<pb::MemoryExportResponse>* writer) override {
    const bool exact = req->scope_case() == pb::MemoryExportRequest::kNamespace;
    std::string resource = exact ? Resource(req->namespace_()) : SpanResource(req->prefix());
    return Call(ctx, Syscall::kMemExport, resource, req, [&]() -> Status {
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      pb::MemoryExportResponse chunk;
      size_t bytes = 0;
      auto flush = [&]() -> Status {
        if (chunk.lines_size() == 0) return absl::OkStatus();
        if (!writer->Write(chunk)) {
          return absl::CancelledError("export: the client went away");
        }
        chunk.Clear();
        bytes = 0;
        return absl::OkStatus();
      };
      auto emit = [&](std::string_view line) -> Status {
        if (ctx->IsCancelled() || k_->stopping()) {
          return absl::CancelledError("export: cancelled");
        }
        chunk.add_lines(line.data(), line.size());
        bytes += line.size();
        if (bytes >= kExportChunkBytes) return flush();
        return absl::OkStatus();
      };
      AIK_RETURN_IF_ERROR(exact ? m->ExportNamespace(req->namespace_(), emit)
                                : m->Export(req->prefix(), emit));
      return flush();
    });
  }

  grpc::Status Import(grpc::ServerContext* ctx,
                      grpc::ServerReader<pb::MemoryImportRequest>* reader,
                      pb::MemoryImportResponse* resp) override {
    // Dispatch after the first message, so an unauthorized caller cannot
    // make the daemon buffer anything; its digest is the audited request.
    pb::MemoryImportRequest first;
    bool more = reader->Read(&first);
    return Call(ctx, Syscall::kMemImport, SpanResource(""), &first, [&]() -> Status {
      std::string jsonl = std::move(*first.mutable_jsonl());
      pb::MemoryImportRequest next;
      while (more && reader->Read(&next)) {
        if (jsonl.size() + next.jsonl().size() > kMaxImportBytes) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "import: more than ", kMaxImportBytes, " bytes; split the file by namespace"));
        }
        jsonl += next.jsonl();
      }
      AIK_ASSIGN_OR_RETURN(memory::Memory * m, k_->Memory());
      AIK_ASSIGN_OR_RETURN(memory::ImportStats st, m->Import(jsonl));
      resp->set_namespaces(st.namespaces);
      resp->set_kv_versions(st.kv_versions);
      resp->set_events(st.events);
      resp->set_documents(st.documents);
      return absl::OkStatus();
    });
  }

 private:
  template <typename Fn>
  grpc::Status Call(grpc::ServerContext* ctx, Syscall syscall, std::string resource,
                    const google::protobuf::Message* req, Fn&& fn) {
    CallRequest call{CallerOf(ctx), syscall, std::move(resource), req};
    return Finish(ctx, k_->Dispatch(call, [&](const Principal&) { return fn(); }));
  }

  kernel::Kernel* k_;
};

}  // namespace

ServicePtr MakeMemoryService(kernel::Kernel* kernel) {
  return ServicePtr(new MemoryService(kernel), [](grpc::Service* s) { delete s; });
}

}  // namespace aikernel::rpc
