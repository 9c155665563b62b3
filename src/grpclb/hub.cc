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

Hub::State Hub::Current() const {
  absl::MutexLock lock(&mu_);
  return State{latest_, closed_};
}

void Hub::WakeAll() {
  for (const std::shared_ptr<Subscriber>& subscriber : subscribers_.Live()) {
    subscriber->OnHubChanged();
  }
}

}  // namespace jawlb::grpclb
