// Hub: the only hand-off between the source's thread and the transport's
// threads (jawlb's HTTP/2 loops, or gRPC's completion queues). Holds the
// newest Snapshot (the encoded ServerList) of the service and wakes every
// subscribed stream when it changes.
//
// Subscribers are held weakly: a stream that is gone is never woken, and a wake
// that races with a stream ending only finds a stream that will not write.
//
// Subscribers live in shards (one per transport thread). A change wakes
// each shard once, through the WakeRunner on that shard's thread, so a change
// is one thread hop per shard rather than one per stream, and the shards are
// woken in parallel; changes published before a shard's wake runs are folded
// into it (every stream writes only the newest list). Without a WakeRunner,
// wakes run on the publishing thread.
//
// Threading: thread-safe. Publish() and SetDropPercent() are serialized by
// their own lock (the source's thread publishes, load reports set drops);
// Latest(), Current() and Subscribe() run on the transport's threads.
// Wakes run with no Hub lock held; a subscriber's OnHubChanged() must not block.
#ifndef JAWLB_GRPCLB_HUB_H_
#define JAWLB_GRPCLB_HUB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

#include "common/clock.h"
#include "common/log_throttle.h"
#include "common/metrics.h"
#include "discovery/backend_set.h"
#include "grpclb/snapshot.h"
#include "grpclb/weak_set.h"

namespace jawlb::grpclb {

class Hub {
 public:
  // A stream that wants to hear about new snapshots.
  class Subscriber {
   public:
    virtual ~Subscriber() = default;
    // Something changed: a newer snapshot, or the Hub closed. Runs on the
    // shard's wake thread; must not block.
    virtual void OnHubChanged() = 0;
  };

  // Keeps the subscriber registered; destroying it unregisters.
  using Subscription = WeakSet<Subscriber>::Membership;

  // Runs `wake` (one shard's wake-up) soon on the thread of `shard`.
  using WakeRunner = std::function<void(size_t shard, std::function<void()> wake)>;

  // `token_prefix`: what precedes each entry's backend tag in its
  // load_balance_token (server_list.h); "" for none.
  explicit Hub(size_t shards = 1, std::string token_prefix = "");
  // Waits for wakes in progress.
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Encodes `backends` into a new snapshot, makes it the latest and wakes every
  // subscriber. `observed` is when the source saw the change (for the
  // propagation time). Returns false (and does nothing) when `backends` equals
  // the set last published: an identical list is never published twice.
  //
  // A list whose encoding would exceed the bytes allowed (SetMaxListBytes) is
  // cut to the backends that fit (FitToBytes: the same ones from one change to
  // the next), logged as an error and counted: a client refuses a message
  // over its receive limit (4 MiB by default in every gRPC) and would
  // reconnect in a loop with no list at all. Weights scaled down to fit
  // WeightedEntryCap are logged too.
  bool Publish(discovery::BackendSet backends, absl::Time observed = Clock::Real().Now())
      ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `percent` of every list drop entries (load shedding; 0: none) and,
  // when that changes it, republishes the latest set with it.
  void SetDropPercent(int percent, absl::Time observed = Clock::Real().Now())
      ABSL_LOCKS_EXCLUDED(mu_);

  // The most bytes an encoded list may have (0: no bound). Applies from the
  // next publish.
  void SetMaxListBytes(size_t bytes) ABSL_LOCKS_EXCLUDED(mu_);

  // From now on every subscriber should end its stream; wakes them all.
  // `reason` is what they end with (OK: the drain's UNAVAILABLE).
  void Close(absl::Status reason = absl::OkStatus()) ABSL_LOCKS_EXCLUDED(mu_);

  // The newest snapshot, or nullptr before the first complete list.
  SnapshotPtr Latest() const ABSL_LOCKS_EXCLUDED(mu_);
  // The newest snapshot and whether the Hub is closed, read together (one lock:
  // every stream asks on every wake).
  struct State {
    SnapshotPtr latest;
    bool closed = false;
    absl::Status close_reason;  // OK: the drain
  };
  State Current() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t subscriber_count() const;

  // From now on wakes run through `runner` (null: on the publishing thread).
  // Waits until the wakes handed to the previous runner have run.
  void SetWakeRunner(WakeRunner runner) ABSL_LOCKS_EXCLUDED(mu_);

  // Lists published, encode time, the newest list's version and size.
  void WriteMetrics(metrics::TextWriter& out) const ABSL_LOCKS_EXCLUDED(mu_);

  // Registers `subscriber` in `shard` (modulo the shard count) until the
  // returned Subscription is destroyed. The subscriber is held weakly.
  // REQUIRES: the Subscription does not outlive the Hub.
  [[nodiscard]] std::unique_ptr<Subscription> Subscribe(std::weak_ptr<Subscriber> subscriber,
                                                        size_t shard = 0) {
    return shards_[shard % shards_.size()]->Add(std::move(subscriber));
  }

 private:
  // Wakes every shard now, or has the runner do it.
  void ScheduleWakes() ABSL_LOCKS_EXCLUDED(mu_);
  void WakeShard(size_t shard);
  // Encodes and installs a new snapshot, then wakes everyone.
  void PublishLocked(discovery::BackendSet backends, absl::Time observed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(publish_mu_) ABSL_LOCKS_EXCLUDED(mu_);

  // The sets are constant after construction; each is thread-safe.
  std::vector<std::unique_ptr<WeakSet<Subscriber>>> shards_;
  const std::string token_prefix_;

  // Serializes the publishers: one encodes at a time, outside mu_.
  absl::Mutex publish_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  int drop_percent_ ABSL_GUARDED_BY(publish_mu_) = 0;
  size_t max_list_bytes_ ABSL_GUARDED_BY(publish_mu_) = 0;
  // The set last published as the source gave it (the snapshot's may be cut).
  discovery::BackendSet published_set_ ABSL_GUARDED_BY(publish_mu_);
  bool any_published_ ABSL_GUARDED_BY(publish_mu_) = false;
  LogThrottle cut_log_ ABSL_GUARDED_BY(publish_mu_);
  LogThrottle weights_log_ ABSL_GUARDED_BY(publish_mu_);

  mutable absl::Mutex mu_;
  SnapshotPtr latest_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_reason_ ABSL_GUARDED_BY(mu_);
  WakeRunner runner_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> wake_scheduled_ ABSL_GUARDED_BY(mu_);  // per shard, not yet started
  int wakes_outstanding_ ABSL_GUARDED_BY(mu_) = 0;         // handed to the runner, not done
  metrics::Counter published_;
  metrics::Counter lists_cut_;
  metrics::Gauge backends_cut_;  // from the newest list
  metrics::Histogram encode_seconds_{metrics::Histogram::LatencyBounds()};
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_HUB_H_
