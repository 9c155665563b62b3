// WeakSet<T>: a thread-safe set of weakly held objects with RAII membership.
// The Hub keeps its subscribers in one and the ClientRegistry its clients: a
// member that is destroyed is simply skipped, so neither ever touches a stream
// that has ended.
//
// Threading: thread-safe. Live() copies strong references under the lock and
// returns them; callers act on them with no lock held.
#ifndef JAWLB_GRPCLB_WEAK_SET_H_
#define JAWLB_GRPCLB_WEAK_SET_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace jawlb::grpclb {

template <typename T>
class WeakSet {
 public:
  // Keeps a member in the set; destroying it removes the member.
  class Membership {
   public:
    Membership(WeakSet& set, uint64_t id) : set_(set), id_(id) {}
    ~Membership() { set_.Remove(id_); }
    Membership(const Membership&) = delete;
    Membership& operator=(const Membership&) = delete;

   private:
    WeakSet& set_;
    const uint64_t id_;
  };

  // REQUIRES: the Membership does not outlive the set.
  [[nodiscard]] std::unique_ptr<Membership> Add(std::weak_ptr<T> member) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    const uint64_t id = next_id_++;
    members_.emplace(id, std::move(member));
    return std::make_unique<Membership>(*this, id);
  }

  // Strong references to the members still alive, in no particular order.
  std::vector<std::shared_ptr<T>> Live() const ABSL_LOCKS_EXCLUDED(mu_) {
    std::vector<std::shared_ptr<T>> live;
    absl::MutexLock lock(&mu_);
    live.reserve(members_.size());
    for (const auto& [id, weak] : members_) {
      if (std::shared_ptr<T> member = weak.lock()) live.push_back(std::move(member));
    }
    return live;
  }

  size_t size() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return members_.size();
  }

 private:
  void Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    members_.erase(id);
  }

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, std::weak_ptr<T>> members_ ABSL_GUARDED_BY(mu_);
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_WEAK_SET_H_
