// HealthTracker: which backends are healthy enough to send, from what their
// health checks say (JAWLB_HEALTHCHECK=grpc), with hysteresis and a panic mode.
//
// - A backend is usable until a check says otherwise: Kubernetes already calls
//   it ready, and a backend with no answer yet is not known to be bad.
// - Anything but SERVING (NOT_SERVING, unreachable, a service it does not know)
//   removes it at once: removal is what protects traffic.
// - It comes back only after answering SERVING without a break for a hold
//   time that doubles with each removal remembered (flap_memory): 1 s after the
//   first, 2 s, 4 s, ... up to max_hold. So a flapping backend settles out of
//   the lists instead of moving every client on each flap.
// - Panic: when more than half of the backends are out, health checking is
//   probably what is broken (a network policy, a wrong service name): every
//   backend is sent, as mature proxies do, and panic() says so.
//
// Threading: thread-compatible. Pure: no I/O, time passed in.
#ifndef JAWLB_BALANCER_HEALTH_TRACKER_H_
#define JAWLB_BALANCER_HEALTH_TRACKER_H_

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

#include "discovery/backend.h"

namespace jawlb::balancer {

class HealthTracker {
 public:
  struct Options {
    absl::Duration readmit_after = absl::Seconds(1);  // hold after a first removal
    absl::Duration max_hold = absl::Minutes(1);
    absl::Duration flap_memory = absl::Minutes(5);  // removals older than this are forgiven
  };

  enum class Verdict { kServing, kNotServing, kUnreachable };

  struct Entry {
    discovery::Backend backend;
    std::optional<Verdict> last;  // none before the first answer
    std::string detail;           // what the last check said
    bool removed = false;
    int recent_removals = 0;
    absl::Time readmit_at = absl::InfiniteFuture();  // when removed and serving again
  };

  explicit HealthTracker(Options options) : options_(options) {}
  HealthTracker() : HealthTracker(Options{}) {}

  // The backends Kubernetes lists now. New ones start usable; gone ones are
  // forgotten (a backend that comes back starts afresh).
  void SetBackends(const std::vector<discovery::Backend>& backends);
  // What a check of `backend` said at `now`. Unknown backends are ignored.
  void Observe(const discovery::Backend& backend, Verdict verdict, std::string detail,
               absl::Time now);
  // Lets back the backends whose hold has passed by `now`.
  void Advance(absl::Time now);

  // The backends to send (sorted): the usable ones, or all in panic.
  std::vector<discovery::Backend> Usable() const;
  bool panic() const;
  // The earliest time Advance() would let a backend back.
  absl::Time NextReadmission() const;
  size_t removed_count() const;
  std::vector<Entry> Describe() const;

 private:
  struct State {
    std::optional<Verdict> last;
    std::string detail;
    bool removed = false;
    std::optional<absl::Time> serving_since;  // while removed
    std::deque<absl::Time> removals;
  };

  absl::Duration HoldFor(const State& state) const;

  const Options options_;
  std::map<discovery::Backend, State> states_;
};

const char* VerdictName(HealthTracker::Verdict verdict);

}  // namespace jawlb::balancer

#endif  // JAWLB_BALANCER_HEALTH_TRACKER_H_
