#include "grpclb/hub.h"

#include <algorithm>
#include <vector>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "grpclb/server_list.h"
#include "transport/grpc_message.h"

namespace jawlb::grpclb {

Hub::Hub(size_t shards, std::string token_prefix)
    : token_prefix_(std::move(token_prefix)), wake_scheduled_(std::max<size_t>(1, shards), false) {
  for (size_t i = 0; i < std::max<size_t>(1, shards); ++i) {
    shards_.push_back(std::make_unique<WeakSet<Subscriber>>());
  }
}

Hub::~Hub() { SetWakeRunner(nullptr); }

void Hub::SetWakeRunner(WakeRunner runner) {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* outstanding) { return *outstanding == 0; }, &wakes_outstanding_));
  runner_ = std::move(runner);
}

size_t Hub::subscriber_count() const {
  size_t count = 0;
  for (const auto& shard : shards_) count += shard->size();
  return count;
}

bool Hub::Publish(discovery::BackendSet backends, absl::Time observed) {
  absl::MutexLock publishing(&publish_mu_);
  if (any_published_ && published_set_ == backends) return false;
  any_published_ = true;
  published_set_ = backends;
  PublishLocked(std::move(backends), observed);
  return true;
}

void Hub::SetMaxListBytes(size_t bytes) {
  absl::MutexLock publishing(&publish_mu_);
  max_list_bytes_ = bytes;
}

void Hub::SetDropPercent(int percent, absl::Time observed) {
  absl::MutexLock publishing(&publish_mu_);
  if (percent == drop_percent_) return;
  drop_percent_ = percent;
  if (any_published_) PublishLocked(published_set_, observed);
}

void Hub::PublishLocked(discovery::BackendSet backends, absl::Time observed) {
  uint64_t version;
  {
    absl::ReaderMutexLock lock(&mu_);
    version = latest_ == nullptr ? 1 : latest_->version + 1;
  }
  // Encode outside mu_ (publish_mu_ keeps the version ours meanwhile).
  const absl::Time start = Clock::Real().Now();
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->version = version;
  snapshot->drop_percent = drop_percent_;
  if (WeightedEntries(backends) > WeightedEntryCap(backends.size())) {
    int64_t suppressed = 0;
    if (weights_log_.Allow(start, suppressed)) {
      spdlog::warn(
          "weights of {} backends ask for {} list entries, more than the {} a list "
          "takes: scaled down (each backend keeps one entry)",
          backends.size(), WeightedEntries(backends), WeightedEntryCap(backends.size()));
    }
  }
  // Encoded once; again only when it is over the bound and must be cut.
  grpc::lb::v1::LoadBalanceResponse response =
      MakeServerListResponse(backends, token_prefix_, drop_percent_);
  backends_cut_.Set(0);
  if (max_list_bytes_ > 0 && response.ByteSizeLong() > max_list_bytes_) {
    discovery::BackendSet fitted =
        FitToBytes(backends, token_prefix_, drop_percent_, max_list_bytes_);
    backends_cut_.Set(static_cast<int64_t>(backends.size() - fitted.size()));
    lists_cut_.Add();
    int64_t suppressed = 0;
    if (cut_log_.Allow(start, suppressed)) {
      spdlog::error(
          "the list of {} backends is over {} bytes (JAWLB_MAXLISTBYTES; clients refuse "
          "messages over 4 MiB by default): sending {} of them, the same ones from change "
          "to change; give each client its own subset with JAWLB_MAXSERVERS{}",
          backends.size(), max_list_bytes_, fitted.size(),
          suppressed > 0 ? absl::StrCat(" (", suppressed, " more lists cut since)") : "");
    }
    backends = std::move(fitted);
    response = MakeServerListResponse(backends, token_prefix_, drop_percent_);
  }
  snapshot->framed =
      std::make_shared<const std::string>(transport::FrameMessage(response.SerializeAsString()));
  snapshot->fingerprint = absl::HashOf(*snapshot->framed);
  snapshot->backends = std::move(backends);
  snapshot->observed = observed;
  encode_seconds_.Observe(Clock::Real().Now() - start);
  published_.Add();
  {
    absl::MutexLock lock(&mu_);
    latest_ = std::move(snapshot);
  }
  ScheduleWakes();
}

void Hub::Close(absl::Status reason) {
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
    close_reason_ = std::move(reason);
  }
  ScheduleWakes();
}

SnapshotPtr Hub::Latest() const {
  absl::ReaderMutexLock lock(&mu_);
  return latest_;
}

Hub::State Hub::Current() const {
  // Every stream asks on every wake and every write: readers share the lock.
  absl::ReaderMutexLock lock(&mu_);
  return State{latest_, closed_, close_reason_};
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
            latest == nullptr
                ? 0
                : static_cast<double>(latest->framed->size() - transport::kMessagePrefixBytes));
  out.Counter("jawlb_lists_cut_total",
              "Lists cut to fit JAWLB_MAXLISTBYTES (each sent only the backends that fit).",
              static_cast<double>(lists_cut_.value()));
  out.Gauge("jawlb_list_backends_cut", "Backends left out of the newest list to fit its size.",
            static_cast<double>(backends_cut_.value()));
  out.Gauge("jawlb_hub_subscribers", "Streams subscribed to the list.",
            static_cast<double>(subscriber_count()));
}

void Hub::ScheduleWakes() {
  WakeRunner runner;
  std::vector<size_t> due;
  {
    absl::MutexLock lock(&mu_);
    runner = runner_;
    for (size_t shard = 0; shard < shards_.size(); ++shard) {
      if (runner == nullptr || wake_scheduled_[shard]) continue;  // a pending wake covers it
      wake_scheduled_[shard] = true;
      ++wakes_outstanding_;
      due.push_back(shard);
    }
  }
  if (runner == nullptr) {
    for (size_t shard = 0; shard < shards_.size(); ++shard) WakeShard(shard);
    return;
  }
  for (size_t shard : due) {
    runner(shard, [this, shard] {
      {
        absl::MutexLock lock(&mu_);
        // Cleared before waking: a change published from here on schedules anew.
        wake_scheduled_[shard] = false;
      }
      WakeShard(shard);
      absl::MutexLock lock(&mu_);
      --wakes_outstanding_;
    });
  }
}

void Hub::WakeShard(size_t shard) {
  for (const std::shared_ptr<Subscriber>& subscriber : shards_[shard]->Live()) {
    subscriber->OnHubChanged();
  }
}

}  // namespace jawlb::grpclb
