#include "transport/connection_listener.h"

#include <cerrno>
#include <cstring>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"
#include "common/tcp_listen.h"
#include "transport/peer.h"

namespace jawlb::transport {
namespace {

// "ipv4:a.b.c.d:port" / "ipv6:[a::b]:port" for a peer address; "" for
// another family.

}  // namespace

absl::StatusOr<std::unique_ptr<ConnectionListener>> ConnectionListener::Listen(Options options) {
  std::unique_ptr<ConnectionListener> listener(new ConnectionListener(std::move(options)));
  absl::StatusOr<int> fd = ListenTcp(listener->options_.host, listener->options_.port);
  if (!fd.ok()) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", fd.status().message(), " (JAWLB_HOST/JAWLB_PORT)"));
  }
  listener->listener_ = *fd;
  listener->port_ = LocalPort(*fd);
  listener->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  listener->spare_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  return listener;
}

ConnectionListener::~ConnectionListener() {
  Stop();
  for (int fd : {listener_, wake_fd_, spare_}) {
    if (fd >= 0) close(fd);
  }
}

void ConnectionListener::Start(HandOver hand_over) {
  thread_ = std::thread([this, hand_over = std::move(hand_over)] { Run(hand_over); });
}

void ConnectionListener::Stop() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) {
    // An eventfd written once cannot be full.
  }
  thread_.join();
}

std::string ConnectionListener::PeerOf(absl::string_view peer) {
  int fd = -1;
  if (!absl::StartsWith(peer, "fd:") || !absl::SimpleAtoi(peer.substr(3), &fd)) {
    return std::string(peer);
  }
  sockaddr_storage address{};
  socklen_t length = sizeof(address);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return std::string(peer);
  }
  const std::string formatted = FormatPeer(address);
  return formatted.empty() ? std::string(peer) : formatted;
}

void ConnectionListener::Run(const HandOver& hand_over) {
  while (true) {
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {listener_, POLLIN, 0}};
    if (poll(fds, 2, 1000) < 0 && errno != EINTR) {
      spdlog::error("gRPC listener: poll: {}", strerror(errno));
    }
    if (fds[0].revents != 0) return;
    {
      absl::MutexLock lock(&mu_);
      if (Clock::Real().Now() - last_sweep_ >= absl::Seconds(1)) Sweep();
    }
    if (fds[1].revents & POLLIN) AcceptAll(hand_over);
  }
}

void ConnectionListener::Sweep() {
  last_sweep_ = Clock::Real().Now();
  if (options_.closes_reported) return;
  for (auto it = handed_.begin(); it != handed_.end();) {
    struct stat st;
    if (fstat(it->first, &st) == 0 && S_ISSOCK(st.st_mode) &&
        static_cast<uint64_t>(st.st_ino) == it->second.inode) {
      ++it;
      continue;
    }
    // gRPC closed it (the descriptor is free, or reused by something else).
    it = Forget(it);
  }
}

std::map<int, ConnectionListener::Handed>::iterator ConnectionListener::Forget(
    std::map<int, Handed>::iterator it) {
  if (auto peer = per_peer_.find(it->second.address);
      peer != per_peer_.end() && --peer->second == 0) {
    per_peer_.erase(peer);
  }
  return handed_.erase(it);
}

void ConnectionListener::Closed(int fd) {
  absl::MutexLock lock(&mu_);
  if (auto it = handed_.find(fd); it != handed_.end()) Forget(it);
}

const char* ConnectionListener::OverLimit(const std::string& address) const {
  if (handed_.size() >= options_.max_connections) return "connections";
  auto peer = per_peer_.find(address);
  if (peer != per_peer_.end() && peer->second >= options_.max_per_peer) return "peer";
  return "";
}

const char* ConnectionListener::Refusal(const std::string& address) {
  if (*OverLimit(address) == '\0') return "";
  Sweep();  // some may have closed since the last sweep
  return OverLimit(address);
}

void ConnectionListener::AcceptAll(const HandOver& hand_over) {
  for (int i = 0; i < 256; ++i) {
    sockaddr_storage address{};
    socklen_t length = sizeof(address);
    const int fd = accept4(listener_, reinterpret_cast<sockaddr*>(&address), &length,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) OutOfDescriptors();
      return;  // EAGAIN: all taken
    }
    std::string peer = FormatPeer(address);
    if (Admit(fd, peer)) hand_over(fd, peer);
  }
}

void ConnectionListener::OutOfDescriptors() {
  // Free the spare to take the waiting connection off the backlog and close it
  // (it would wake every poll otherwise), then rest a moment; the next poll
  // tries again.
  if (spare_ >= 0) close(spare_);
  const int waiting = accept(listener_, nullptr, nullptr);
  if (waiting >= 0) close(waiting);
  spare_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  refused_.Add({"descriptors"});
  int64_t suppressed = 0;
  bool log = false;
  size_t open = 0;
  {
    absl::MutexLock lock(&mu_);
    log = log_.Allow(Clock::Real().Now(), suppressed);
    open = handed_.size();
  }
  if (log) {
    spdlog::error(
        "gRPC port: out of file descriptors ({} connections open): a new connection was closed; "
        "accepting again as descriptors free up{}",
        open, suppressed > 0 ? absl::StrCat(" (", suppressed, " more)") : "");
  }
  usleep(10000);
}

bool ConnectionListener::Admit(int fd, const std::string& peer) {
  const std::string client = PeerAddress(peer);
  std::string refusal;
  int64_t suppressed = 0;
  bool log = false;
  {
    absl::MutexLock lock(&mu_);
    refusal = Refusal(client);
    if (refusal.empty()) {
      struct stat st {};
      fstat(fd, &st);
      handed_[fd] = Handed{static_cast<uint64_t>(st.st_ino), client};
      ++per_peer_[client];
      return true;
    }
    log = log_.Allow(Clock::Real().Now(), suppressed);
  }
  close(fd);
  refused_.Add({refusal});
  if (log) {
    spdlog::warn("gRPC port: connection from {} refused: {}{}", peer,
                 refusal == "peer" ? absl::StrCat("that address has ", options_.max_per_peer,
                                                  " connections open (JAWLB_MAXCONNECTIONSPERPEER)")
                                   : absl::StrCat(options_.max_connections,
                                                  " connections are open (JAWLB_MAXCONNECTIONS)"),
                 suppressed > 0 ? absl::StrCat(" (", suppressed, " more refused since)") : "");
  }
  return false;
}

void ConnectionListener::WriteMetrics(metrics::TextWriter& out) const {
  size_t open = 0;
  {
    absl::MutexLock lock(&mu_);
    open = handed_.size();
  }
  out.Gauge("jawlb_connections", "Client connections open on the gRPC port (checked each second).",
            static_cast<double>(open));
  out.Gauge("jawlb_connections_limit", "JAWLB_MAXCONNECTIONS, as applied (below the file limit).",
            static_cast<double>(options_.max_connections));
  out.Counters("jawlb_connections_refused_total",
               "Connections to the gRPC port closed at once: connections (JAWLB_MAXCONNECTIONS), "
               "peer (JAWLB_MAXCONNECTIONSPERPEER), descriptors (the process had none left).",
               refused_);
}

}  // namespace jawlb::transport
