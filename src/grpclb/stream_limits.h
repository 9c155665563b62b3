// StreamLimits: the bounds on how many BalanceLoad streams jawlb holds: in all,
// per client connection, and per client address (over all its connections).
// Each stream costs about 16 KiB in gRPC's transport and ours, so without a
// bound one connection sending HEADERS frames in a loop takes the process past
// its memory limit. A stream over a bound is refused at once (the service ends
// it with RESOURCE_EXHAUSTED), which frees what it cost: the refusal costs the
// offender, and the streams already open are untouched.
//
// Why not only HTTP/2's SETTINGS_MAX_CONCURRENT_STREAMS: gRPC 1.51 enforces it
// only once the client has acknowledged our SETTINGS, so a client that never
// does opens as many streams as it likes. The setting is advertised too, so a
// well-behaved client never gets here; one that goes over the per-connection
// bound has ignored it, and its connection is cut (connection_cutter.h) so
// the transport stops making streams of its frames.
//
// Threading: thread-safe (one mutex; nothing is called under it).
#ifndef JAWLB_GRPCLB_STREAM_LIMITS_H_
#define JAWLB_GRPCLB_STREAM_LIMITS_H_

#include <atomic>
#include <cstddef>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "common/log_throttle.h"
#include "common/metrics.h"

namespace jawlb::grpclb {

class StreamLimits {
 public:
  struct Options {
    size_t max_streams = 10000;       // JAWLB_MAXSTREAMS
    size_t max_per_connection = 100;  // JAWLB_MAXSTREAMSPERCONNECTION
    size_t max_per_peer = 1000;       // JAWLB_MAXSTREAMSPERPEER
  };

  explicit StreamLimits(Options options) : options_(options) {}

  // Counts a new stream of `peer` (gRPC's "ipv4:10.1.2.3:40000": the
  // connection; its address without the port is the client's). Returns
  // ResourceExhausted naming the bound and its setting when the stream would
  // exceed one; then nothing is counted and the caller ends the stream. Logs
  // the first refusal and then at most one a minute, with how many it left out.
  absl::Status Admit(absl::string_view peer) ABSL_LOCKS_EXCLUDED(mu_);
  // The gRPC server's port, once it listens: a connection to cut is found by
  // its peer address and this local port.
  void SetServerPort(int port) { server_port_.store(port, std::memory_order_relaxed); }

  // Uncounts a stream Admit() accepted.
  void Release(absl::string_view peer) ABSL_LOCKS_EXCLUDED(mu_);

  // Streams counted now.
  size_t open() const ABSL_LOCKS_EXCLUDED(mu_);
  // jawlb_streams_refused_total{limit} and the bounds as gauges.
  void WriteMetrics(metrics::TextWriter& out) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // Whether to cut `connection` now: not when it was cut already.
  bool ShouldCut(const std::string& connection, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Constant after construction.
  const Options options_;

  mutable absl::Mutex mu_;
  size_t open_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, size_t> per_connection_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_peer_ ABSL_GUARDED_BY(mu_);
  // Connections cut, and when (forgotten after a minute, or beyond 1,024), so
  // the streams already parsed from a cut connection cut it once.
  absl::flat_hash_map<std::string, absl::Time> cut_ ABSL_GUARDED_BY(mu_);
  LogThrottle log_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> server_port_{0};
  metrics::CounterMap refused_{{"limit"}};
  metrics::Counter connections_cut_;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_STREAM_LIMITS_H_
