#include "app/liveness.h"

#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

#include "common/clock.h"
#include "transport/tls.h"

namespace jawlb::app {
namespace {

std::string SelfHost(const std::string& host) { return host.empty() ? "127.0.0.1" : host; }

std::string SelfTarget(const std::string& host, int port) {
  const std::string self_host = SelfHost(host);
  return absl::StrCat(absl::StrContains(self_host, ':') ? "[" + self_host + "]" : self_host, ":",
                      port);
}

}  // namespace

Liveness::Liveness(const std::string& host, int port, const k8s::ApiMonitor* kubernetes, bool tls)
    : host_(SelfHost(host)),
      port_(port),
      tls_(tls),
      target_(SelfTarget(host, port)),
      kubernetes_(kubernetes) {}

std::string Liveness::StuckReason() const {
  if (!GrpcServerAnswers()) return "the gRPC server does not answer its own health check in 2s";
  const absl::Time now = Clock::Real().Now();
  if (kubernetes_ != nullptr && kubernetes_->heartbeat().Stuck(now)) {
    return absl::StrCat("the Kubernetes I/O thread has shown no progress for ",
                        absl::FormatDuration(absl::Trunc(now - kubernetes_->heartbeat().last_beat(),
                                                         absl::Seconds(1))));
  }
  return "";
}

bool Liveness::GrpcServerAnswers() const {
  if (tls_) return transport::TlsHandshakeAnswers(host_, port_, absl::Seconds(2)).ok();
  // A connection of its own each time (not a pooled one that may have been
  // open for hours), so a port that no longer accepts fails the check.
  grpc::ChannelArguments fresh;
  fresh.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), fresh));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("jawlb.liveness");
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, request, &response).ok();
}

}  // namespace jawlb::app
