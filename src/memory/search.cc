// Memory: search. Full-text (FTS5 BM25), vector (cosine over the in-memory
// VectorIndex) and hybrid ranking with caller-set weights, metadata and time
// filters.
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "memory/internal.h"

namespace aikernel::memory {

namespace {

// A metadata filter turned into SQL over alias `d`, with its binds.
struct SqlFilter {
  std::string sql;  // " AND ..." with ?NNN placeholders from `first`
  struct Bind {
    enum { kText, kInt, kDouble } type;
    std::string text;
    int64_t i = 0;
    double d = 0;
  };
  std::vector<Bind> binds;  // in placeholder order, from index `first`
};

StatusOr<SqlFilter> BuildFilters(const SearchQuery& q, int first) {
  SqlFilter f;
  int n = first;
  for (size_t i = 0; i < q.filters.size(); ++i) {
    const MetadataFilter& m = q.filters[i];
    const std::string field = absl::StrCat("filters[", i, "]");
    if (m.key.empty() || m.key.size() > 256 ||
        m.key.find_first_of("\"\\") != std::string::npos ||
        !internal::ValidUtf8(m.key)) {
      return internal::Invalid(field + ".key",
                               "must be 1..256 bytes without \" or \\");
    }
    nlohmann::json v = nlohmann::json::parse(m.value_json, nullptr, false);
    if (v.is_discarded() || v.is_object() || v.is_array()) {
      return internal::Invalid(field + ".value_json", "must be a JSON scalar");
    }
    SqlFilter::Bind path{SqlFilter::Bind::kText,
                         absl::StrCat("$.\"", m.key, "\"")};
    if (v.is_null()) {
      absl::StrAppend(&f.sql, " AND json_type(d.metadata, ?", n++,
                      ") = 'null'");
      f.binds.push_back(path);
      continue;
    }
    absl::StrAppend(&f.sql, " AND json_extract(d.metadata, ?", n, ") IS ?",
                    n + 1);
    n += 2;
    f.binds.push_back(path);
    if (v.is_string()) {
      f.binds.push_back({SqlFilter::Bind::kText, v.get<std::string>()});
    } else if (v.is_boolean()) {
      f.binds.push_back({SqlFilter::Bind::kInt, "", v.get<bool>() ? 1 : 0});
    } else if (v.is_number_integer()) {
      f.binds.push_back({SqlFilter::Bind::kInt, "", v.get<int64_t>()});
    } else {
      f.binds.push_back({SqlFilter::Bind::kDouble, "", 0, v.get<double>()});
    }
  }
  return f;
}

Status BindFilters(Statement& st, const SqlFilter& f, int first) {
  int n = first;
  for (const auto& b : f.binds) {
    switch (b.type) {
      case SqlFilter::Bind::kText:
        AIK_RETURN_IF_ERROR(st.BindText(n, b.text));
        break;
      case SqlFilter::Bind::kInt:
        AIK_RETURN_IF_ERROR(st.BindInt64(n, b.i));
        break;
      case SqlFilter::Bind::kDouble:
        if (sqlite3_bind_double(st.get(), n, b.d) != SQLITE_OK) {
          return absl::InternalError("sqlite: bind double");
        }
        break;
    }
    ++n;
  }
  return absl::OkStatus();
}

// The common WHERE part over `d`: ?1 ns, ?2 now, ?3 from, ?4 to.
constexpr char kBaseWhere[] =
    "d.ns = ?1 AND (d.expires_ns = 0 OR d.expires_ns > ?2) AND "
    "d.updated_ns >= ?3 AND d.updated_ns < ?4";
constexpr int kFirstFilterBind = 10;

Status BindBase(Statement& st, std::string_view ns, int64_t now,
                const SearchQuery& q) {
  AIK_RETURN_IF_ERROR(st.BindText(1, ns));
  AIK_RETURN_IF_ERROR(st.BindInt64(2, now));
  AIK_RETURN_IF_ERROR(st.BindInt64(3, q.updated_from_ns));
  return st.BindInt64(4, q.updated_to_ns);
}

Status CheckQuery(const SearchQuery& q) {
  if (q.k == 0 || q.k > 1000) return internal::Invalid("k", "must be 1..1000");
  for (auto [name, w] : {std::pair{"text_weight", q.text_weight},
                         std::pair{"vector_weight", q.vector_weight},
                         std::pair{"recency_weight", q.recency_weight}}) {
    if (!std::isfinite(w) || w < 0) {
      return internal::Invalid(name, "must be a finite number >= 0");
    }
  }
  if (q.recency_weight > 0 && q.recency_half_life.count() <= 0) {
    return internal::Invalid("recency_half_life", "must be positive");
  }
  if (q.updated_from_ns > q.updated_to_ns) {
    return internal::Invalid("updated_from_ns", "is after updated_to_ns");
  }
  if (q.candidates > 100000) {
    return internal::Invalid("candidates", "must be at most 100000");
  }
  AIK_RETURN_IF_ERROR(internal::CheckEmbedding(q.embedding, "embedding"));
  const bool text = !q.text.empty() && q.text_weight > 0;
  const bool vec = !q.embedding.empty() && q.vector_weight > 0;
  if (!text && !vec && q.recency_weight <= 0) {
    return internal::Invalid(
        "query", "needs text, an embedding or recency, with a weight > 0");
  }
  return absl::OkStatus();
}

struct Candidate {
  bool text = false;
  double bm25 = 0;
  bool vec = false;
  double cosine = 0;
};

}  // namespace

StatusOr<std::vector<SearchHit>> Memory::Search(std::string_view ns,
                                                const SearchQuery& q) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(ns));
  AIK_RETURN_IF_ERROR(CheckQuery(q));
  AIK_ASSIGN_OR_RETURN(SqlFilter filters, BuildFilters(q, kFirstFilterBind));
  const bool use_text = !q.text.empty() && q.text_weight > 0;
  const bool use_vec = !q.embedding.empty() && q.vector_weight > 0;
  const bool use_rec = q.recency_weight > 0;
  const int signals = int{use_text} + int{use_vec} + int{use_rec};
  // One signal: its own top k is the answer. Several: pool candidates.
  const size_t n =
      signals == 1
          ? q.k
          : (q.candidates > 0 ? q.candidates : std::max<size_t>(10 * q.k, 100));
  const int64_t now = s_->Now();

  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  AIK_RETURN_IF_ERROR(lease.BeginSnapshot());

  int64_t dim = 0;
  {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        lease.Stmt("SELECT dim FROM namespaces WHERE name = ?1"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, ns));
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) return internal::NamespaceNotFound(ns);
    dim = st->ColumnInt64(0);
  }
  if (!q.embedding.empty() && dim != 0 &&
      static_cast<size_t>(dim) != q.embedding.size()) {
    return internal::Invalid(
        "embedding",
        absl::StrCat("dimension ", q.embedding.size(),
                     " does not match namespace ", AV(ns), " dimension ", dim));
  }

  std::unordered_map<int64_t, Candidate> cand;
  std::vector<int64_t> order;  // first-seen order, for determinism
  auto touch = [&](int64_t id) -> Candidate& {
    auto [it, inserted] = cand.try_emplace(id);
    if (inserted) order.push_back(id);
    return it->second;
  };

  // Text candidates: FTS5 drives the join (CROSS JOIN keeps that order).
  double best_bm25 = 0;
  if (use_text) {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        lease.Stmt(absl::StrCat(
            "SELECT d.id, bm25(docs_fts) AS r FROM docs_fts CROSS JOIN docs "
            "d ON d.id = docs_fts.rowid WHERE docs_fts MATCH ?5 AND ",
            kBaseWhere, filters.sql, " ORDER BY r LIMIT ?6")));
    Use u(st);
    AIK_RETURN_IF_ERROR(BindBase(*st, ns, now, q));
    AIK_RETURN_IF_ERROR(st->BindText(5, q.text));
    AIK_RETURN_IF_ERROR(st->BindInt64(6, static_cast<int64_t>(n)));
    AIK_RETURN_IF_ERROR(BindFilters(*st, filters, kFirstFilterBind));
    for (;;) {
      StatusOr<bool> row = st->Step();
      if (!row.ok()) {
        // SQLITE_ERROR while matching is FTS5 rejecting the query syntax.
        if (absl::IsInternal(row.status())) {
          return internal::Invalid("text",
                                   absl::StrCat("is not a valid FTS5 query: ",
                                                row.status().message()));
        }
        return row.status();
      }
      if (!*row) break;
      Candidate& c = touch(st->ColumnInt64(0));
      c.text = true;
      c.bm25 = static_cast<double>(sqlite3_column_double(st->get(), 1));
      best_bm25 = std::min(best_bm25, c.bm25);
    }
  }

  // Vector candidates: brute-force scan of the namespace's vectors.
  std::shared_ptr<internal::NsVectors> vecs;
  std::shared_lock<std::shared_mutex> vec_lock;
  if (!q.embedding.empty() && dim != 0 && q.vector_weight > 0) {
    for (;;) {
      AIK_ASSIGN_OR_RETURN(vecs, s_->Vectors(ns));
      vec_lock = std::shared_lock<std::shared_mutex>(vecs->mu);
      if (vecs->loaded) break;
      vec_lock.unlock();
    }
    if (use_vec && vecs->index && vecs->index->dim() == q.embedding.size()) {
      std::vector<int64_t> allowed;
      VectorFilter vf;
      vf.now_ns = now;
      vf.updated_from_ns = q.updated_from_ns;
      vf.updated_to_ns = q.updated_to_ns;
      if (!q.filters.empty()) {
        AIK_ASSIGN_OR_RETURN(
            Statement * st,
            lease.Stmt(absl::StrCat("SELECT d.id FROM docs d WHERE ",
                                    kBaseWhere, filters.sql,
                                    " AND d.embedding IS NOT NULL "
                                    "ORDER BY d.id")));
        Use u(st);
        AIK_RETURN_IF_ERROR(BindBase(*st, ns, now, q));
        AIK_RETURN_IF_ERROR(BindFilters(*st, filters, kFirstFilterBind));
        for (;;) {
          AIK_ASSIGN_OR_RETURN(bool row, st->Step());
          if (!row) break;
          allowed.push_back(st->ColumnInt64(0));
        }
        vf.allowed = &allowed;
      }
      for (const VectorHit& h : vecs->index->TopK(q.embedding.data(), n, vf)) {
        Candidate& c = touch(h.id);
        c.vec = true;
        c.cosine = h.score;
      }
    }
  }

  // Recency candidates, only when no text or vector signal picks them.
  if (use_rec && !use_text && !use_vec) {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        lease.Stmt(absl::StrCat("SELECT d.id FROM docs d WHERE ", kBaseWhere,
                                filters.sql,
                                " ORDER BY d.updated_ns DESC, d.id LIMIT ?6")));
    Use u(st);
    AIK_RETURN_IF_ERROR(BindBase(*st, ns, now, q));
    AIK_RETURN_IF_ERROR(st->BindInt64(6, static_cast<int64_t>(n)));
    AIK_RETURN_IF_ERROR(BindFilters(*st, filters, kFirstFilterBind));
    for (;;) {
      AIK_ASSIGN_OR_RETURN(bool row, st->Step());
      if (!row) break;
      touch(st->ColumnInt64(0));
    }
  }

  // Score every candidate from its row in this snapshot.
  AIK_ASSIGN_OR_RETURN(
      Statement * fetch,
      lease.Stmt("SELECT doc_id, version, text, metadata, embedding, "
                 "created_ns, updated_ns, expires_ns FROM docs WHERE id = ?1"));
  std::vector<std::pair<int64_t, SearchHit>> hits;
  hits.reserve(order.size());
  const double half_life = static_cast<double>(q.recency_half_life.count());
  for (int64_t id : order) {
    Use u(fetch);
    AIK_RETURN_IF_ERROR(fetch->BindInt64(1, id));
    AIK_ASSIGN_OR_RETURN(bool row, fetch->Step());
    if (!row) continue;  // deleted after the vector scan
    SearchHit h;
    Document& d = h.document;
    d.id = std::string(fetch->ColumnText(0));
    d.version = fetch->ColumnInt64(1);
    d.text = std::string(fetch->ColumnText(2));
    d.metadata = std::string(fetch->ColumnText(3));
    if (q.include_embeddings && !fetch->ColumnIsNull(4)) {
      internal::DecodeFloats(fetch->ColumnBlob(4), &d.embedding);
    }
    d.created_ns = fetch->ColumnInt64(5);
    d.updated_ns = fetch->ColumnInt64(6);
    d.expires_ns = fetch->ColumnInt64(7);
    const Candidate& c = cand[id];
    if (c.text) {
      h.bm25 = c.bm25;
      h.text_score = best_bm25 < 0 ? c.bm25 / best_bm25 : 0;
    }
    if (c.vec) {
      h.vector_score = c.cosine;
    } else if (use_vec && vecs && vecs->index) {
      float sc;
      if (vecs->index->Score(id, q.embedding.data(), &sc)) h.vector_score = sc;
    }
    if (use_rec) {
      const double age =
          static_cast<double>(std::max<int64_t>(0, now - d.updated_ns));
      h.recency_score = std::exp2(-age / half_life);
    }
    h.score = (use_text ? q.text_weight * h.text_score : 0) +
              (use_vec ? q.vector_weight * h.vector_score : 0) +
              (use_rec ? q.recency_weight * h.recency_score : 0);
    hits.emplace_back(id, std::move(h));
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) {
    if (a.second.score != b.second.score)
      return a.second.score > b.second.score;
    return a.first < b.first;
  });
  if (hits.size() > q.k) hits.resize(q.k);
  std::vector<SearchHit> out;
  out.reserve(hits.size());
  for (auto& [id, h] : hits) out.push_back(std::move(h));
  return out;
}

}  // namespace aikernel::memory
