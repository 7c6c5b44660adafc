#include "tools/mcp/stdio_transport.h"

#include <fcntl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/write.hpp>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include <spdlog/spdlog.h>

#include "common/status.h"
#include "tools/mcp/protocol.h"
#include "tools/mcp/stdio_lane.h"

namespace aikernel::tools::mcp {

namespace asio = boost::asio;

namespace {

Status Errno(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

struct LaunchPipes {
  UniqueFd in_r, in_w, out_r, out_w, err_r, err_w;
  sandbox::LaunchSpec spec;
};

}  // namespace

class StdioTransport::Impl : public std::enable_shared_from_this<StdioTransport::Impl> {
 public:
  Impl(const ServerConfig& c, sandbox::Profile profile, asio::io_context& io,
       sandbox::LaunchThread& lt, sandbox::Launcher& launcher, agents::LogFile& log)
      : c_(c), profile_(std::move(profile)), io_(io), launch_thread_(lt), launcher_(launcher), log_(log), err_(io), pid_sd_(io) {}

  void Open(TransportEvents ev) {
    ev_ = std::move(ev);
    auto pipes = std::make_shared<LaunchPipes>();
    if (Status s = Prepare(*pipes); !s.ok()) {
      Fail(absl::StrCat("spawn: ", s.message()), true);
      return;
    }
    auto self = shared_from_this();
    launch_thread_.Post([self, pipes] {
      auto r = std::make_shared<StatusOr<sandbox::Launched>>(self->launcher_.Launch(pipes->spec));
      asio::post(self->io_, [self, pipes, r] { self->Launched(*pipes, std::move(*r)); });
    });
  }

  Status Prepare(LaunchPipes& p) {
    sandbox::Profile profile = profile_;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    p.in_r.reset(fds[0]);
    p.in_w.reset(fds[1]);
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    p.out_r.reset(fds[0]);
    p.out_w.reset(fds[1]);
    if (pipe2(fds, O_CLOEXEC) != 0) return Errno("pipe2");
    p.err_r.reset(fds[0]);
    p.err_w.reset(fds[1]);
    fcntl(p.err_r.get(), F_SETFL, fcntl(p.err_r.get(), F_GETFL) | O_NONBLOCK);
    const std::string& workdir = c_.workdir;
    sandbox::LaunchSpec& ls = p.spec;
    ls.argv.push_back(c_.command);
    ls.argv.insert(ls.argv.end(), c_.args.begin(), c_.args.end());
    bool have_path = false, have_home = false;
    for (const auto& [k, v] : c_.env) {
      ls.env.push_back(k + "=" + v);
      have_path |= k == "PATH";
      have_home |= k == "HOME";
    }
    if (!have_path) ls.env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
    if (!have_home) ls.env.push_back("HOME=" + workdir);
    ls.workdir = workdir;
    ls.uid = static_cast<uid_t>(c_.uid);
    ls.gid = static_cast<gid_t>(c_.gid);
    if (profile.landlock) {
      std::filesystem::path cmd(c_.command);
      if (cmd.is_absolute()) profile.readonly_paths.push_back(cmd.parent_path().string());
    }
    profile.readonly_paths.insert(profile.readonly_paths.end(), c_.read_paths.begin(),
                                  c_.read_paths.end());
    profile.writable_paths.insert(profile.writable_paths.end(), c_.write_paths.begin(),
                                  c_.write_paths.end());
    ls.profile = std::move(profile);
    ls.stdin_fd = p.in_r.get();
    ls.stdout_fd = p.out_w.get();
    ls.stderr_fd = p.err_w.get();
    ls.hostname = c_.name;
    ls.die_with_parent = true;
    return absl::OkStatus();
  }

  void Launched(LaunchPipes& pipes, StatusOr<sandbox::Launched> l) {
    if (closed_) {
      if (l.ok()) {
        sandbox::KillTree(*l).IgnoreError();
        sandbox::Reap(*l, true).IgnoreError();
      }
      return;
    }
    if (!l.ok()) {
      Fail(absl::StrCat("spawn: ", l.status().message()), true);
      return;
    }
    l_ = *std::move(l);
    int dup_pidfd = fcntl(l_->pidfd.get(), F_DUPFD_CLOEXEC, 0);
    if (dup_pidfd < 0) {
      Fail(std::string(Errno("dup pidfd").message()), true);
      return;
    }
    pid_sd_.assign(dup_pidfd);
    err_.assign(pipes.err_r.release());
    std::weak_ptr<Impl> weak = weak_from_this();
    StdioLaneOptions lo;
    lo.max_line_bytes = static_cast<size_t>(c_.max_message_bytes);
    // Any thread (whoever reads stdout): an answer to a call made through
    // the lane is taken by its caller; everything else goes to the loop.
    lo.on_line = [weak, direct = ev_.direct, &io = io_](std::string line) {
      if (direct && direct(line)) return true;
      asio::post(io, [weak, line = std::move(line)]() mutable {
        auto self = weak.lock();
        if (!self || self->closed_ || self->failed_) return;
        if (self->ev_.message) self->ev_.message(std::move(line));
      });
      return false;
    };
    lo.on_error = [weak, &io = io_](Status why) {
      asio::post(io, [weak, why] {
        if (auto self = weak.lock()) {
          self->Fail(absl::StrCat("stdout: ", why.message(), " (max_message_bytes); cut off"),
                     true);
        }
      });
    };
    lane_ = std::make_shared<StdioLane>(std::move(pipes.in_w), std::move(pipes.out_r),
                                        std::move(lo));
    if (Status s = lane_->Start(); !s.ok()) {
      Fail(absl::StrCat("stdio: ", s.message()), true);
      return;
    }
    spdlog::info("mcp {}: started pid {} ({})", c_.name, l_->pid, c_.command);
    WatchExit();
    ReadErr();
    if (ev_.opened) ev_.opened(l_->pid);
  }

  void Send(std::string line) {
    // `line` ends with "\n" (protocol.h's builders). EPIPE: the server
    // closed stdin or died; its exit is handled by WatchExit.
    if (closed_ || !lane_) return;
    lane_->Write(line).IgnoreError();
  }

  void ReadErr() {
    auto self = shared_from_this();
    err_.async_read_some(asio::buffer(err_buf_),
                         [self](const boost::system::error_code& ec, size_t n) {
                           if (ec || self->closed_) return;
                           self->log_.Write(std::string_view(self->err_buf_.data(), n))
                               .IgnoreError();
                           self->ReadErr();
                         });
  }

  void WatchExit() {
    auto self = shared_from_this();
    pid_sd_.async_wait(asio::posix::stream_descriptor::wait_read,
                       [self](const boost::system::error_code& ec) {
                         if (ec || self->closed_) return;
                         self->Exited();
                       });
  }

  void Exited() {
    StatusOr<std::optional<sandbox::ExitStatus>> r = sandbox::Reap(*l_, false);
    if (r.ok() && !r->has_value()) {
      WatchExit();
      return;
    }
    reaped_ = true;
    std::string why;
    if (!r.ok()) {
      why = absl::StrCat("waitid: ", r.status().message());
    } else if ((*r)->signaled) {
      why = absl::StrCat("killed by signal ", (*r)->code);
    } else {
      why = absl::StrCat("exited with code ", (*r)->code);
    }
    spdlog::warn("mcp {}: pid {} ended: {}", c_.name, l_->pid, why);
    Fail(why, false);
  }

  void Fail(const std::string& why, bool fault) {
    if (failed_ || closed_) return;
    failed_ = true;
    if (ev_.failed) ev_.failed(why, fault);
  }

  void DrainErr() {
    if (!err_.is_open()) return;
    for (int i = 0; i < 64; ++i) {
      ssize_t n = ::read(err_.native_handle(), err_buf_.data(), err_buf_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      log_.Write(std::string_view(err_buf_.data(), static_cast<size_t>(n))).IgnoreError();
    }
  }

  std::shared_ptr<StdioLane> lane() const { return closed_ || failed_ ? nullptr : lane_; }

  void Close() {
    if (closed_) return;
    closed_ = true;
    if (l_) {
      sandbox::KillTree(*l_).IgnoreError();
      if (!reaped_) sandbox::Reap(*l_, true).IgnoreError();
      // Whatever is left on stderr is the likeliest explanation.
      DrainErr();
    }
    if (lane_) lane_->Close();
    boost::system::error_code ignored;
    err_.close(ignored);
    pid_sd_.close(ignored);
  }

 private:
  const ServerConfig c_;
  const sandbox::Profile profile_;
  asio::io_context& io_;
  sandbox::LaunchThread& launch_thread_;
  sandbox::Launcher& launcher_;
  agents::LogFile& log_;
  TransportEvents ev_;
  std::optional<sandbox::Launched> l_;
  asio::posix::stream_descriptor err_, pid_sd_;
  std::shared_ptr<StdioLane> lane_;  // stdin and stdout; shared with callers using it
  bool failed_ = false, closed_ = false, reaped_ = false;
  std::array<char, 16384> err_buf_{};
};

StdioTransport::StdioTransport(const ServerConfig& config, sandbox::Profile profile,
                               asio::io_context& io, sandbox::LaunchThread& launch_thread,
                               sandbox::Launcher& launcher, agents::LogFile& log)
    : impl_(std::make_shared<Impl>(config, std::move(profile), io, launch_thread, launcher,
                                   log)) {}

StdioTransport::~StdioTransport() { impl_->Close(); }

void StdioTransport::Open(TransportEvents events) { impl_->Open(std::move(events)); }
void StdioTransport::Send(std::string message, int64_t) { impl_->Send(std::move(message)); }
void StdioTransport::Close() { impl_->Close(); }
std::shared_ptr<StdioLane> StdioTransport::caller_lane() { return impl_->lane(); }

}  // namespace aikernel::tools::mcp
