#include "net/forwarder.h"

#include <spdlog/spdlog.h>

namespace aikernel::net {
namespace {

using SteadyClock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Permanent(const Status& s) {
  return absl::IsPermissionDenied(s) || absl::IsNotFound(s) || absl::IsInvalidArgument(s) ||
         absl::IsUnauthenticated(s) || absl::IsFailedPrecondition(s);
}

}  // namespace

Forwarder::Forwarder(Mailbox* mailbox, Messenger* messenger, PeerTransport* transport,
                     ForwarderOptions options)
    : mailbox_(mailbox), messenger_(messenger), transport_(transport), opt_(options) {}

Forwarder::~Forwarder() { Stop(); }

void Forwarder::Start() { thread_ = std::thread([this] { Loop(); }); }

void Forwarder::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  mailbox_->WakeOutbox();
  if (thread_.joinable()) thread_.join();
}

void Forwarder::Kick() {
  {
    std::lock_guard<std::mutex> l(mu_);
    kicked_ = true;
  }
  mailbox_->WakeOutbox();
}

void Forwarder::ReapMarks(const std::string& name, PeerState& st, size_t keep) {
  bool failed = false;
  while (!st.marks.empty()) {
    std::future<Status>& f = st.marks.front();
    const bool must_wait = failed || st.marks.size() >= keep;
    if (!must_wait && f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) break;
    Status s = f.get();
    st.marks.pop_front();
    if (!s.ok()) {
      // Once one failed, wait for all of them so that the re-read sees
      // every marking that did commit.
      spdlog::warn("peer {}: marking messages delivered failed, sending them again: {}", name,
                   std::string(s.message()));
      failed = true;
    }
  }
  if (failed) st.cursor = 0;
}

bool Forwarder::DrainOnce(const std::string& name, PeerState& st, SteadyClock::time_point* wake) {
  std::optional<Peer> peer = messenger_->PeerByName(name);
  if (!peer) {
    // Removed while messages wait for it: they stay until it is added
    // again or they expire.
    st.next = SteadyClock::now() + opt_.max_backoff;
    *wake = std::min(*wake, st.next);
    return false;
  }
  ReapMarks(name, st, opt_.marks_in_flight);
  // The reader sees committed rows without waiting for the writer (whose
  // batch may be this peer's last marking); the cursor skips rows that
  // marking is about.
  StatusOr<std::vector<OutboxRow>> rows =
      reader_ ? reader_->PendingFor(name, opt_.batch, st.cursor)
              : mailbox_->PendingFor(name, opt_.batch, st.cursor);
  if (!rows.ok() || rows->empty()) return false;
  std::vector<Envelope> batch;
  std::vector<int64_t> seqs;
  for (const OutboxRow& r : *rows) {
    batch.push_back(r.env);
    seqs.push_back(r.seq);
  }
  StatusOr<std::vector<DeliveryOutcome>> out = transport_->Deliver(*peer, batch);
  if (!out.ok() || out->size() != batch.size()) {
    Status err = out.ok() ? absl::InternalError("peer answered for the wrong number of messages")
                          : out.status();
    st.backoff = st.backoff.count() == 0 ? opt_.initial_backoff
                                         : std::min(st.backoff * 2, opt_.max_backoff);
    st.next = SteadyClock::now() + st.backoff;
    *wake = std::min(*wake, st.next);
    const int64_t next_ns =
        NowNs() + std::chrono::duration_cast<std::chrono::nanoseconds>(st.backoff).count();
    mailbox_->MarkFailed(seqs, next_ns, std::string(err.message())).IgnoreError();
    spdlog::warn("peer {}: {} message(s) wait; retry in {} ms: {}", name, batch.size(),
                 st.backoff.count(), std::string(err.message()));
    return false;
  }
  st.backoff = std::chrono::milliseconds(0);
  std::vector<int64_t> delivered;
  std::vector<std::pair<int64_t, std::string>> refused;
  size_t i = 0;
  for (; i < out->size(); ++i) {
    const DeliveryOutcome& o = (*out)[i];
    if (o.status.ok()) {
      delivered.push_back(seqs[i]);
    } else if (Permanent(o.status)) {
      refused.emplace_back(seqs[i], o.status.ToString());
      spdlog::info("peer {} refused message {} from {}: {}", name, batch[i].message_id,
                   batch[i].sender, o.status.ToString());
    } else {
      break;  // keep order: this one and the rest go again
    }
  }
  if (i > 0) {
    st.marks.push_back(mailbox_->MarkDoneAsync(std::move(delivered), std::move(refused)));
    st.cursor = seqs[i - 1];
  }
  if (i < out->size()) {
    st.backoff = opt_.initial_backoff;
    st.next = SteadyClock::now() + st.backoff;
    *wake = std::min(*wake, st.next);
    std::vector<int64_t> rest(seqs.begin() + static_cast<ptrdiff_t>(i), seqs.end());
    mailbox_->MarkFailed(rest, NowNs(), (*out)[i].status.ToString()).IgnoreError();
    return false;
  }
  return rows->size() == opt_.batch;
}

void Forwarder::Loop() {
  StatusOr<std::unique_ptr<OutboxReader>> reader = mailbox_->OpenOutboxReader();
  if (reader.ok()) {
    reader_ = *std::move(reader);
  } else {
    spdlog::warn("forwarder: no read connection of its own to messages.db ({}); reading "
                 "through the writer",
                 std::string(reader.status().message()));
  }
  uint64_t seen = 0;
  for (;;) {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stop_) break;
      if (kicked_) {
        kicked_ = false;
        // Forget backoff only: the cursors and queued markings stay valid.
        for (auto& [_, st] : peers_) {
          st.backoff = std::chrono::milliseconds(0);
          st.next = {};
        }
      }
    }
    auto wake = SteadyClock::now() + opt_.idle_wait;
    bool more = false;
    StatusOr<std::vector<std::string>> pending =
        reader_ ? reader_->PeersWithPending() : mailbox_->PeersWithPending();
    if (pending.ok()) {
      for (const std::string& name : *pending) {
        PeerState& st = peers_[name];
        if (SteadyClock::now() < st.next) {
          wake = std::min(wake, st.next);
          continue;
        }
        more = DrainOnce(name, st, &wake) || more;
      }
    }
    if (more) continue;
    auto now = SteadyClock::now();
    if (wake > now) mailbox_->WaitOutbox(&seen, wake - now);
  }
  // Let queued markings commit (or fail, if messages.db closed) before the
  // mailbox may go away.
  for (auto& [name, st] : peers_) ReapMarks(name, st, 0);
  reader_.reset();
}

}  // namespace aikernel::net
