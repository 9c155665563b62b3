// CompletionTag: what every tag on jawlb's completion queues points at. The
// queue's thread calls Proceed() with the event's `ok`.
//
// Threading: Proceed() runs on a completion-queue thread.
#ifndef JAWLB_TRANSPORT_COMPLETION_TAG_H_
#define JAWLB_TRANSPORT_COMPLETION_TAG_H_

namespace jawlb::transport {

class CompletionTag {
 public:
  virtual ~CompletionTag() = default;
  virtual void Proceed(bool ok) = 0;
};

// The tag of one of a stream's operations: Proceed() calls
// `owner->OnEvent(op, ok)`. Each stream has one per operation it starts.
template <typename Owner, typename Op>
class OpTag final : public CompletionTag {
 public:
  OpTag(Owner* owner, Op op) : owner_(owner), op_(op) {}
  void Proceed(bool ok) override { owner_->OnEvent(op_, ok); }

 private:
  Owner* const owner_;
  const Op op_;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_COMPLETION_TAG_H_
