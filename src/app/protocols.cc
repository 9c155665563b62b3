#include "app/protocols.h"

#include <limits>
#include <utility>

namespace jawlb::app {
namespace {

grpclb::BalanceLoadService::Options GrpclbOptions(const config::Config& config,
                                                  const std::string& replica) {
  grpclb::BalanceLoadService::Options options;
  options.client_stats_interval = config.client_stats_interval;
  options.load_smoothing = config.load_smoothing;
  options.replica = config.lb_tokens ? replica : "";
  options.limits.max_streams = config.max_streams;
  // Jawlb's HTTP/2 server holds each connection to its streams itself (it
  // refuses the rest, and cuts a connection that floods); the handlers' count
  // lags it (a stream's end reaches them after the transport has closed it),
  // so only gRPC C++'s server needs this second count, and its cut.
  options.limits.max_per_connection = config.transport == config::Transport::kGrpc
                                          ? config.max_streams_per_connection
                                          : std::numeric_limits<size_t>::max();
  options.limits.max_per_peer = config.max_streams_per_peer;
  options.first_message_timeout = config.first_message_timeout;
  return options;
}

xds::LrsService::Options LrsOptions(const config::Config& config, grpclb::StreamLimits& limits) {
  xds::LrsService::Options options;
  options.interval = config.client_stats_interval;
  options.smoothing = config.load_smoothing;
  options.limits = &limits;
  options.first_message_timeout = config.first_message_timeout;
  return options;
}

}  // namespace

Protocols::Protocols(const config::Config& config, transport::CompletionQueues& queues,
                     grpclb::ServiceResolver resolver, xds::LrsService::ClusterLookup clusters,
                     const std::string& replica)
    : calls_(queues),
      grpclb_(resolver, GrpclbOptions(config, replica)),
      ads_(std::move(resolver),
           xds::AdsService::Options{
               replica, &Clock::Real(), &grpclb_.limits(),
               /*load_reports=*/config.client_stats_interval > absl::ZeroDuration(),
               config.first_message_timeout}),
      lrs_(std::move(clusters), LrsOptions(config, grpclb_.limits())) {}

void Protocols::AddTo(grpc::ServerBuilder& builder) {
  calls_.Register(grpclb::kBalanceLoadMethod, grpclb_.Handler(),
                  [this](grpc::ServerContext* context, grpc::GenericServerAsyncReaderWriter* stream,
                         grpc::ServerCompletionQueue* cq, void* tag) {
                    load_balancer_.RequestBalanceLoad(context, stream, cq, cq, tag);
                  });
  calls_.Register(xds::LrsService::kMethod, lrs_.Handler(),
                  [this](grpc::ServerContext* context, grpc::GenericServerAsyncReaderWriter* stream,
                         grpc::ServerCompletionQueue* cq, void* tag) {
                    load_reporting_.RequestStreamLoadStats(context, stream, cq, cq, tag);
                  });
  calls_.Register(xds::AdsStream::kMethod, ads_.Handler(),
                  [this](grpc::ServerContext* context, grpc::GenericServerAsyncReaderWriter* stream,
                         grpc::ServerCompletionQueue* cq, void* tag) {
                    discovery_.RequestStreamAggregatedResources(context, stream, cq, cq, tag);
                  });
  calls_.AddTo(builder);
  builder.RegisterService(&load_balancer_);
  builder.RegisterService(&load_reporting_);
  builder.RegisterService(&discovery_);
}

void Protocols::AddTo(transport::H2Server& server) {
  server.Register(grpclb::kBalanceLoadMethod, grpclb_.Handler());
  server.Register(xds::LrsService::kMethod, lrs_.Handler());
  server.Register(xds::AdsStream::kMethod, ads_.Handler());
  on_grpc_ = false;
}

void Protocols::Start(int port) {
  grpclb_.Start(port);
  if (on_grpc_) calls_.Start();
}

void Protocols::Drain() {
  grpclb_.Drain();
  ads_.Drain();
  lrs_.Drain();
}

void Protocols::Stop() { calls_.Stop(); }

void Protocols::WriteMetrics(metrics::TextWriter& out) const {
  grpclb_.WriteMetrics(out);
  ads_.WriteMetrics(out);
  lrs_.WriteMetrics(out);
}

}  // namespace jawlb::app
