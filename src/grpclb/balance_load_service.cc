#include "grpclb/balance_load_service.h"

#include <utility>

#include "spdlog/spdlog.h"

#include "grpclb/server_list.h"

namespace jawlb::grpclb {

BalanceLoadService::BalanceLoadService(transport::CompletionQueues& queues,
                                       ServiceResolver resolver, Options options)
    : queues_(queues),
      initial_response_(Serialize(MakeInitialResponse(options.client_stats_interval))),
      replica_(std::move(options.replica)),
      resolver_(std::move(resolver)),
      limits_(options.limits),
      shared_{service_,
              resolver_,
              clients_,
              initial_response_,
              metrics_,
              replica_,
              live_,
              draining_,
              options.load_smoothing,
              *options.clock,
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

void BalanceLoadService::AddTo(grpc::ServerBuilder& builder) { builder.RegisterService(&service_); }

void BalanceLoadService::Start(int port) {
  limits_.SetServerPort(port);
  started_ = true;
  for (size_t i = 0; i < queues_.size(); ++i) {
    // A few calls requested ahead, so a burst of new clients is accepted at once.
    for (int n = 0; n < 4; ++n) BalanceLoadStream::Accept(shared_, queues_.queue(i), i);
  }
}

void BalanceLoadService::Drain() {
  if (draining_.exchange(true)) return;
  clients_.DrainAll();
}

void BalanceLoadService::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // The server is shut down, so every call ends and every pending request for
  // a call fails; wait for the streams to see it, so none starts an operation
  // on a closed queue.
  if (started_ && !live_.WaitForNone(absl::Seconds(30))) {
    spdlog::error("streams still open 30 s after the server shut down; closing anyway");
  }
}

}  // namespace jawlb::grpclb
