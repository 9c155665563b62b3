// What a stream writes next, with plain values: no gRPC, no threads.
#include "grpclb/list_cursor.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace jawlb::grpclb {
namespace {

using Action = ListCursor::Step::Action;

// `count` backends 10.0.0.x:port.
discovery::BackendSet Backends(int count, uint16_t port = 80) {
  std::vector<discovery::Backend> backends;
  for (int i = 1; i <= count; ++i) {
    backends.push_back(*discovery::MakeBackend(absl::StrCat("10.0.0.", i), port));
  }
  return discovery::BackendSet(std::move(backends));
}

SnapshotPtr Snap(uint64_t version, const discovery::BackendSet& backends, int drop_percent = 0) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->version = version;
  snapshot->backends = backends;
  snapshot->drop_percent = drop_percent;
  return snapshot;
}

// A cursor past its initial response.
ListCursor Streaming() {
  ListCursor cursor;
  cursor.InitialRequestReceived();
  EXPECT_EQ(cursor.Next(nullptr, false, absl::OkStatus(), std::nullopt).action,
            Action::kWriteInitialResponse);
  cursor.WriteDone();
  return cursor;
}

ListCursor::Step Shared(ListCursor& cursor, const SnapshotPtr& latest) {
  return cursor.Next(latest, false, absl::OkStatus(), std::nullopt);
}

TEST(ListCursorTest, NothingBeforeTheInitialRequestThenTheResponseOnce) {
  ListCursor cursor;
  const SnapshotPtr list = Snap(1, Backends(2));
  EXPECT_EQ(Shared(cursor, list).action, Action::kNone);
  cursor.InitialRequestReceived();
  EXPECT_EQ(Shared(cursor, list).action, Action::kWriteInitialResponse);
  // One write in flight at a time: nothing until it is done.
  EXPECT_EQ(Shared(cursor, list).action, Action::kNone);
  cursor.WriteDone();
  const ListCursor::Step step = Shared(cursor, list);
  EXPECT_EQ(step.action, Action::kWriteList);
  EXPECT_EQ(step.snapshot, list);
  EXPECT_TRUE(step.first_list);
  EXPECT_FALSE(step.own.has_value());
}

TEST(ListCursorTest, NoListBeforeTheSourcesFirst) {
  ListCursor cursor = Streaming();
  EXPECT_EQ(Shared(cursor, nullptr).action, Action::kNone);
}

TEST(ListCursorTest, LatestWinsAndTheSameListIsNeverWrittenTwice) {
  ListCursor cursor = Streaming();
  const discovery::BackendSet a = Backends(2);
  const discovery::BackendSet b = Backends(3);
  ASSERT_EQ(Shared(cursor, Snap(1, a)).action, Action::kWriteList);
  // Versions 2 and 3 land during the write: only 3 is written.
  EXPECT_EQ(Shared(cursor, Snap(2, b)).action, Action::kNone);
  cursor.WriteDone();
  ListCursor::Step step = Shared(cursor, Snap(3, b));
  ASSERT_EQ(step.action, Action::kWriteList);
  EXPECT_EQ(step.snapshot->version, 3u);
  EXPECT_FALSE(step.first_list);
  cursor.WriteDone();
  // The same snapshot again: nothing.
  EXPECT_EQ(Shared(cursor, Snap(3, b)).action, Action::kNone);
  // A change and its undo both landed while a write was in flight: the
  // newest equals what the client has, so nothing is written...
  EXPECT_EQ(Shared(cursor, Snap(5, b)).action, Action::kNone);
  EXPECT_EQ(cursor.last_version(), 5u);
  // ... but the same backends with another drop share is a new list.
  EXPECT_EQ(Shared(cursor, Snap(6, b, 10)).action, Action::kWriteList);
}

TEST(ListCursorTest, OwnListsAreWrittenWhenTheyOrTheirDropShareChange) {
  ListCursor cursor = Streaming();
  const SnapshotPtr list = Snap(1, Backends(4));
  ListCursor::Step step = cursor.Next(list, false, absl::OkStatus(), Backends(1));
  ASSERT_EQ(step.action, Action::kWriteList);
  EXPECT_TRUE(step.first_list);
  EXPECT_EQ(step.own, Backends(1));
  cursor.WriteDone();
  // The same subset: nothing, whatever the snapshot.
  EXPECT_EQ(cursor.Next(Snap(2, Backends(4)), false, absl::OkStatus(), Backends(1)).action,
            Action::kNone);
  // A rebalance moves the client (the snapshot unchanged).
  step = cursor.Next(list, false, absl::OkStatus(), Backends(2));
  ASSERT_EQ(step.action, Action::kWriteList);
  EXPECT_FALSE(step.first_list);
  cursor.WriteDone();
  EXPECT_EQ(cursor.last_size(), 2u);
  // Shedding: the drop share changes, the subset does not.
  EXPECT_EQ(cursor.Next(Snap(3, Backends(4), 20), false, absl::OkStatus(), Backends(2)).action,
            Action::kWriteList);
}

TEST(ListCursorTest, AFinishWaitsForTheWriteInFlightAndTheFirstRequestWins) {
  ListCursor cursor = Streaming();
  ASSERT_EQ(Shared(cursor, Snap(1, Backends(1))).action, Action::kWriteList);
  cursor.RequestFinish(absl::CancelledError("cancelled by the client"));
  cursor.RequestFinish(absl::InvalidArgumentError("too late"));
  EXPECT_EQ(Shared(cursor, Snap(2, Backends(2))).action, Action::kNone);  // still writing
  cursor.WriteDone();
  const ListCursor::Step step = Shared(cursor, Snap(2, Backends(2)));
  ASSERT_EQ(step.action, Action::kFinish);
  EXPECT_EQ(step.status.code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(cursor.finishing());
  // Finished once; nothing after it.
  EXPECT_EQ(Shared(cursor, Snap(3, Backends(3))).action, Action::kNone);
}

TEST(ListCursorTest, AClosedHubEndsTheStreamWithItsReason) {
  ListCursor drained = Streaming();
  ListCursor::Step step = drained.Next(nullptr, true, absl::OkStatus(), std::nullopt);
  ASSERT_EQ(step.action, Action::kFinish);
  EXPECT_EQ(step.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(step.status.message(), ::testing::HasSubstr("shutting down"));

  // Even before the initial request.
  ListCursor missing;
  step = missing.Next(nullptr, true, absl::NotFoundError("service ns/x not found"), std::nullopt);
  ASSERT_EQ(step.action, Action::kFinish);
  EXPECT_EQ(step.status.code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace jawlb::grpclb
