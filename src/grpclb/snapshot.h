// Snapshot: one published ServerList, already encoded. The Hub hands the same
// immutable Snapshot to every stream, which writes its `framed` bytes: a list is
// serialized once per change, never once per client.
//
// Threading: immutable (but for its memo, which locks); share freely across
// threads through SnapshotPtr.
#ifndef JAWLB_GRPCLB_SNAPSHOT_H_
#define JAWLB_GRPCLB_SNAPSHOT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "discovery/backend_set.h"
#include "transport/server_call.h"

namespace jawlb::grpclb {

struct Snapshot {
  // Increases by one with every published change, starting at 1.
  uint64_t version = 0;
  // What the list was made from: the source's set, or the part of it that
  // fits in a message (Hub::SetMaxListBytes).
  discovery::BackendSet backends;
  // When the source saw the change this list reflects (a watch event's arrival).
  absl::Time observed;
  // The share of drop entries in every list made from it (load shedding).
  int drop_percent = 0;
  // The serialized LoadBalanceResponse{server_list}, framed for the transport
  // (transport::FrameMessage): what every call writes, shared.
  transport::SharedBytes framed;
  // A hash of `framed` (0: not computed), so that a stream can tell a list
  // from the one it last sent without comparing every backend.
  uint64_t fingerprint = 0;

  // Whether a client given `other` has this list: the same backends and drops.
  // O(1) when the fingerprints differ (a real change); a full comparison
  // otherwise (a change and its undo, both published while a write was out).
  bool SameListAs(const Snapshot& other) const {
    if (fingerprint != other.fingerprint) return false;
    return drop_percent == other.drop_percent && backends == other.backends;
  }

  // Another protocol's encoding of the same list (xDS: the service's
  // ClusterLoadAssignment), made by the first stream that needs it and
  // shared by the rest: `make` runs once per snapshot.
  transport::SharedBytes Memo(const std::function<std::string()>& make) const
      ABSL_LOCKS_EXCLUDED(memo_mu_) {
    absl::MutexLock lock(&memo_mu_);
    if (memo_ == nullptr) memo_ = std::make_shared<const std::string>(make());
    return memo_;
  }

 private:
  mutable absl::Mutex memo_mu_;
  mutable transport::SharedBytes memo_ ABSL_GUARDED_BY(memo_mu_);
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SNAPSHOT_H_
