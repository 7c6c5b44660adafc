#include "net/mailbox.h"

#include <atomic>
#include <unordered_map>

namespace aikernel::net {
namespace {

using store::Database;
using store::Statement;

const store::Migrations kMigrations = {
    R"sql(
CREATE TABLE inbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  recipient TEXT NOT NULL,
  sender TEXT NOT NULL,
  message_id TEXT NOT NULL,
  sender_node TEXT NOT NULL DEFAULT '',
  topic TEXT NOT NULL,
  payload BLOB,
  sent_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL DEFAULT 0,
  correlation TEXT NOT NULL,
  visible_ns INTEGER NOT NULL DEFAULT 0,
  deliveries INTEGER NOT NULL DEFAULT 0,
  acked_ns INTEGER NOT NULL DEFAULT 0,
  UNIQUE(recipient, sender, message_id));
CREATE INDEX inbox_pending ON inbox(recipient, acked_ns, seq);
CREATE TABLE outbox(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  peer TEXT NOT NULL,
  sender TEXT NOT NULL,
  recipient TEXT NOT NULL,
  message_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB,
  sent_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL DEFAULT 0,
  correlation TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_ns INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  delivered_ns INTEGER NOT NULL DEFAULT 0,
  UNIQUE(sender, recipient, message_id));
CREATE INDEX outbox_pending ON outbox(peer, delivered_ns, seq);
CREATE TABLE peers(
  name TEXT PRIMARY KEY,
  trust_domain TEXT NOT NULL UNIQUE,
  address TEXT NOT NULL,
  bundle TEXT NOT NULL,
  source TEXT NOT NULL,
  added_ns INTEGER NOT NULL);
)sql",
};

constexpr char kInboxCols[] =
    "seq, recipient, sender, message_id, sender_node, topic, payload, sent_ns, expires_ns, "
    "correlation, deliveries, acked_ns";

StoredMessage InboxRow(const Statement& st) {
  StoredMessage m;
  m.seq = st.ColumnInt64(0);
  m.env.recipient = std::string(st.ColumnText(1));
  m.env.sender = std::string(st.ColumnText(2));
  m.env.message_id = std::string(st.ColumnText(3));
  m.env.sender_node = std::string(st.ColumnText(4));
  m.env.topic = std::string(st.ColumnText(5));
  m.env.payload = std::string(st.ColumnBlob(6));
  m.env.sent_ns = st.ColumnInt64(7);
  m.env.expires_ns = st.ColumnInt64(8);
  m.env.correlation = std::string(st.ColumnText(9));
  m.deliveries = st.ColumnInt64(10);
  m.acked_ns = st.ColumnInt64(11);
  return m;
}

constexpr char kOutboxCols[] =
    "seq, peer, sender, recipient, message_id, topic, payload, sent_ns, expires_ns, "
    "correlation, attempts, next_ns, last_error, delivered_ns";

OutboxRow OutboxRowOf(const Statement& st) {
  OutboxRow r;
  r.seq = st.ColumnInt64(0);
  r.peer = std::string(st.ColumnText(1));
  r.env.sender = std::string(st.ColumnText(2));
  r.env.recipient = std::string(st.ColumnText(3));
  r.env.message_id = std::string(st.ColumnText(4));
  r.env.topic = std::string(st.ColumnText(5));
  r.env.payload = std::string(st.ColumnBlob(6));
  r.env.sent_ns = st.ColumnInt64(7);
  r.env.expires_ns = st.ColumnInt64(8);
  r.env.correlation = std::string(st.ColumnText(9));
  r.attempts = st.ColumnInt64(10);
  r.next_ns = st.ColumnInt64(11);
  r.last_error = std::string(st.ColumnText(12));
  r.delivered_ns = st.ColumnInt64(13);
  return r;
}

// Binds the envelope's fields as ?1..?9 in the order the INSERTs name them.
Status BindEnvelope(Statement& st, const Envelope& e) {
  AIK_RETURN_IF_ERROR(st.BindText(1, e.recipient));
  AIK_RETURN_IF_ERROR(st.BindText(2, e.sender));
  AIK_RETURN_IF_ERROR(st.BindText(3, e.message_id));
  AIK_RETURN_IF_ERROR(st.BindText(4, e.sender_node));
  AIK_RETURN_IF_ERROR(st.BindText(5, e.topic));
  AIK_RETURN_IF_ERROR(st.BindBlob(6, e.payload));
  AIK_RETURN_IF_ERROR(st.BindInt64(7, e.sent_ns));
  AIK_RETURN_IF_ERROR(st.BindInt64(8, e.expires_ns));
  return st.BindText(9, e.correlation);
}

}  // namespace

struct Mailbox::Shared {
  MailboxOptions opt;
  std::unique_ptr<store::Writer> writer;
  // Prepared statements by SQL text; used only by the writer role's holder.
  std::unordered_map<std::string, Statement> stmts;

  std::mutex wait_mu;
  std::condition_variable wait_cv;
  std::map<std::string, uint64_t> inbox_versions;  // GUARDED_BY(wait_mu)
  uint64_t outbox_version = 0;                     // GUARDED_BY(wait_mu)
  bool closed = false;                             // GUARDED_BY(wait_mu)

  StatusOr<Statement*> Stmt(Database& db, const std::string& sql) {
    auto it = stmts.find(sql);
    if (it == stmts.end()) {
      AIK_ASSIGN_OR_RETURN(Statement st, db.Prepare(sql));
      it = stmts.emplace(sql, std::move(st)).first;
    }
    it->second.Reset();
    return &it->second;
  }

  template <typename T>
  StatusOr<T> Write(const std::function<StatusOr<T>(Database&)>& fn) {
    return writer->RunValue<T>(fn);
  }

  uint64_t InboxVersion(const std::string& r) {
    auto it = inbox_versions.find(r);
    return it == inbox_versions.end() ? 0 : it->second;
  }

  void Purge(Database& db) {
    auto st = Stmt(db,
                   "DELETE FROM inbox WHERE expires_ns != 0 AND expires_ns <= ?1");
    if (st.ok()) {
      (void)(*st)->BindInt64(1, opt.now_ns());
      (*st)->Run().IgnoreError();
    }
    auto ob = Stmt(db, "DELETE FROM outbox WHERE expires_ns != 0 AND expires_ns <= ?1");
    if (ob.ok()) {
      (void)(*ob)->BindInt64(1, opt.now_ns());
      (*ob)->Run().IgnoreError();
    }
  }
};

namespace {

class PurgeJob final : public store::Job {
 public:
  explicit PurgeJob(std::function<void(Database&)> fn) : fn_(std::move(fn)) {}
  Status Run(Database& db) override {
    fn_(db);
    return absl::OkStatus();
  }
  void Complete(Status) override {}
  bool Isolated() const override { return true; }

 private:
  std::function<void(Database&)> fn_;
};

}  // namespace

StatusOr<std::unique_ptr<Mailbox>> Mailbox::Open(MailboxOptions options) {
  if (options.path.empty()) return absl::InvalidArgumentError("mailbox: path is empty");
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
  AIK_ASSIGN_OR_RETURN(auto db, Database::Open(dbo));
  AIK_RETURN_IF_ERROR(db->Migrate(kMigrations).status());
  auto s = std::make_unique<Shared>();
  s->opt = std::move(options);
  Shared* raw = s.get();
  store::WriterOptions wo;
  wo.thread_name = "aik-messages";
  if (s->opt.purge_interval.count() > 0) {
    wo.idle_interval = s->opt.purge_interval;
    wo.on_idle = [raw]() -> std::unique_ptr<store::Job> {
      return std::make_unique<PurgeJob>([raw](Database& db) { raw->Purge(db); });
    };
  }
  s->writer = store::Writer::Start(std::move(db), std::move(wo));
  return std::unique_ptr<Mailbox>(new Mailbox(std::move(s)));
}

Mailbox::Mailbox(std::unique_ptr<Shared> s) : s_(std::move(s)) {}

Mailbox::~Mailbox() { Close(); }

void Mailbox::Close() {
  {
    std::lock_guard<std::mutex> l(s_->wait_mu);
    if (s_->closed) return;
    s_->closed = true;
  }
  s_->wait_cv.notify_all();
  s_->writer->Close();
  s_->stmts.clear();
}

namespace {

// The inbox and the outbox store a message the same way: insert unless its
// key (recipient, sender, message_id) is there, else report the stored one.
struct Box {
  const char* insert;  // binds BindEnvelope's ?1..?9 (the outbox: ?4 its peer)
  const char* find;    // ?1 recipient, ?2 sender, ?3 message_id
};
constexpr Box kInbox{
    "INSERT OR IGNORE INTO inbox(recipient, sender, message_id, sender_node, topic, payload, "
    "sent_ns, expires_ns, correlation) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    "SELECT seq, correlation FROM inbox WHERE recipient = ?1 AND sender = ?2 AND "
    "message_id = ?3"};
constexpr Box kOutbox{
    "INSERT OR IGNORE INTO outbox(recipient, sender, message_id, peer, topic, payload, "
    "sent_ns, expires_ns, correlation) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    "SELECT seq, correlation FROM outbox WHERE recipient = ?1 AND sender = ?2 AND "
    "message_id = ?3"};

// One insert (role holder only); duplicate detection as documented.
// `peer`: the outbox's peer column, in place of sender_node.
StatusOr<PutResult> InsertOrFind(Mailbox::Shared* s, Database& db, const Box& box,
                                 const Envelope& env, const std::string* peer = nullptr);

}  // namespace

StatusOr<PutResult> Mailbox::Deliver(const Envelope& env) {
  AIK_ASSIGN_OR_RETURN(std::vector<PutResult> r, DeliverMany({env}));
  return r[0];
}

StatusOr<std::vector<PutResult>> Mailbox::DeliverMany(const std::vector<Envelope>& envs) {
  Shared* s = s_.get();
  const int64_t now = s->opt.now_ns();
  AIK_ASSIGN_OR_RETURN(
      std::vector<PutResult> out,
      s->Write<std::vector<PutResult>>([&](Database& db) -> StatusOr<std::vector<PutResult>> {
        std::vector<PutResult> res;
        for (const Envelope& env : envs) {
          if (env.expires_ns != 0 && env.expires_ns <= now) {
            PutResult r;
            r.expired = true;
            res.push_back(r);
            continue;
          }
          AIK_ASSIGN_OR_RETURN(PutResult r, InsertOrFind(s, db, kInbox, env));
          res.push_back(std::move(r));
        }
        return res;
      }));
  bool any = false;
  {
    std::lock_guard<std::mutex> l(s->wait_mu);
    for (size_t i = 0; i < envs.size(); ++i) {
      if (out[i].duplicate || out[i].expired) continue;
      ++s->inbox_versions[envs[i].recipient];
      any = true;
    }
  }
  if (any) s->wait_cv.notify_all();
  return out;
}

namespace {

StatusOr<PutResult> InsertOrFind(Mailbox::Shared* s, Database& db, const Box& box,
                                 const Envelope& env, const std::string* peer) {
  AIK_ASSIGN_OR_RETURN(Statement * ins, s->Stmt(db, box.insert));
  AIK_RETURN_IF_ERROR(BindEnvelope(*ins, env));
  if (peer != nullptr) AIK_RETURN_IF_ERROR(ins->BindText(4, *peer));
  AIK_RETURN_IF_ERROR(ins->Run());
  PutResult out;
  if (db.Changes() == 1) {
    out.seq = db.LastInsertRowId();
    out.correlation = env.correlation;
    return out;
  }
  AIK_ASSIGN_OR_RETURN(Statement * q, s->Stmt(db, box.find));
  AIK_RETURN_IF_ERROR(q->BindText(1, env.recipient));
  AIK_RETURN_IF_ERROR(q->BindText(2, env.sender));
  AIK_RETURN_IF_ERROR(q->BindText(3, env.message_id));
  AIK_ASSIGN_OR_RETURN(bool row, q->Step());
  out.duplicate = true;
  if (row) {
    out.seq = q->ColumnInt64(0);
    out.correlation = std::string(q->ColumnText(1));
  }
  q->Reset();
  return out;
}

}  // namespace

StatusOr<PutResult> Mailbox::Enqueue(const Envelope& env, const std::string& peer) {
  Shared* s = s_.get();
  AIK_ASSIGN_OR_RETURN(
      PutResult r, s->Write<PutResult>([&](Database& db) -> StatusOr<PutResult> {
        return InsertOrFind(s, db, kOutbox, env, &peer);
      }));
  if (!r.duplicate) {
    {
      std::lock_guard<std::mutex> l(s->wait_mu);
      ++s->outbox_version;
    }
    s->wait_cv.notify_all();
  }
  return r;
}

namespace {

const std::string& ReceiveSql() {
  static const std::string* sql = new std::string(absl::StrCat(
      "SELECT ", kInboxCols,
      " FROM inbox WHERE recipient = ?1 AND acked_ns = 0 AND visible_ns <= ?2 "
      "AND (expires_ns = 0 OR expires_ns > ?2) ORDER BY seq LIMIT ?3"));
  return *sql;
}

}  // namespace

StatusOr<std::vector<StoredMessage>> Mailbox::Receive(const std::string& recipient, size_t max,
                                                      std::chrono::nanoseconds visibility,
                                                      std::chrono::nanoseconds wait,
                                                      const std::function<bool()>& cancelled) {
  Shared* s = s_.get();
  const auto deadline = std::chrono::steady_clock::now() + wait;
  auto take = [&](Database& db) -> StatusOr<std::vector<StoredMessage>> {
    const int64_t now = s->opt.now_ns();
    std::vector<StoredMessage> out;
    AIK_ASSIGN_OR_RETURN(Statement * q, s->Stmt(db, ReceiveSql()));
    AIK_RETURN_IF_ERROR(q->BindText(1, recipient));
    AIK_RETURN_IF_ERROR(q->BindInt64(2, now));
    AIK_RETURN_IF_ERROR(q->BindInt64(3, static_cast<int64_t>(max)));
    for (;;) {
      AIK_ASSIGN_OR_RETURN(bool row, q->Step());
      if (!row) break;
      out.push_back(InboxRow(*q));
    }
    q->Reset();
    AIK_ASSIGN_OR_RETURN(
        Statement * u,
        s->Stmt(db, "UPDATE inbox SET visible_ns = ?1, deliveries = deliveries + 1 "
                    "WHERE seq = ?2"));
    for (StoredMessage& m : out) {
      u->Reset();
      AIK_RETURN_IF_ERROR(u->BindInt64(1, now + visibility.count()));
      AIK_RETURN_IF_ERROR(u->BindInt64(2, m.seq));
      AIK_RETURN_IF_ERROR(u->Run());
      ++m.deliveries;
    }
    return out;
  };
  for (;;) {
    uint64_t version;
    {
      std::lock_guard<std::mutex> l(s->wait_mu);
      if (s->closed) return absl::UnavailableError("messages.db is closed");
      version = s->InboxVersion(recipient);
    }
    AIK_ASSIGN_OR_RETURN(std::vector<StoredMessage> got,
                         s->Write<std::vector<StoredMessage>>(take));
    if (!got.empty() || std::chrono::steady_clock::now() >= deadline) return got;
    // Nothing yet: sleep until a delivery to this recipient commits (its
    // version moves), the deadline, Close(), or the caller cancels (checked
    // every 200 ms: gRPC cancellation has no condition variable to wake).
    std::unique_lock<std::mutex> l(s->wait_mu);
    while (!s->closed && s->InboxVersion(recipient) == version) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline || (cancelled && cancelled())) return got;
      s->wait_cv.wait_until(l, std::min(deadline, now + std::chrono::milliseconds(200)));
    }
  }
}

StatusOr<int64_t> Mailbox::Ack(const std::string& recipient, const std::vector<int64_t>& seqs) {
  Shared* s = s_.get();
  return s->Write<int64_t>([&](Database& db) -> StatusOr<int64_t> {
    AIK_ASSIGN_OR_RETURN(
        Statement * u,
        s->Stmt(db, "UPDATE inbox SET acked_ns = ?1, payload = NULL WHERE seq = ?2 AND "
                    "recipient = ?3 AND acked_ns = 0"));
    int64_t n = 0;
    const int64_t now = s->opt.now_ns();
    for (int64_t seq : seqs) {
      u->Reset();
      AIK_RETURN_IF_ERROR(u->BindInt64(1, now));
      AIK_RETURN_IF_ERROR(u->BindInt64(2, seq));
      AIK_RETURN_IF_ERROR(u->BindText(3, recipient));
      AIK_RETURN_IF_ERROR(u->Run());
      n += db.Changes();
    }
    return n;
  });
}

StatusOr<std::vector<StoredMessage>> Mailbox::ListInbox(const std::string& agent,
                                                        bool include_acked, size_t limit) {
  Shared* s = s_.get();
  static const std::string* sql = new std::string(absl::StrCat(
      "SELECT ", kInboxCols,
      " FROM inbox WHERE (?1 = '' OR recipient = ?1) AND (?2 OR acked_ns = 0) "
      "ORDER BY seq LIMIT ?3"));
  return s->Write<std::vector<StoredMessage>>(
      [&](Database& db) -> StatusOr<std::vector<StoredMessage>> {
        AIK_ASSIGN_OR_RETURN(Statement * q, s->Stmt(db, *sql));
        AIK_RETURN_IF_ERROR(q->BindText(1, agent));
        AIK_RETURN_IF_ERROR(q->BindInt64(2, include_acked ? 1 : 0));
        AIK_RETURN_IF_ERROR(q->BindInt64(3, static_cast<int64_t>(limit)));
        std::vector<StoredMessage> out;
        for (;;) {
          AIK_ASSIGN_OR_RETURN(bool row, q->Step());
          if (!row) break;
          out.push_back(InboxRow(*q));
        }
        q->Reset();
        return out;
      });
}

namespace {

// Outbox rows by `where` (binding ?1..), oldest first.
StatusOr<std::vector<OutboxRow>> OutboxQuery(Statement* q) {
  std::vector<OutboxRow> out;
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) break;
    out.push_back(OutboxRowOf(*q));
  }
  q->Reset();
  return out;
}

}  // namespace

StatusOr<std::vector<OutboxRow>> Mailbox::ListOutbox(const std::string& agent,
                                                     bool include_delivered, size_t limit) {
  Shared* s = s_.get();
  static const std::string* sql = new std::string(absl::StrCat(
      "SELECT ", kOutboxCols,
      " FROM outbox WHERE (?1 = '' OR sender = ?1) AND (?2 OR delivered_ns = 0) "
      "ORDER BY seq LIMIT ?3"));
  return s->Write<std::vector<OutboxRow>>([&](Database& db) -> StatusOr<std::vector<OutboxRow>> {
    AIK_ASSIGN_OR_RETURN(Statement * q, s->Stmt(db, *sql));
    AIK_RETURN_IF_ERROR(q->BindText(1, agent));
    AIK_RETURN_IF_ERROR(q->BindInt64(2, include_delivered ? 1 : 0));
    AIK_RETURN_IF_ERROR(q->BindInt64(3, static_cast<int64_t>(limit)));
    return OutboxQuery(q);
  });
}

namespace {

const std::string kPendingSql = absl::StrCat(
    "SELECT ", kOutboxCols,
    " FROM outbox WHERE peer = ?1 AND delivered_ns = 0 AND seq > ?3 ORDER BY seq LIMIT ?2");

// The oldest undelivered outbox rows of `peer` after seq `after` (q:
// kPendingSql, on the writer's connection or an OutboxReader's).
StatusOr<std::vector<OutboxRow>> PendingQuery(Statement* q, const std::string& peer, size_t max,
                                              int64_t after) {
  q->Reset();
  AIK_RETURN_IF_ERROR(q->BindText(1, peer));
  AIK_RETURN_IF_ERROR(q->BindInt64(2, static_cast<int64_t>(max)));
  AIK_RETURN_IF_ERROR(q->BindInt64(3, after));
  return OutboxQuery(q);
}

constexpr char kPeersSql[] = "SELECT DISTINCT peer FROM outbox WHERE delivered_ns = 0";

StatusOr<std::vector<std::string>> PeersQuery(Statement* q) {
  q->Reset();
  std::vector<std::string> out;
  for (;;) {
    AIK_ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) break;
    out.emplace_back(q->ColumnText(0));
  }
  q->Reset();
  return out;
}

// Done with `seq`: delivered (`error` empty) or refused for good.
Status MarkDone(Mailbox::Shared* s, Database& db, int64_t seq, const std::string& error) {
  AIK_ASSIGN_OR_RETURN(Statement * u,
                       s->Stmt(db, "UPDATE outbox SET delivered_ns = ?1, payload = NULL, "
                                   "attempts = attempts + 1, last_error = ?2 WHERE seq = ?3"));
  AIK_RETURN_IF_ERROR(u->BindInt64(1, s->opt.now_ns()));
  AIK_RETURN_IF_ERROR(u->BindText(2, error));
  AIK_RETURN_IF_ERROR(u->BindInt64(3, seq));
  return u->Run();
}

}  // namespace

StatusOr<std::vector<OutboxRow>> Mailbox::PendingFor(const std::string& peer, size_t max,
                                                     int64_t after) {
  Shared* s = s_.get();
  return s->Write<std::vector<OutboxRow>>([&](Database& db) -> StatusOr<std::vector<OutboxRow>> {
    AIK_ASSIGN_OR_RETURN(Statement * q, s->Stmt(db, kPendingSql));
    return PendingQuery(q, peer, max, after);
  });
}

StatusOr<std::vector<std::string>> OutboxReader::PeersWithPending() {
  return PeersQuery(&peers_);
}

StatusOr<std::unique_ptr<OutboxReader>> Mailbox::OpenOutboxReader() {
  store::DatabaseOptions dbo;
  dbo.path = s_->opt.path;
  dbo.read_only = true;
  auto r = std::unique_ptr<OutboxReader>(new OutboxReader());
  AIK_ASSIGN_OR_RETURN(r->db_, Database::Open(dbo));
  AIK_ASSIGN_OR_RETURN(r->pending_, r->db_->Prepare(kPendingSql));
  AIK_ASSIGN_OR_RETURN(r->peers_, r->db_->Prepare(kPeersSql));
  return r;
}

StatusOr<std::vector<OutboxRow>> OutboxReader::PendingFor(const std::string& peer, size_t max,
                                                          int64_t after) {
  return PendingQuery(&pending_, peer, max, after);
}

StatusOr<std::vector<std::string>> Mailbox::PeersWithPending() {
  Shared* s = s_.get();
  return s->Write<std::vector<std::string>>(
      [&](Database& db) -> StatusOr<std::vector<std::string>> {
        AIK_ASSIGN_OR_RETURN(Statement * q, s->Stmt(db, kPeersSql));
        return PeersQuery(q);
      });
}

Status Mailbox::MarkDelivered(const std::vector<int64_t>& seqs) {
  return MarkDoneAsync(seqs, {}).get();
}

Status Mailbox::MarkRefused(int64_t seq, const std::string& error) {
  return MarkDoneAsync({}, {{seq, error}}).get();
}

std::future<Status> Mailbox::MarkDoneAsync(std::vector<int64_t> delivered,
                                           std::vector<std::pair<int64_t, std::string>> refused) {
  Shared* s = s_.get();
  return s->writer->Submit([s, delivered = std::move(delivered),
                            refused = std::move(refused)](Database& db) -> Status {
    for (int64_t seq : delivered) AIK_RETURN_IF_ERROR(MarkDone(s, db, seq, ""));
    for (const auto& [seq, error] : refused) AIK_RETURN_IF_ERROR(MarkDone(s, db, seq, error));
    return absl::OkStatus();
  });
}

Status Mailbox::MarkFailed(const std::vector<int64_t>& seqs, int64_t next_ns,
                           const std::string& error) {
  Shared* s = s_.get();
  return s->Write<bool>([&](Database& db) -> StatusOr<bool> {
           AIK_ASSIGN_OR_RETURN(
               Statement * u,
               s->Stmt(db, "UPDATE outbox SET attempts = attempts + 1, next_ns = ?1, "
                           "last_error = ?2 WHERE seq = ?3"));
           for (int64_t seq : seqs) {
             u->Reset();
             AIK_RETURN_IF_ERROR(u->BindInt64(1, next_ns));
             AIK_RETURN_IF_ERROR(u->BindText(2, error));
             AIK_RETURN_IF_ERROR(u->BindInt64(3, seq));
             AIK_RETURN_IF_ERROR(u->Run());
           }
           return true;
         })
      .status();
}

Status Mailbox::PutPeer(const Peer& p) {
  Shared* s = s_.get();
  return s->Write<bool>([&](Database& db) -> StatusOr<bool> {
           AIK_ASSIGN_OR_RETURN(
               Statement * u,
               s->Stmt(db, "INSERT INTO peers(name, trust_domain, address, bundle, source, "
                           "added_ns) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO "
                           "UPDATE SET trust_domain = ?2, address = ?3, bundle = ?4, "
                           "source = ?5"));
           AIK_RETURN_IF_ERROR(u->BindText(1, p.name));
           AIK_RETURN_IF_ERROR(u->BindText(2, p.trust_domain));
           AIK_RETURN_IF_ERROR(u->BindText(3, p.address));
           AIK_RETURN_IF_ERROR(u->BindText(4, p.bundle_pem));
           AIK_RETURN_IF_ERROR(u->BindText(5, p.source));
           AIK_RETURN_IF_ERROR(u->BindInt64(6, p.added_ns != 0 ? p.added_ns : s->opt.now_ns()));
           Status st = u->Run();
           if (absl::IsFailedPrecondition(st)) {
             return absl::AlreadyExistsError(absl::StrCat(
                 "another peer already has trust domain '", p.trust_domain, "'"));
           }
           AIK_RETURN_IF_ERROR(st);
           return true;
         })
      .status();
}

StatusOr<bool> Mailbox::RemovePeer(const std::string& name) {
  Shared* s = s_.get();
  return s->Write<bool>([&](Database& db) -> StatusOr<bool> {
    AIK_ASSIGN_OR_RETURN(Statement * u, s->Stmt(db, "DELETE FROM peers WHERE name = ?1"));
    AIK_RETURN_IF_ERROR(u->BindText(1, name));
    AIK_RETURN_IF_ERROR(u->Run());
    return db.Changes() == 1;
  });
}

StatusOr<std::vector<Peer>> Mailbox::ListPeers() {
  Shared* s = s_.get();
  return s->Write<std::vector<Peer>>([&](Database& db) -> StatusOr<std::vector<Peer>> {
    AIK_ASSIGN_OR_RETURN(
        Statement * q,
        s->Stmt(db, "SELECT name, trust_domain, address, bundle, source, added_ns FROM peers "
                    "ORDER BY name"));
    std::vector<Peer> out;
    for (;;) {
      AIK_ASSIGN_OR_RETURN(bool row, q->Step());
      if (!row) break;
      Peer p;
      p.name = std::string(q->ColumnText(0));
      p.trust_domain = std::string(q->ColumnText(1));
      p.address = std::string(q->ColumnText(2));
      p.bundle_pem = std::string(q->ColumnText(3));
      p.source = std::string(q->ColumnText(4));
      p.added_ns = q->ColumnInt64(5);
      out.push_back(std::move(p));
    }
    q->Reset();
    return out;
  });
}

void Mailbox::WaitOutbox(uint64_t* seen, std::chrono::nanoseconds timeout) {
  Shared* s = s_.get();
  std::unique_lock<std::mutex> l(s->wait_mu);
  s->wait_cv.wait_for(l, timeout, [&] { return s->closed || s->outbox_version != *seen; });
  *seen = s->outbox_version;
}

void Mailbox::WakeOutbox() {
  {
    std::lock_guard<std::mutex> l(s_->wait_mu);
    ++s_->outbox_version;
  }
  s_->wait_cv.notify_all();
}

}  // namespace aikernel::net
