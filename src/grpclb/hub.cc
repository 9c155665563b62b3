#include "grpclb/hub.h"

#include <vector>

#include "grpclb/server_list.h"

namespace jawlb::grpclb {

bool Hub::Publish(discovery::BackendSet backends) {
  uint64_t version;
  {
    absl::MutexLock lock(&mu_);
    if (latest_ != nullptr && latest_->backends == backends) return false;
    version = latest_ == nullptr ? 1 : latest_->version + 1;
  }
  // Encode outside the lock: Publish has a single caller thread, so the version
  // cannot be taken by anyone else meanwhile.
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->version = version;
  snapshot->message = Serialize(MakeServerListResponse(backends));
  snapshot->backends = std::move(backends);
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

bool Hub::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

size_t Hub::subscriber_count() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

std::unique_ptr<Hub::Subscription> Hub::Subscribe(std::weak_ptr<Subscriber> subscriber) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  subscribers_.emplace(id, std::move(subscriber));
  return std::make_unique<Subscription>(*this, id);
}

void Hub::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

void Hub::WakeAll() {
  std::vector<std::shared_ptr<Subscriber>> awake;
  {
    absl::MutexLock lock(&mu_);
    awake.reserve(subscribers_.size());
    for (const auto& [id, weak] : subscribers_) {
      if (std::shared_ptr<Subscriber> subscriber = weak.lock()) awake.push_back(std::move(subscriber));
    }
  }
  for (const std::shared_ptr<Subscriber>& subscriber : awake) subscriber->OnHubChanged();
}

}  // namespace jawlb::grpclb
