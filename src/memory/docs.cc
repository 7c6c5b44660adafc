// Memory: documents (create/replace, get, delete). Search is in search.cc.
#include "memory/internal.h"

namespace aikernel::memory {

namespace {

int64_t DocBytes(std::string_view id, std::string_view text,
                 std::string_view metadata, size_t embedding_bytes) {
  return static_cast<int64_t>(id.size() + text.size() + metadata.size() +
                              embedding_bytes);
}

struct OldDoc {
  int64_t id = 0, version = 0, expires_ns = 0, bytes = 0;
  bool had_embedding = false;
};

}  // namespace

StatusOr<Document> Memory::PutDocument(std::string_view ns,
                                       const DocumentInput& in) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (in.id.empty() || in.id.size() > 512 || !internal::ValidUtf8(in.id)) {
    return internal::Invalid("id", "must be 1..512 bytes of UTF-8");
  }
  if (in.text.size() > (size_t{16} << 20) || !internal::ValidUtf8(in.text)) {
    return internal::Invalid("text", "must be UTF-8 of at most 16 MiB");
  }
  if (in.ttl.count() < 0) return internal::Invalid("ttl", "is negative");
  AIK_RETURN_IF_ERROR(internal::CheckEmbedding(in.embedding, "embedding"));
  AIK_ASSIGN_OR_RETURN(std::string metadata,
                       internal::CanonicalJson(in.metadata, true, "metadata"));
  const std::string blob = internal::EncodeFloats(in.embedding);
  Shared* s = s_.get();
  return s->Write<Document>([s, ns, &in, &metadata,
                             &blob](Database& db) -> StatusOr<Document> {
    AIK_ASSIGN_OR_RETURN(NsRow row, s->LoadNs(db, ns));
    AIK_RETURN_IF_ERROR(s->CheckDim(db, row, in.embedding.size(), "embedding"));
    const int64_t now = s->Now();
    std::optional<OldDoc> old;
    {
      AIK_ASSIGN_OR_RETURN(
          Statement * st,
          s->W(db,
               "SELECT id, version, expires_ns, length(CAST(doc_id AS BLOB)) + "
               "length(CAST("
               "text AS BLOB)) + length(CAST(metadata AS BLOB)) + "
               "ifnull(length(embedding), "
               "0), embedding IS NOT NULL FROM docs WHERE ns = ?1 AND "
               "doc_id = ?2"));
      Use u(st);
      AIK_RETURN_IF_ERROR(st->BindText(1, ns));
      AIK_RETURN_IF_ERROR(st->BindText(2, in.id));
      AIK_ASSIGN_OR_RETURN(bool r, st->Step());
      if (r) {
        old = OldDoc{st->ColumnInt64(0), st->ColumnInt64(1), st->ColumnInt64(2),
                     st->ColumnInt64(3), st->ColumnInt64(4) != 0};
      }
    }
    const bool live = old && (old->expires_ns == 0 || old->expires_ns > now);
    const int64_t live_version = live ? old->version : 0;
    if (in.expected_version && *in.expected_version != live_version) {
      return absl::FailedPreconditionError(absl::StrCat(
          "memory ", AV(ns), " document \"", in.id,
          "\": version mismatch: expected ", *in.expected_version, ", current ",
          live_version, live_version == 0 ? " (absent)" : ""));
    }
    Document d;
    d.id = in.id;
    d.version = old ? old->version + 1 : 1;
    d.text = in.text;
    d.metadata = metadata;
    d.embedding = in.embedding;
    d.created_ns = now;
    d.updated_ns = now;
    d.expires_ns = internal::TtlToExpiry(now, in.ttl);
    const int64_t bytes = DocBytes(in.id, in.text, metadata, blob.size());
    AIK_RETURN_IF_ERROR(
        s->Charge(db, row, bytes - (old ? old->bytes : 0), old ? 0 : 1));
    int64_t rowid;
    if (old) {
      rowid = old->id;
      AIK_ASSIGN_OR_RETURN(
          Statement * st,
          s->W(db,
               "UPDATE docs SET version = ?1, text = ?2, metadata = ?3, "
               "embedding = ?4, created_ns = CASE WHEN ?8 THEN created_ns "
               "ELSE ?5 END, updated_ns = ?5, expires_ns = ?6 WHERE id = ?7"));
      Use u(st);
      AIK_RETURN_IF_ERROR(st->BindInt64(1, d.version));
      AIK_RETURN_IF_ERROR(st->BindTextNoCopy(2, in.text));
      AIK_RETURN_IF_ERROR(st->BindTextNoCopy(3, metadata));
      if (blob.empty()) {
        AIK_RETURN_IF_ERROR(st->BindNull(4));
      } else {
        AIK_RETURN_IF_ERROR(st->BindBlobNoCopy(4, blob.data(), blob.size()));
      }
      AIK_RETURN_IF_ERROR(st->BindInt64(5, now));
      AIK_RETURN_IF_ERROR(st->BindInt64(6, d.expires_ns));
      AIK_RETURN_IF_ERROR(st->BindInt64(7, rowid));
      AIK_RETURN_IF_ERROR(st->BindInt64(8, live ? 1 : 0));
      AIK_RETURN_IF_ERROR(st->Run());
      if (live) {
        AIK_ASSIGN_OR_RETURN(
            Statement * c,
            s->W(db, "SELECT created_ns FROM docs WHERE id = ?1"));
        Use u2(c);
        AIK_RETURN_IF_ERROR(c->BindInt64(1, rowid));
        AIK_ASSIGN_OR_RETURN(bool r, c->Step());
        if (r) d.created_ns = c->ColumnInt64(0);
      }
    } else {
      AIK_ASSIGN_OR_RETURN(
          Statement * st,
          s->W(db,
               "INSERT INTO docs(ns, doc_id, version, text, metadata, "
               "embedding, created_ns, updated_ns, expires_ns) VALUES (?1, "
               "?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8)"));
      Use u(st);
      AIK_RETURN_IF_ERROR(st->BindText(1, ns));
      AIK_RETURN_IF_ERROR(st->BindText(2, in.id));
      AIK_RETURN_IF_ERROR(st->BindInt64(3, d.version));
      AIK_RETURN_IF_ERROR(st->BindTextNoCopy(4, in.text));
      AIK_RETURN_IF_ERROR(st->BindTextNoCopy(5, metadata));
      if (blob.empty()) {
        AIK_RETURN_IF_ERROR(st->BindNull(6));
      } else {
        AIK_RETURN_IF_ERROR(st->BindBlobNoCopy(6, blob.data(), blob.size()));
      }
      AIK_RETURN_IF_ERROR(st->BindInt64(7, now));
      AIK_RETURN_IF_ERROR(st->BindInt64(8, d.expires_ns));
      AIK_RETURN_IF_ERROR(st->Run());
      rowid = db.LastInsertRowId();
    }
    internal::VectorDelta delta;
    delta.ns = std::string(ns);
    delta.id = rowid;
    if (!in.embedding.empty()) {
      delta.op = internal::VectorDelta::kUpsert;
      delta.v = in.embedding;
      delta.updated_ns = now;
      delta.expires_ns = d.expires_ns;
      s->pending.push_back(std::move(delta));
    } else if (old && old->had_embedding) {
      delta.op = internal::VectorDelta::kRemove;
      s->pending.push_back(std::move(delta));
    }
    return d;
  });
}

StatusOr<Document> Memory::GetDocument(std::string_view ns,
                                       std::string_view id) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (id.empty()) return internal::Invalid("id", "is empty");
  const int64_t now = s_->Now();
  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      lease.Stmt("SELECT version, text, metadata, embedding, created_ns, "
                 "updated_ns, expires_ns FROM docs WHERE ns = ?1 AND "
                 "doc_id = ?2 AND (expires_ns = 0 OR expires_ns > ?3)"));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_RETURN_IF_ERROR(st->BindText(2, id));
  AIK_RETURN_IF_ERROR(st->BindInt64(3, now));
  AIK_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) {
    AIK_ASSIGN_OR_RETURN(
        Statement * n, lease.Stmt("SELECT 1 FROM namespaces WHERE name = ?1"));
    Use u2(n);
    AIK_RETURN_IF_ERROR(n->BindText(1, ns));
    AIK_ASSIGN_OR_RETURN(bool exists, n->Step());
    if (!exists) return internal::NamespaceNotFound(ns);
    return absl::NotFoundError(absl::StrCat("memory ", AV(ns), " document \"",
                                            AV(id), "\" does not exist"));
  }
  Document d;
  d.id = std::string(id);
  d.version = st->ColumnInt64(0);
  d.text = std::string(st->ColumnText(1));
  d.metadata = std::string(st->ColumnText(2));
  if (!st->ColumnIsNull(3))
    internal::DecodeFloats(st->ColumnBlob(3), &d.embedding);
  d.created_ns = st->ColumnInt64(4);
  d.updated_ns = st->ColumnInt64(5);
  d.expires_ns = st->ColumnInt64(6);
  return d;
}

Status Memory::DeleteDocument(std::string_view ns, std::string_view id) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  if (id.empty()) return internal::Invalid("id", "is empty");
  Shared* s = s_.get();
  return s
      ->Write<bool>([s, ns, id](Database& db) -> StatusOr<bool> {
        AIK_ASSIGN_OR_RETURN(NsRow row, s->LoadNs(db, ns));
        const int64_t now = s->Now();
        AIK_ASSIGN_OR_RETURN(
            Statement * st,
            s->W(db,
                 "DELETE FROM docs WHERE ns = ?1 AND doc_id = ?2 RETURNING "
                 "id, expires_ns, length(CAST(doc_id AS BLOB)) + "
                 "length(CAST(text AS BLOB)) "
                 "+ length(CAST(metadata AS BLOB)) + ifnull(length(embedding), "
                 "0), "
                 "embedding IS NOT NULL"));
        Use u(st);
        AIK_RETURN_IF_ERROR(st->BindText(1, ns));
        AIK_RETURN_IF_ERROR(st->BindText(2, id));
        AIK_ASSIGN_OR_RETURN(bool r, st->Step());
        const int64_t expires = r ? st->ColumnInt64(1) : 0;
        if (!r || (expires != 0 && expires <= now)) {
          // An expired document is gone as far as callers can tell; the
          // purge job removes it (the savepoint undoes this delete).
          return absl::NotFoundError(absl::StrCat(
              "memory ", AV(ns), " document \"", AV(id), "\" does not exist"));
        }
        const int64_t rowid = st->ColumnInt64(0);
        const int64_t bytes = st->ColumnInt64(2);
        const bool had_embedding = st->ColumnInt64(3) != 0;
        AIK_ASSIGN_OR_RETURN(bool more, st->Step());
        (void)more;
        st->Reset();
        AIK_RETURN_IF_ERROR(s->Charge(db, row, -bytes, -1));
        if (had_embedding) {
          internal::VectorDelta d;
          d.op = internal::VectorDelta::kRemove;
          d.ns = std::string(ns);
          d.id = rowid;
          s->pending.push_back(std::move(d));
        }
        return true;
      })
      .status();
}

}  // namespace aikernel::memory
