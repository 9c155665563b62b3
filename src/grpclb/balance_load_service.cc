#include "grpclb/balance_load_service.h"

#include <algorithm>

#include "grpclb/server_list.h"

namespace jawlb::grpclb {

BalanceLoadService::BalanceLoadService(Hub& hub, absl::Duration client_stats_interval)
    : initial_response_(Serialize(MakeInitialResponse(client_stats_interval))),
      shared_{service_, hub, clients_, initial_response_, metrics_} {}

BalanceLoadService::~BalanceLoadService() { Stop(); }

void BalanceLoadService::AddTo(grpc::ServerBuilder& builder, int threads) {
  if (threads <= 0) threads = std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
  builder.RegisterService(&service_);
  for (int i = 0; i < threads; ++i) queues_.push_back(builder.AddCompletionQueue());
}

void BalanceLoadService::Start() {
  for (const auto& queue : queues_) {
    // A few calls requested ahead, so a burst of new clients is accepted at once.
    for (int i = 0; i < 4; ++i) BalanceLoadStream::Accept(shared_, queue.get());
    threads_.emplace_back([cq = queue.get()] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) static_cast<BalanceLoadStream::Tag*>(tag)->Proceed(ok);
    });
  }
}

void BalanceLoadService::Stop() {
  if (stopped_) return;
  stopped_ = true;
  for (const auto& queue : queues_) queue->Shutdown();
  for (std::thread& thread : threads_) thread.join();
  // A queue never drained by a thread (Start() not called) is drained here.
  if (threads_.empty()) {
    for (const auto& queue : queues_) {
      void* tag = nullptr;
      bool ok = false;
      while (queue->Next(&tag, &ok)) {
      }
    }
  }
}

}  // namespace jawlb::grpclb
