// Memory: open/close, the read pool, namespaces, quota accounting and the
// in-memory vector sets' life cycle.
#include "memory/memory.h"

#include <chrono>
#include <cstring>

#include "memory/internal.h"

namespace aikernel::memory {

namespace {

// The writer's idle hook: one purge pass.
class PurgeJob final : public store::Job {
 public:
  explicit PurgeJob(Memory::Shared* s) : s_(s) {}
  Status Run(Database& db) override {
    s_->last_purge = std::chrono::steady_clock::now();
    return s_->Purge(db).status();
  }
  void Complete(Status) override {}
  bool Isolated() const override { return true; }

 private:
  Memory::Shared* s_;
};

NamespaceInfo ToInfo(const NsRow& r) {
  NamespaceInfo i;
  i.name = r.name;
  i.max_bytes = r.max_bytes;
  i.max_records = r.max_records;
  i.dim = r.dim;
  i.used_bytes = r.used_bytes;
  i.used_records = r.used_records;
  i.created_ns = r.created_ns;
  return i;
}

constexpr char kNsColumns[] =
    "name, max_bytes, max_records, dim, used_bytes, used_records, "
    "next_event_seq, created_ns";

NsRow ReadNsRow(const Statement& st) {
  NsRow r;
  r.name = std::string(st.ColumnText(0));
  r.max_bytes = st.ColumnInt64(1);
  r.max_records = st.ColumnInt64(2);
  r.dim = static_cast<int32_t>(st.ColumnInt64(3));
  r.used_bytes = st.ColumnInt64(4);
  r.used_records = st.ColumnInt64(5);
  r.next_event_seq = st.ColumnInt64(6);
  r.created_ns = st.ColumnInt64(7);
  return r;
}

}  // namespace

// ---- open / close ----

StatusOr<std::unique_ptr<Memory>> Memory::Open(MemoryOptions options) {
  if (options.path.empty()) return internal::Invalid("path", "is empty");
  if (!options.now_ns) {
    options.now_ns = [] {
      return std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  store::DatabaseOptions dbo;
  dbo.path = options.path;
  dbo.synchronous = options.synchronous;
  dbo.cache_size = -64 * 1024;  // 64 MiB
  AIK_ASSIGN_OR_RETURN(auto db, Database::Open(dbo));
  AIK_RETURN_IF_ERROR(db->Migrate(internal::kMigrations).status());

  auto s = std::make_unique<Shared>();
  s->opt = std::move(options);
  Shared* raw = s.get();
  store::WriterOptions wo;
  wo.max_batch = s->opt.max_batch;
  wo.thread_name = "aik-memory";
  wo.after_commit = [raw] { raw->ApplyPending(); };
  wo.on_rollback = [raw] { raw->pending.clear(); };
  wo.fault_before_commit = s->opt.fault_before_commit;
  if (s->opt.purge_interval.count() > 0) {
    wo.before_commit = [raw](Database& db) -> Status {
      raw->MaybePurge(db);
      return absl::OkStatus();
    };
    wo.idle_interval = s->opt.purge_interval;
    wo.on_idle = [raw]() -> std::unique_ptr<store::Job> {
      return std::make_unique<PurgeJob>(raw);
    };
  }
  s->writer = store::Writer::Start(std::move(db), std::move(wo));
  return std::unique_ptr<Memory>(new Memory(std::move(s)));
}

Memory::Memory(std::unique_ptr<Shared> s) : s_(std::move(s)) {}

Memory::~Memory() { Close(); }

void Memory::Close() {
  s_->closed.store(true);
  if (s_->writer) s_->writer->Close();
  std::lock_guard<std::mutex> l(s_->pool_mu);
  s_->pool.clear();
}

// ---- read pool ----

Memory::Shared::Lease::~Lease() {
  if (!c_) return;
  if (in_txn_) c_->db->Exec("COMMIT").IgnoreError();
  std::lock_guard<std::mutex> l(s_->pool_mu);
  if (!s_->closed.load() && s_->pool.size() < s_->opt.read_pool) {
    s_->pool.push_back(std::move(c_));
  }
}

Status Memory::Shared::Lease::BeginSnapshot() {
  AIK_RETURN_IF_ERROR(c_->db->Exec("BEGIN"));
  in_txn_ = true;
  return absl::OkStatus();
}

StatusOr<Memory::Shared::Lease> Memory::Shared::Read() {
  if (closed.load()) return absl::UnavailableError("memory is closed");
  {
    std::lock_guard<std::mutex> l(pool_mu);
    if (!pool.empty()) {
      auto c = std::move(pool.back());
      pool.pop_back();
      return Lease(this, std::move(c));
    }
  }
  store::DatabaseOptions o;
  o.path = opt.path;
  o.read_only = true;
  o.mmap_size = int64_t{1} << 30;
  o.cache_size = -32 * 1024;
  AIK_ASSIGN_OR_RETURN(auto db, Database::Open(o));
  auto c = std::make_unique<internal::ReadConn>();
  c->db = std::move(db);
  return Lease(this, std::move(c));
}

// ---- namespace rows (writer thread) ----

StatusOr<NsRow> Memory::Shared::LoadNs(Database& db, std::string_view ns) {
  AIK_ASSIGN_OR_RETURN(Statement * st,
                       W(db, absl::StrCat("SELECT ", kNsColumns,
                                          " FROM namespaces WHERE name = ?1")));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, ns));
  AIK_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return internal::NamespaceNotFound(ns);
  return ReadNsRow(*st);
}

Status Memory::Shared::Charge(Database& db, NsRow& row, int64_t bytes,
                              int64_t records) {
  if (bytes > 0 && row.max_bytes > 0 &&
      row.used_bytes + bytes > row.max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("memory namespace ", row.name,
                     ": byte quota exceeded: limit ", row.max_bytes, ", used ",
                     row.used_bytes, ", this write needs ", bytes, " more"));
  }
  if (records > 0 && row.max_records > 0 &&
      row.used_records + records > row.max_records) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "memory namespace ", row.name, ": record quota exceeded: limit ",
        row.max_records, ", used ", row.used_records, ", this write needs ",
        records, " more"));
  }
  if (bytes == 0 && records == 0) return absl::OkStatus();
  row.used_bytes = std::max<int64_t>(0, row.used_bytes + bytes);
  row.used_records = std::max<int64_t>(0, row.used_records + records);
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      W(db,
        "UPDATE namespaces SET used_bytes = ?1, used_records = ?2 "
        "WHERE name = ?3"));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindInt64(1, row.used_bytes));
  AIK_RETURN_IF_ERROR(st->BindInt64(2, row.used_records));
  AIK_RETURN_IF_ERROR(st->BindText(3, row.name));
  return st->Run();
}

Status Memory::Shared::CheckDim(Database& db, NsRow& row, size_t dim,
                                std::string_view field) {
  if (dim == 0) return absl::OkStatus();
  if (row.dim == 0) {
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        W(db, "UPDATE namespaces SET dim = ?1 WHERE name = ?2"));
    Use u(st);
    AIK_RETURN_IF_ERROR(st->BindInt64(1, static_cast<int64_t>(dim)));
    AIK_RETURN_IF_ERROR(st->BindText(2, row.name));
    AIK_RETURN_IF_ERROR(st->Run());
    row.dim = static_cast<int32_t>(dim);
    return absl::OkStatus();
  }
  if (static_cast<size_t>(row.dim) != dim) {
    return internal::Invalid(
        field, absl::StrCat("dimension ", dim, " does not match namespace ",
                            row.name, " dimension ", row.dim));
  }
  return absl::OkStatus();
}

// ---- namespaces ----

namespace {
Status CheckConfig(const NamespaceConfig& c) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(c.name));
  if (c.dim < 0 || c.dim > 4096) {
    return internal::Invalid("dim", "must be 0..4096");
  }
  return absl::OkStatus();
}
}  // namespace

StatusOr<NamespaceInfo> Memory::CreateNamespace(const NamespaceConfig& c) {
  AIK_RETURN_IF_ERROR(CheckConfig(c));
  Shared* s = s_.get();
  return s->Write<NamespaceInfo>(
      [s, c](Database& db) -> StatusOr<NamespaceInfo> {
        StatusOr<NsRow> existing = s->LoadNs(db, c.name);
        if (existing.ok()) {
          return absl::FailedPreconditionError(
              absl::StrCat("memory namespace ", c.name, " already exists"));
        }
        if (!absl::IsNotFound(existing.status())) return existing.status();
        NsRow r;
        r.name = c.name;
        r.max_bytes = c.max_bytes < 0 ? s->opt.default_max_bytes : c.max_bytes;
        r.max_records =
            c.max_records < 0 ? s->opt.default_max_records : c.max_records;
        r.dim = c.dim;
        r.created_ns = s->Now();
        AIK_ASSIGN_OR_RETURN(
            Statement * st,
            s->W(db,
                 "INSERT INTO namespaces(name, max_bytes, max_records, dim, "
                 "created_ns) VALUES (?1, ?2, ?3, ?4, ?5)"));
        Use u(st);
        AIK_RETURN_IF_ERROR(st->BindText(1, r.name));
        AIK_RETURN_IF_ERROR(st->BindInt64(2, r.max_bytes));
        AIK_RETURN_IF_ERROR(st->BindInt64(3, r.max_records));
        AIK_RETURN_IF_ERROR(st->BindInt64(4, r.dim));
        AIK_RETURN_IF_ERROR(st->BindInt64(5, r.created_ns));
        AIK_RETURN_IF_ERROR(st->Run());
        return ToInfo(r);
      });
}

StatusOr<NamespaceInfo> Memory::EnsureNamespace(const NamespaceConfig& c) {
  StatusOr<NamespaceInfo> got = GetNamespace(c.name);
  if (got.ok() || !absl::IsNotFound(got.status())) return got;
  StatusOr<NamespaceInfo> made = CreateNamespace(c);
  if (absl::IsFailedPrecondition(made.status())) return GetNamespace(c.name);
  return made;
}

StatusOr<NamespaceInfo> Memory::GetNamespace(std::string_view name) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(name));
  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      lease.Stmt(absl::StrCat("SELECT ", kNsColumns,
                              " FROM namespaces WHERE name = ?1")));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, name));
  AIK_ASSIGN_OR_RETURN(bool row, st->Step());
  if (!row) return internal::NamespaceNotFound(name);
  return ToInfo(ReadNsRow(*st));
}

StatusOr<std::vector<NamespaceInfo>> Memory::ListNamespaces(
    std::string_view prefix) {
  AIK_ASSIGN_OR_RETURN(auto lease, s_->Read());
  AIK_ASSIGN_OR_RETURN(
      Statement * st,
      lease.Stmt(absl::StrCat("SELECT ", kNsColumns,
                              " FROM namespaces WHERE name >= ?1 AND "
                              "(?2 = '' OR name < ?2) ORDER BY name")));
  Use u(st);
  AIK_RETURN_IF_ERROR(st->BindText(1, prefix));
  AIK_RETURN_IF_ERROR(st->BindText(2, internal::PrefixEnd(prefix)));
  std::vector<NamespaceInfo> out;
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, st->Step());
    if (!row) break;
    out.push_back(ToInfo(ReadNsRow(*st)));
  }
  return out;
}

Status Memory::SetQuota(std::string_view name, int64_t max_bytes,
                        int64_t max_records) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(name));
  if (max_bytes < 0) return internal::Invalid("max_bytes", "must be >= 0");
  if (max_records < 0) return internal::Invalid("max_records", "must be >= 0");
  Shared* s = s_.get();
  std::string n(name);
  return s
      ->Write<bool>(
          [s, n, max_bytes, max_records](Database& db) -> StatusOr<bool> {
            AIK_RETURN_IF_ERROR(s->LoadNs(db, n).status());
            AIK_ASSIGN_OR_RETURN(
                Statement * st,
                s->W(db,
                     "UPDATE namespaces SET max_bytes = ?1, max_records = ?2 "
                     "WHERE name = ?3"));
            Use u(st);
            AIK_RETURN_IF_ERROR(st->BindInt64(1, max_bytes));
            AIK_RETURN_IF_ERROR(st->BindInt64(2, max_records));
            AIK_RETURN_IF_ERROR(st->BindText(3, n));
            AIK_RETURN_IF_ERROR(st->Run());
            return true;
          })
      .status();
}

Status Memory::DropNamespace(std::string_view name) {
  AIK_RETURN_IF_ERROR(internal::CheckNamespaceName(name));
  Shared* s = s_.get();
  std::string n(name);
  return s
      ->Write<bool>([s, n](Database& db) -> StatusOr<bool> {
        AIK_RETURN_IF_ERROR(s->LoadNs(db, n).status());
        for (const char* sql : {"DELETE FROM kv WHERE ns = ?1",
                                "DELETE FROM kv_head WHERE ns = ?1",
                                "DELETE FROM events WHERE ns = ?1",
                                "DELETE FROM docs WHERE ns = ?1",
                                "DELETE FROM namespaces WHERE name = ?1"}) {
          AIK_ASSIGN_OR_RETURN(Statement * st, s->W(db, sql));
          Use u(st);
          AIK_RETURN_IF_ERROR(st->BindText(1, n));
          AIK_RETURN_IF_ERROR(st->Run());
        }
        internal::VectorDelta d;
        d.op = internal::VectorDelta::kDrop;
        d.ns = n;
        s->pending.push_back(std::move(d));
        return true;
      })
      .status();
}

// ---- vectors ----

void Memory::Shared::ApplyPending() {
  for (auto& d : pending) {
    std::shared_ptr<internal::NsVectors> p;
    {
      std::lock_guard<std::mutex> l(vec_mu);
      auto it = vectors.find(d.ns);
      if (it == vectors.end()) continue;
      p = it->second;
      if (d.op == internal::VectorDelta::kDrop) vectors.erase(it);
    }
    std::unique_lock<std::shared_mutex> l(p->mu);
    if (d.op == internal::VectorDelta::kDrop) {
      p->dropped = true;
      p->loaded = false;
      p->index.reset();
      p->backlog.clear();
      continue;
    }
    if (p->loading) {
      p->backlog.push_back(d);
      continue;
    }
    if (!p->loaded) continue;
    ApplyDelta(*p, d);
  }
  pending.clear();
}

void Memory::Shared::ApplyDelta(internal::NsVectors& p,
                                const internal::VectorDelta& d) {
  if (d.op == internal::VectorDelta::kUpsert) {
    if (!p.index) {
      p.index = std::make_unique<VectorIndex>(
          d.v.size(), opt.quantize_min_rows, opt.rerank_factor);
    }
    if (p.index->dim() == d.v.size()) {
      p.index->Upsert(d.id, d.v.data(), d.updated_ns, d.expires_ns);
    }
  } else if (d.op == internal::VectorDelta::kRemove && p.index) {
    p.index->Remove(d.id);
  }
}

StatusOr<std::shared_ptr<internal::NsVectors>> Memory::Shared::Vectors(
    std::string_view ns) {
  std::shared_ptr<internal::NsVectors> p;
  {
    std::lock_guard<std::mutex> l(vec_mu);
    auto it = vectors.find(ns);
    if (it == vectors.end()) {
      it = vectors
               .emplace(std::string(ns),
                        std::make_shared<internal::NsVectors>())
               .first;
    }
    p = it->second;
  }
  {
    std::shared_lock<std::shared_mutex> l(p->mu);
    if (p->loaded || p->dropped) return p;
  }
  // Load without blocking the writer: from here on the writer parks this
  // namespace's changes in `backlog`; the snapshot starts after that, so
  // every change it misses is in the backlog. Replaying the backlog in
  // commit order on top of the snapshot gives the current state, because
  // each change is absolute (set row r to v / remove row r) and row ids are
  // never reused (docs/memory.md, "Vectors").
  std::lock_guard<std::mutex> load_lock(p->load_mu);
  {
    std::unique_lock<std::shared_mutex> l(p->mu);
    if (p->loaded || p->dropped) return p;
    p->loading = true;
    p->backlog.clear();
  }
  std::unique_ptr<VectorIndex> index;
  auto load = [&]() -> Status {
    AIK_ASSIGN_OR_RETURN(auto lease, Read());
    AIK_RETURN_IF_ERROR(lease.BeginSnapshot());
    AIK_ASSIGN_OR_RETURN(
        Statement * ns_st,
        lease.Stmt("SELECT dim FROM namespaces WHERE name = ?1"));
    Use u(ns_st);
    AIK_RETURN_IF_ERROR(ns_st->BindText(1, ns));
    AIK_ASSIGN_OR_RETURN(bool row, ns_st->Step());
    if (!row) return internal::NamespaceNotFound(ns);
    const int64_t dim = ns_st->ColumnInt64(0);
    if (dim <= 0) return absl::OkStatus();
    index = std::make_unique<VectorIndex>(
        static_cast<size_t>(dim), opt.quantize_min_rows, opt.rerank_factor);
    AIK_ASSIGN_OR_RETURN(
        Statement * st,
        lease.Stmt("SELECT id, embedding, updated_ns, expires_ns FROM docs "
                   "WHERE ns = ?1 AND embedding IS NOT NULL ORDER BY id"));
    Use u2(st);
    AIK_RETURN_IF_ERROR(st->BindText(1, ns));
    std::vector<float> v(static_cast<size_t>(dim));
    for (;;) {
      AIK_ASSIGN_OR_RETURN(bool r, st->Step());
      if (!r) break;
      std::string_view blob = st->ColumnBlob(1);
      if (blob.size() != v.size() * sizeof(float)) continue;
      std::memcpy(v.data(), blob.data(), blob.size());
      index->Upsert(st->ColumnInt64(0), v.data(), st->ColumnInt64(2),
                    st->ColumnInt64(3));
    }
    return absl::OkStatus();
  };
  Status s = load();
  std::unique_lock<std::shared_mutex> l(p->mu);
  p->loading = false;
  if (!s.ok()) {
    p->backlog.clear();
    return s;
  }
  if (p->dropped) return p;
  p->index = std::move(index);
  for (const auto& d : p->backlog) ApplyDelta(*p, d);
  p->backlog.clear();
  p->loaded = true;
  return p;
}

}  // namespace aikernel::memory
