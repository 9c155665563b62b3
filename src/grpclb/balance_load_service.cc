#include "grpclb/balance_load_service.h"

#include <algorithm>
#include <functional>

#include "grpc/support/time.h"
#include "grpcpp/alarm.h"
#include "spdlog/spdlog.h"

#include "grpclb/server_list.h"

namespace jawlb::grpclb {

BalanceLoadService::BalanceLoadService(Hub& hub, Options options)
    : initial_response_(Serialize(MakeInitialResponse(options.client_stats_interval))),
      replica_(std::move(options.replica)),
      no_shedding_(0, hub),
      limits_(options.limits),
      resolver_(std::move(options.resolver)),
      shared_{service_,
              hub,
              clients_,
              initial_response_,
              metrics_,
              options.policy != nullptr ? *options.policy : no_policy_,
              options.shedding != nullptr ? *options.shedding : no_shedding_,
              replica_,
              live_,
              options.load_smoothing,
              resolver_ ? &resolver_ : nullptr,
              &limits_,
              &end_log_,
              options.first_message_timeout} {}

BalanceLoadService::~BalanceLoadService() { Stop(); }

void BalanceLoadService::WriteMetrics(metrics::TextWriter& out) const {
  metrics_.WriteTo(out, clients_.size());
  limits_.WriteMetrics(out);
  // What the connected clients report now, summed (per client: /debug/state).
  balancer::CallRates sum;
  int reporting = 0;
  for (const ClientInfo& client : clients_.Clients()) {
    reporting += client.load.totals().reports > 0 ? 1 : 0;
    sum.started += client.rates.started;
    sum.finished += client.rates.finished;
    sum.dropped += client.rates.dropped;
  }
  out.Gauge("jawlb_clients_reporting_load", "Connected clients that have sent a load report.",
            reporting);
  out.Header("jawlb_client_call_rate", "gauge",
             "Calls per second the connected clients report, smoothed, summed over clients.");
  out.Sample("jawlb_client_call_rate", {{"kind", "started"}}, sum.started);
  out.Sample("jawlb_client_call_rate", {{"kind", "finished"}}, sum.finished);
  out.Sample("jawlb_client_call_rate", {{"kind", "dropped"}}, sum.dropped);
}

int BalanceLoadService::DefaultThreads() {
  // More queues than cores: Debian's gRPC is built with its debug checks, and
  // one of them scans a linear list of the queue's outstanding tags on every
  // completion (cq_check_tag). At 10,000 streams, 2 queues cost 109 ms of CPU
  // per change, 16 queues 60 ms (bench/fanout). The threads mostly sleep in
  // Next(); the queues share the cores.
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  return std::clamp(8 * cores, 8, 64);
}

void BalanceLoadService::AddTo(grpc::ServerBuilder& builder, int threads) {
  if (threads <= 0) threads = DefaultThreads();
  builder.RegisterService(&service_);
  for (int i = 0; i < threads; ++i) queues_.push_back(builder.AddCompletionQueue());
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

void BalanceLoadService::Start(int port) {
  limits_.SetServerPort(port);
  for (size_t i = 0; i < queues_.size(); ++i) {
    grpc::ServerCompletionQueue* cq = queues_[i].get();
    // A few calls requested ahead, so a burst of new clients is accepted at once.
    for (int n = 0; n < 4; ++n) BalanceLoadStream::Accept(shared_, cq, i);
    threads_.emplace_back([cq] {
      void* tag = nullptr;
      bool ok = false;
      while (cq->Next(&tag, &ok)) static_cast<CompletionTag*>(tag)->Proceed(ok);
    });
  }
  shared_.hub.SetWakeRunner(wake_runner());
}

Hub::WakeRunner BalanceLoadService::wake_runner() {
  return [this](size_t shard, std::function<void()> wake) {
    auto* tag = new WakeTag(std::move(wake));
    tag->alarm.Set(queues_[shard % queues_.size()].get(), gpr_now(GPR_CLOCK_MONOTONIC), tag);
  };
}

void BalanceLoadService::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Wakes go back to the publishing thread before the queues close.
  if (!threads_.empty()) shared_.hub.SetWakeRunner(nullptr);
  // The server is shut down, so every call ends and every pending request for
  // a call fails; wait for the streams to see it, so none starts an operation
  // on a closed queue.
  if (!threads_.empty() && !live_.WaitForNone(absl::Seconds(30))) {
    spdlog::error("streams still open 30 s after the server shut down; closing anyway");
  }
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
