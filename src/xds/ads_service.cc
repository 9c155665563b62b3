#include "xds/ads_service.h"

#include <utility>

#include "spdlog/spdlog.h"

namespace jawlb::xds {

AdsService::AdsService(transport::CompletionQueues& queues, grpclb::ServiceResolver resolver,
                       Options options)
    : queues_(queues),
      resolver_(std::move(resolver)),
      resources_(options.load_reports),
      shared_{service_,
              resolver_,
              clients_,
              live_,
              draining_,
              *options.clock,
              options.limits,
              metrics_,
              resources_,
              nack_log_,
              std::move(options.version_prefix),
              options.first_message_timeout} {}

AdsService::~AdsService() { Stop(); }

void AdsService::Start() {
  started_ = true;
  for (size_t i = 0; i < queues_.size(); ++i) {
    for (int n = 0; n < 2; ++n) AdsStream::Accept(shared_, queues_.queue(i), i);
  }
}

void AdsService::Drain() {
  if (draining_.exchange(true)) return;
  clients_.DrainAll();
}

void AdsService::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (started_ && !live_.WaitForNone(absl::Seconds(30))) {
    spdlog::error("xDS streams still open 30 s after the server shut down; closing anyway");
  }
}

}  // namespace jawlb::xds
