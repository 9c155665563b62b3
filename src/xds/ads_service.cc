#include "xds/ads_service.h"

#include <utility>

namespace jawlb::xds {

AdsService::AdsService(grpclb::ServiceResolver resolver, Options options)
    : resolver_(std::move(resolver)),
      resources_(options.load_reports),
      shared_{resolver_,
              clients_,
              draining_,
              *options.clock,
              options.limits,
              metrics_,
              resources_,
              nack_log_,
              std::move(options.version_prefix),
              options.first_message_timeout} {}

transport::MethodHandler AdsService::Handler() {
  return [this](const std::shared_ptr<transport::ServerCall>& call) {
    AdsStream::Serve(shared_, call);
  };
}

void AdsService::Drain() {
  if (draining_.exchange(true)) return;
  clients_.DrainAll();
}

}  // namespace jawlb::xds
