#include "grpclb/list_cursor.h"

#include <utility>

namespace jawlb::grpclb {

void ListCursor::RequestFinish(absl::Status status) {
  if (!finish_.has_value()) finish_ = std::move(status);
}

size_t ListCursor::last_size() const {
  if (last_own_.has_value()) return last_own_->size();
  return last_sent_ == nullptr ? 0 : last_sent_->backends.size();
}

ListCursor::Step ListCursor::Next(const SnapshotPtr& latest, bool closed,
                                  const absl::Status& close_reason,
                                  std::optional<discovery::BackendSet> own) {
  if (finished_ || write_in_flight_) return {};
  if (closed) {
    RequestFinish(close_reason.ok() ? absl::UnavailableError(
                                          "jawlb is shutting down: reconnect to another replica")
                                    : close_reason);
  }
  if (finish_.has_value()) {
    finished_ = true;
    Step step;
    step.action = Step::Action::kFinish;
    step.status = *finish_;
    return step;
  }
  if (!initial_received_) return {};
  if (!initial_response_sent_) {
    initial_response_sent_ = true;
    write_in_flight_ = true;
    Step step;
    step.action = Step::Action::kWriteInitialResponse;
    return step;
  }
  if (latest == nullptr) return {};  // nothing before the source's first list
  Step step = own.has_value() ? NextOwn(latest, *std::move(own)) : NextShared(latest);
  write_in_flight_ = step.action == Step::Action::kWriteList;
  return step;
}

ListCursor::Step ListCursor::NextOwn(const SnapshotPtr& latest, discovery::BackendSet own) {
  // A backend change, or a rebalance after another client left: written
  // whenever the client's list (or its drop share) differs from its last.
  if (last_own_.has_value() && *last_own_ == own &&
      last_own_drop_percent_ == latest->drop_percent) {
    return {};
  }
  Step step;
  step.action = Step::Action::kWriteList;
  step.first_list = !last_own_.has_value();
  step.snapshot = latest;
  step.own = own;
  last_own_ = std::move(own);
  last_own_drop_percent_ = latest->drop_percent;
  last_sent_ = latest;
  return step;
}

ListCursor::Step ListCursor::NextShared(const SnapshotPtr& latest) {
  if (last_sent_ != nullptr && latest->version <= last_sent_->version) return {};
  const bool same_list = last_sent_ != nullptr && last_sent_->SameListAs(*latest);
  const bool first = last_sent_ == nullptr;
  last_sent_ = latest;
  if (same_list) return {};  // a change and its undo both landed while we wrote
  Step step;
  step.action = Step::Action::kWriteList;
  step.first_list = first;
  step.snapshot = latest;
  return step;
}

}  // namespace jawlb::grpclb
