#include "admin/http_server.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

#include "common/clock.h"
#include "common/tcp_listen.h"

namespace jawlb::admin {

struct HttpServer::Connection {
  int fd = -1;
  absl::Time opened;
  absl::Time deadline;
  std::string in;
  std::string out;
  size_t written = 0;
  bool responding = false;
};

namespace {

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

HttpServer::HttpServer(Options options, Handler handler)
    : options_(std::move(options)), handler_(std::move(handler)) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(Options options, Handler handler) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(options), std::move(handler)));
  const Options& o = server->options_;
  absl::StatusOr<int> listener = ListenTcp(o.host, o.port, 128);
  if (!listener.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", listener.status().message()));
  }
  server->listener_ = *listener;
  server->port_ = LocalPort(server->listener_);
  server->spare_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  server->wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  server->thread_ = std::thread([raw = server.get()] { raw->Run(); });
  return server;
}

void HttpServer::Stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (write(wake_fd_, &one, sizeof(one)) < 0) {
      // The eventfd cannot be full; nothing else to do.
    }
    thread_.join();
  }
  for (const auto& connection : connections_) Close(*connection);
  connections_.clear();
  open_.Set(0);
  for (int* fd : {&listener_, &spare_, &wake_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void HttpServer::WriteMetrics(metrics::TextWriter& out) const {
  out.Gauge("jawlb_admin_connections", "Connections open to the admin port.",
            static_cast<double>(open_.value()));
  out.Counters(
      "jawlb_admin_connections_closed_total",
      "Admin connections refused or cut by a bound: full (every slot busy "
      "answering), displaced (the slowest request made room for a new connection), "
      "timeout, too_large (request or body), method (not GET/HEAD), busy (a large answer past the "
      "output budget), descriptors (the "
      "process had none left).",
      refused_);
}

void HttpServer::Run() {
  std::vector<pollfd> fds;
  while (true) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listener_, POLLIN, 0});
    absl::Time next = Clock::Real().Now() + absl::Seconds(1);
    for (const auto& c : connections_) {
      fds.push_back({c->fd, static_cast<short>(c->responding ? POLLOUT : POLLIN), 0});
      next = std::min(next, c->deadline);
    }
    const int wait = static_cast<int>(
        std::max<int64_t>(0, absl::ToInt64Milliseconds(next - Clock::Real().Now()) + 1));
    if (poll(fds.data(), fds.size(), wait) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) return;  // Stop()
    // Connections first (their indices match fds from 2 on), then new ones.
    const absl::Time now = Clock::Real().Now();
    std::vector<std::unique_ptr<Connection>> kept;
    for (size_t i = 0; i < connections_.size(); ++i) {
      if (Serve(*connections_[i], fds[i + 2].revents, now)) {
        kept.push_back(std::move(connections_[i]));
      } else {
        Close(*connections_[i]);
      }
    }
    connections_ = std::move(kept);
    if (fds[1].revents & POLLIN) Accept();
    open_.Set(static_cast<int64_t>(connections_.size()));
  }
}

bool HttpServer::Serve(Connection& c, short events, absl::Time now) {
  bool keep = true;
  if ((events & (POLLERR | POLLHUP | POLLNVAL)) != 0 && (events & POLLIN) == 0) {
    keep = false;
  } else if ((events & POLLIN) != 0) {
    keep = OnReadable(c);
  } else if ((events & POLLOUT) != 0) {
    keep = OnWritable(c);
  }
  if (keep && now > c.deadline) {
    refused_.Add({"timeout"});
    keep = false;
  }
  return keep;
}

void HttpServer::Close(Connection& c) {
  buffered_ -= c.out.size() - c.written;
  close(c.fd);
}

bool HttpServer::MakeRoom() {
  if (connections_.size() < options_.max_connections) return true;
  // The connection waiting longest for its request makes room.
  auto oldest = connections_.end();
  for (auto it = connections_.begin(); it != connections_.end(); ++it) {
    if (!(*it)->responding && (oldest == connections_.end() || (*it)->opened < (*oldest)->opened)) {
      oldest = it;
    }
  }
  if (oldest == connections_.end()) return false;
  close((*oldest)->fd);
  connections_.erase(oldest);
  refused_.Add({"displaced"});
  return true;
}

void HttpServer::Accept() {
  for (int i = 0; i < 64; ++i) {
    const int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if ((errno == EMFILE || errno == ENFILE) && spare_ >= 0) {
        // Out of descriptors: take the waiting connection off the backlog
        // with the spare one and close it, rather than leave it (and every
        // poll) stuck on it.
        close(spare_);
        const int waiting = accept(listener_, nullptr, nullptr);
        if (waiting >= 0) close(waiting);
        spare_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
        refused_.Add({"descriptors"});
      }
      return;
    }
    if (!MakeRoom()) {
      close(fd);
      refused_.Add({"full"});
      continue;
    }
    auto connection = std::make_unique<Connection>();
    connection->fd = fd;
    connection->opened = Clock::Real().Now();
    connection->deadline = connection->opened + options_.request_timeout;
    connections_.push_back(std::move(connection));
  }
}

bool HttpServer::OnReadable(Connection& c) {
  char buffer[4096];
  const ssize_t n = read(c.fd, buffer, sizeof(buffer));
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return false;
  if (n < 0) return true;
  if (c.responding) return true;  // whatever follows the request is not read
  c.in.append(buffer, static_cast<size_t>(n));
  RequestHead head = ReadRequestHead(c.in, kMaxRequestBytes);
  switch (head.state) {
    case RequestHead::State::kIncomplete:
      return true;
    case RequestHead::State::kRefused:
      refused_.Add({head.reason});
      Answer(c, {head.status, "text/plain", std::move(head.message)}, false);
      break;
    case RequestHead::State::kComplete: {
      Response response = handler_(head.request);
      // A large response waits in memory until the client takes it: past the
      // budget, large ones are refused (small ones, the probes, never are).
      if (response.body.size() > kSmallResponse &&
          buffered_ + response.body.size() > options_.max_buffered_bytes) {
        refused_.Add({"busy"});
        response = {503, "text/plain", "busy sending other large responses: try again\n"};
      }
      Answer(c, response, head.request.method == "HEAD");
      break;
    }
  }
  return OnWritable(c);
}

void HttpServer::Answer(Connection& c, const Response& response, bool head) {
  c.in.clear();
  c.in.shrink_to_fit();
  c.out = absl::StrCat(
      "HTTP/1.1 ", response.status, " ", Reason(response.status),
      "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", response.body.size(),
      response.status == 405 ? "\r\nAllow: GET, HEAD" : "", "\r\nConnection: close\r\n\r\n");
  if (!head) c.out += response.body;
  c.written = 0;
  buffered_ += c.out.size();
  c.responding = true;
  c.deadline = Clock::Real().Now() + options_.response_timeout;
}

bool HttpServer::OnWritable(Connection& c) {
  while (c.written < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    c.written += static_cast<size_t>(n);
    buffered_ -= static_cast<size_t>(n);
  }
  shutdown(c.fd, SHUT_WR);
  return false;  // done: closed by the caller
}

}  // namespace jawlb::admin
