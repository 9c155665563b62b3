// CompletionTag: what every tag on jawlb's completion queues points at. The
// queue's thread calls Proceed() with the event's `ok`.
//
// Threading: Proceed() runs on a completion-queue thread.
#ifndef JAWLB_GRPCLB_COMPLETION_TAG_H_
#define JAWLB_GRPCLB_COMPLETION_TAG_H_

namespace jawlb::grpclb {

class CompletionTag {
 public:
  virtual ~CompletionTag() = default;
  virtual void Proceed(bool ok) = 0;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_COMPLETION_TAG_H_
