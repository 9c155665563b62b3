#include "grpclb/hub.h"

#include <vector>

#include "grpclb/server_list.h"

namespace jawlb::grpclb {

bool Hub::Publish(discovery::BackendSet backends, absl::Time observed) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    if (latest_ != nullptr && latest_->backends == backends) return false;
    version = latest_ == nullptr ? 1 : latest_->version + 1;
  }
  // Encode outside the lock: Publish has a single caller thread, so the version
  // cannot be taken by anyone else meanwhile.
  const absl::Time start = absl::Now();
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->version = version;
  snapshot->message = Serialize(MakeServerListResponse(backends));
  snapshot->backends = std::move(backends);
  snapshot->observed = observed;
  encode_seconds_.Observe(absl::Now() - start);
  published_.Add();
  {
    absl::MutexLock lock(&mu_);
    latest_ = std::move(snapshot);
  }
  WakeAll();
  return true;
}

void Hub::Close() {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  WakeAll();
}

SnapshotPtr Hub::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

Hub::State Hub::Current() const {
  absl::MutexLock lock(&mu_);
  return State{latest_, closed_};
}

void Hub::WriteMetrics(metrics::TextWriter& out) const {
  const SnapshotPtr latest = Latest();
  out.Counter("jawlb_list_updates_total", "Lists published: changes of the backend set.",
              static_cast<double>(published_.value()));
  out.Histogram("jawlb_list_encode_seconds", "Time to encode a published list (once per change).",
                encode_seconds_);
  out.Gauge("jawlb_list_version", "Version of the newest list (0: none yet).",
            latest == nullptr ? 0 : static_cast<double>(latest->version));
  out.Gauge("jawlb_list_bytes", "Size of the newest encoded list, in bytes.",
            latest == nullptr ? 0 : static_cast<double>(latest->message.Length()));
  out.Gauge("jawlb_hub_subscribers", "Streams subscribed to the list.",
            static_cast<double>(subscriber_count()));
}

void Hub::WakeAll() {
  for (const std::shared_ptr<Subscriber>& subscriber : subscribers_.Live()) {
    subscriber->OnHubChanged();
  }
}

}  // namespace jawlb::grpclb
