#include "transport/completion_queues.h"

#include <algorithm>
#include <functional>

#include "grpc/support/time.h"
#include "grpcpp/alarm.h"

#include "common/tsan.h"
#include "transport/completion_tag.h"

namespace jawlb::transport {

CompletionQueues::CompletionQueues(int count)
    : count_(static_cast<size_t>(count > 0 ? count : DefaultCount())) {}

CompletionQueues::~CompletionQueues() { Stop(); }

int CompletionQueues::DefaultCount() {
  // More queues than cores: Debian's gRPC is built with its debug checks, and
  // one of them scans a linear list of the queue's outstanding tags on every
  // completion (cq_check_tag). At 10,000 streams, 2 queues cost 109 ms of CPU
  // per change, 16 queues 60 ms (bench/fanout). The threads mostly sleep in
  // Next(); the queues share the cores.
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return std::clamp(8 * cores, 8, 64);
}

void CompletionQueues::AddTo(grpc::ServerBuilder& builder) {
  for (size_t i = 0; i < count_; ++i) queues_.push_back(builder.AddCompletionQueue());
}

void CompletionQueues::Start() {
  for (const auto& queue : queues_) {
    threads_.emplace_back([cq = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) {
        TsanAcquire(tag);  // handed over by TsanRelease() before it was queued
        static_cast<CompletionTag*>(tag)->Proceed(ok);
      }
    });
  }
}

namespace {

// One shard's wake-up, run by the shard's completion-queue thread when an
// Alarm due now fires there.
class WakeTag final : public CompletionTag {
 public:
  explicit WakeTag(std::function<void()> wake) : wake_(std::move(wake)) {}
  void Proceed(bool) override {
    wake_();
    delete this;
  }
  grpc::Alarm alarm;

 private:
  const std::function<void()> wake_;
};

}  // namespace

CompletionQueues::ShardRunner CompletionQueues::wake_runner() {
  return [this](size_t shard, std::function<void()> wake) {
    auto* tag = new WakeTag(std::move(wake));
    TsanRelease(tag);  // the queue's thread runs it (gRPC's hand-off is invisible to TSan)
    tag->alarm.Set(queues_[shard % queues_.size()].get(), gpr_now(GPR_CLOCK_MONOTONIC), tag);
  };
}

void CompletionQueues::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (const auto& queue : queues_) queue->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  if (!threads_.empty()) return;
  for (const auto& queue : queues_) {
    void* tag = nullptr;
    bool ok = false;
    while (queue->Next(&tag, &ok)) {
    }
  }
}

}  // namespace jawlb::transport
