// H2Server: jawlb's own HTTP/2 server for gRPC's long-lived streams (h2c,
// prior knowledge, or TLS with ALPN h2). One EventLoop per core; each connection handed to it
// (Adopt(), from the ConnectionListener) lives on one loop, chosen round
// robin, with all its calls. Methods are registered by path before the first
// connection; a call of any other path gets UNIMPLEMENTED.
//
// Owns its loops and their connections; the method handlers it is given are
// copied. Handlers may keep calls after Stop() (they are then inert), but
// must not outlive the server.
//
// Threading: Register/Start/Stop on the owner's thread; Adopt() and the
// accessors thread-safe; connections and calls on their loops.
#ifndef JAWLB_TRANSPORT_H2_SERVER_H_
#define JAWLB_TRANSPORT_H2_SERVER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"

#include "common/metrics.h"
#include "transport/event_loop.h"
#include "transport/h2_connection.h"
#include "transport/server_call.h"

namespace jawlb::transport {

class H2Server {
 public:
  struct Options {
    size_t loops = 0;  // 0: one per core
    H2Connection::Options connection;
    // Told each connection's descriptor just before it is closed
    // (ConnectionListener::Closed); may be empty.
    std::function<void(int fd)> on_close;
    // TLS (borrowed; outlives the server), or null: h2c. Handshakes run on
    // the loops, bounded in time by connection.preface_timeout.
    ServerTls* tls = nullptr;
    // TLS handshakes under way at once; a connection past it is closed at once.
    int64_t max_tls_handshakes = 1000;
  };

  explicit H2Server(Options options);
  // Stops.
  ~H2Server();
  H2Server(const H2Server&) = delete;
  H2Server& operator=(const H2Server&) = delete;

  // REQUIRES: before the first Adopt().
  void Register(std::string method, MethodHandler handler);
  // Starts the loops. Internal when one cannot start.
  absl::Status Start();
  // Takes a connection (its descriptor is the server's from now on).
  // Thread-safe.
  void Adopt(int fd, std::string peer);
  // Sends every client away (two-step GOAWAY: no new calls here; the open
  // ones go on), and every connection adopted from now on. Thread-safe.
  void Drain();
  // Closes every connection — after its final GOAWAY, if the drain had not
  // sent it yet — (their calls hear OnDone(cancelled)) and stops the loops.
  // Idempotent.
  void Stop();

  size_t loop_count() const { return loops_.size(); }
  // Runs a Hub's wake of shard `s` on loop `s` (modulo the count): where the
  // calls of that shard live. REQUIRES: started, and not stopped while a wake
  // can come.
  using ShardRunner = std::function<void(size_t shard, std::function<void()> wake)>;
  ShardRunner wake_runner();
  EventLoop& loop(size_t i) { return *loops_[i]->loop; }
  // Connections open now.
  size_t connections() const { return open_.load(std::memory_order_relaxed); }
  // Connections sent away so far (their final GOAWAY sent).
  uint64_t goaways_sent() const { return counters_.goaways.load(std::memory_order_relaxed); }
  // Connections open, clients sent away, streams refused and connections cut
  // (jawlb_h2_*); with TLS, handshakes under way, failed and refused (jawlb_tls_*).
  void WriteMetrics(metrics::TextWriter& out) const;

 private:
  struct Loop {
    size_t index = 0;
    std::unique_ptr<EventLoop> loop;
    // The loop thread's.
    std::map<H2Connection*, std::unique_ptr<H2Connection>> connections;
  };
  void Open(Loop& loop, int fd, std::string peer);

  Options options_;                // constant after construction
  H2Connection::Methods methods_;  // constant after Start()
  std::vector<std::unique_ptr<Loop>> loops_;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> open_{0};
  H2Connection::Counters counters_;
  std::atomic<bool> draining_{false};
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_H2_SERVER_H_
