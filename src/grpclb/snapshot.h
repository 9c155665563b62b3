// Snapshot: one published ServerList, already encoded. The Hub hands the same
// immutable Snapshot to every stream, which writes its `message` bytes: a list is
// serialized once per change, never once per client.
//
// Threading: immutable; share freely across threads through SnapshotPtr.
#ifndef JAWLB_GRPCLB_SNAPSHOT_H_
#define JAWLB_GRPCLB_SNAPSHOT_H_

#include <cstdint>
#include <memory>

#include "absl/time/time.h"
#include "grpcpp/support/byte_buffer.h"

#include "discovery/backend_set.h"

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
  // The serialized LoadBalanceResponse{server_list}. Copying a ByteBuffer only
  // takes references on its slices, so every stream shares these bytes.
  grpc::ByteBuffer message;
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SNAPSHOT_H_
