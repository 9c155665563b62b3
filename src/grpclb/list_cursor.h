// ListCursor: what one grpclb stream writes next, decided from plain values.
// The call's plumbing (balance_load_call.h) asks Next() whenever
// something may have changed (a new snapshot, a new subset, a write done, an
// end requested) and does what it says; the cursor never touches gRPC.
//
// The rules, in order:
// - Once an end is due — asked for (the first request wins), or the Hub
//   closed (with its reason; OK means the drain's UNAVAILABLE) — the stream
//   finishes, after the write in flight (at most one is).
// - Nothing is written before the client's initial request; then the
//   InitialLoadBalanceResponse, once.
// - Then the newest list: the Hub's shared one, or, with subsetting, the
//   client's own subset with the shared list's drop share. Nothing before the
//   source's first complete list.
// - Latest wins: a list is written only if it differs from the last one the
//   client got — snapshots published during a write are skipped, and a change
//   and its undo that both landed during a write cost nothing.
//
// A stream's first list is marked: it carries no change to the client (for
// the propagation metric).
//
// Threading: a value; the stream guards it with its lock.
#ifndef JAWLB_GRPCLB_LIST_CURSOR_H_
#define JAWLB_GRPCLB_LIST_CURSOR_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"

#include "discovery/backend_set.h"
#include "grpclb/snapshot.h"

namespace jawlb::grpclb {

class ListCursor {
 public:
  struct Step {
    enum class Action { kNone, kWriteInitialResponse, kWriteList, kFinish };
    Action action = Action::kNone;
    // kWriteList: the snapshot the list comes from, and with subsetting the
    // client's own list to encode (else the snapshot's message is written).
    SnapshotPtr snapshot;
    std::optional<discovery::BackendSet> own;
    bool first_list = false;  // kWriteList: the stream's first list
    absl::Status status;      // kFinish: what the stream ends with
  };

  // The client's initial request arrived.
  void InitialRequestReceived() { initial_received_ = true; }
  // Asks to end the stream with `status` (the first request wins).
  void RequestFinish(absl::Status status);

  // The next step, given the Hub's newest snapshot, whether it is closed (and
  // why), and with subsetting the client's own list now (nullopt: the shared
  // list). A write or finish returned is taken as started.
  Step Next(const SnapshotPtr& latest, bool closed, const absl::Status& close_reason,
            std::optional<discovery::BackendSet> own);
  // The write in flight completed.
  void WriteDone() { write_in_flight_ = false; }

  bool initial_received() const { return initial_received_; }
  bool finishing() const { return finished_; }
  // The last list the client was sent: its snapshot's version and its size
  // (0: none yet).
  uint64_t last_version() const { return last_sent_ == nullptr ? 0 : last_sent_->version; }
  size_t last_size() const;

 private:
  // With subsetting: the client's own list, if it is due.
  Step NextOwn(const SnapshotPtr& latest, discovery::BackendSet own);
  // The shared list, if it is due.
  Step NextShared(const SnapshotPtr& latest);

  bool initial_received_ = false;
  bool initial_response_sent_ = false;
  bool write_in_flight_ = false;
  std::optional<absl::Status> finish_;  // requested
  bool finished_ = false;               // the finish was handed out
  SnapshotPtr last_sent_;               // the snapshot of the last list written
  // With subsetting: the last own list written, and its drop share.
  std::optional<discovery::BackendSet> last_own_;
  int last_own_drop_percent_ = 0;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_LIST_CURSOR_H_
