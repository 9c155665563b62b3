#include "grpclb/balance_load_service.h"

#include <utility>

#include "grpclb/server_list.h"
#include "transport/grpc_message.h"

namespace jawlb::grpclb {

BalanceLoadService::BalanceLoadService(ServiceResolver resolver, Options options)
    : initial_response_(std::make_shared<const std::string>(transport::FrameMessage(
          MakeInitialResponse(options.client_stats_interval).SerializeAsString()))),
      replica_(std::move(options.replica)),
      resolver_(std::move(resolver)),
      limits_(options.limits),
      shared_{resolver_,
              clients_,
              initial_response_,
              metrics_,
              replica_,
              draining_,
              options.load_smoothing,
              *options.clock,
              &limits_,
              &end_log_,
              options.first_message_timeout} {}

transport::MethodHandler BalanceLoadService::Handler() {
  return [this](const std::shared_ptr<transport::ServerCall>& call) {
    BalanceLoadCall::Serve(shared_, call);
  };
}

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

void BalanceLoadService::Start(int port) { limits_.SetServerPort(port); }

void BalanceLoadService::Drain() {
  if (draining_.exchange(true)) return;
  clients_.DrainAll();
}

}  // namespace jawlb::grpclb
