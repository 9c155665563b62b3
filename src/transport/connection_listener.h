// ConnectionListener: accepts the gRPC port's TCP connections itself and hands
// each over — to gRPC's server (grpc::AddInsecureChannelFromFd) or to jawlb's
// own transport — so that jawlb, not gRPC 1.51's listener, decides what
// happens at the limits:
//   - out of descriptors (EMFILE): gRPC 1.51 logs "accept4: Too many open
//     files" once and never accepts again. Here a spare descriptor is freed to
//     take the waiting connection off the backlog and close it, the listener
//     backs off for a moment, and it accepts again as soon as descriptors are
//     free;
//   - connections: at most `max_connections` in all and `max_per_peer` from
//     one client address; a connection over either is closed at once (the
//     client retries elsewhere or later), so the process never runs out of
//     descriptors because of clients.
// A connection is counted from its accept until the server closes it: jawlb's
// HTTP/2 server says so (Closed()); for gRPC's, which does not, the
// handed-over descriptors still open are checked every second (and at the
// limit) by their inode.
//
// Streams on these connections carry the peer "fd:N" in gRPC; PeerOf() turns
// that into the client's address ("ipv4:10.1.2.3:40000").
//
// Owns the listening socket and its thread. Threading: Listen(), Start() and
// Stop() on one thread (the App's); the rest thread-safe.
#ifndef JAWLB_TRANSPORT_CONNECTION_LISTENER_H_
#define JAWLB_TRANSPORT_CONNECTION_LISTENER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

#include "common/log_throttle.h"
#include "common/metrics.h"

namespace jawlb::transport {

class ConnectionListener {
 public:
  struct Options {
    std::string host;                // "" = every interface, IPv6 and IPv4
    int port = 0;                    // 0 = any free port
    size_t max_connections = 20000;  // the App derives it from the file limit
    size_t max_per_peer = 1000;
    // The server that takes the connections says when it closes each
    // (Closed()): no sweep. jawlb's HTTP/2 server does; gRPC's does not.
    bool closes_reported = false;
  };

  // Binds the port (so it is known before the server starts). Unavailable
  // when it cannot be bound, naming the address.
  static absl::StatusOr<std::unique_ptr<ConnectionListener>> Listen(Options options);
  ~ConnectionListener();
  ConnectionListener(const ConnectionListener&) = delete;
  ConnectionListener& operator=(const ConnectionListener&) = delete;

  int port() const { return port_; }
  // Takes a connection: its descriptor (now the receiver's) and its client's
  // address as PeerOf() gives it. Called on the listener's thread.
  using HandOver = std::function<void(int fd, const std::string& peer)>;

  // Starts accepting connections and handing them to `hand_over` (whatever
  // it uses must outlive Stop()).
  void Start(HandOver hand_over);
  // Stops accepting (connections handed over stay gRPC's) and joins the
  // thread. Idempotent.
  void Stop();

  // The client address behind a gRPC peer string: "fd:N" (a connection this
  // listener handed over) becomes "ipv4:a.b.c.d:port" or "ipv6:[a::b]:port"
  // (IPv4 clients of a dual-stack socket as ipv4); anything else as it is.
  static std::string PeerOf(absl::string_view peer);

  // The server closes handed-over connection `fd`. REQUIRES: called before
  // close(fd) (so the number cannot be a new connection's yet), with
  // Options::closes_reported. Thread-safe.
  void Closed(int fd) ABSL_LOCKS_EXCLUDED(mu_);

  // Connections open now; refused, by reason.
  void WriteMetrics(metrics::TextWriter& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Handed {
    uint64_t inode = 0;
    std::string address;  // the client's, without the port
  };
  explicit ConnectionListener(Options options) : options_(std::move(options)) {}
  void Run(const HandOver& hand_over);
  // Accepts what is waiting; hands each connection over or refuses it.
  void AcceptAll(const HandOver& hand_over);
  // accept4() said EMFILE or ENFILE: closes the waiting connection, logs.
  void OutOfDescriptors();
  // Counts the new connection `fd` from `peer`, or closes it (logged, counted)
  // when a limit says no; true when it is to be handed over.
  bool Admit(int fd, const std::string& peer) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the handed-over descriptors gRPC has closed (none to find when
  // closes are reported).
  void Sweep() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets `it`, a handed-over descriptor now closed; the next entry.
  std::map<int, Handed>::iterator Forget(std::map<int, Handed>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Which limit a new connection from `address` would exceed ("" for none).
  const char* OverLimit(const std::string& address) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Why a new connection from `address` is refused ("" when it is not), after
  // a sweep when it seems over a limit.
  const char* Refusal(const std::string& address) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after Listen().
  const Options options_;
  int listener_ = -1;
  int port_ = 0;
  int wake_fd_ = -1;

  // The listener's thread only.
  int spare_ = -1;  // freed to accept and close one connection on EMFILE
  std::thread thread_;

  mutable absl::Mutex mu_;
  std::map<int, Handed> handed_ ABSL_GUARDED_BY(mu_);  // by descriptor
  absl::flat_hash_map<std::string, size_t> per_peer_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  LogThrottle log_ ABSL_GUARDED_BY(mu_);
  metrics::CounterMap refused_{{"reason"}};
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_CONNECTION_LISTENER_H_
