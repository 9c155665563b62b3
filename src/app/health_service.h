// HealthService: grpc.health.v1.Health (Check and Watch) on any transport
// (transport::ServerCall), behaving as gRPC's default health service does,
// which Kubernetes' gRPC probes and grpc-health-probe expect: the server as
// a whole ("") is SERVING from the start; a service never set is unknown
// (Check: NOT_FOUND; Watch: SERVICE_UNKNOWN, then its status once set);
// Shutdown() makes every service NOT_SERVING for good. It is a
// grpc::HealthCheckServiceInterface, so Readiness keeps it in step exactly
// as it keeps gRPC's own (which serves the port on JAWLB_TRANSPORT=grpc).
//
// A Watch is latest-wins, like a BalanceLoad stream: at most one response
// in flight; when it completes, the status now follows if it differs from
// the one sent. A call that sends no request within `first_message_timeout`
// ends with DEADLINE_EXCEEDED; a service name over 256 bytes is refused
// (INVALID_ARGUMENT).
//
// Threading: thread-safe (one mutex, a leaf); the calls run on their
// contexts and are woken by posts.
#ifndef JAWLB_APP_HEALTH_SERVICE_H_
#define JAWLB_APP_HEALTH_SERVICE_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"

#include "transport/server_call.h"

namespace jawlb::app {

class HealthService final : public grpc::HealthCheckServiceInterface {
 public:
  static constexpr char kCheckMethod[] = "/grpc.health.v1.Health/Check";
  static constexpr char kWatchMethod[] = "/grpc.health.v1.Health/Watch";
  static constexpr size_t kMaxServiceBytes = 256;

  // As grpc.health.v1.HealthCheckResponse.ServingStatus numbers them.
  enum class Status { kUnknown = 0, kServing = 1, kNotServing = 2, kServiceUnknown = 3 };

  explicit HealthService(absl::Duration first_message_timeout = absl::Seconds(10));
  HealthService(const HealthService&) = delete;
  HealthService& operator=(const HealthService&) = delete;

  // The handlers of kCheckMethod and kWatchMethod. The service must outlive
  // their calls.
  transport::MethodHandler CheckHandler();
  transport::MethodHandler WatchHandler();

  // grpc::HealthCheckServiceInterface:
  void SetServingStatus(const std::string& service, bool serving) override ABSL_LOCKS_EXCLUDED(mu_);
  void SetServingStatus(bool serving) override ABSL_LOCKS_EXCLUDED(mu_);
  void Shutdown() override ABSL_LOCKS_EXCLUDED(mu_);

  // `service`'s status; nullopt when it was never set.
  std::optional<Status> StatusOf(const std::string& service) const ABSL_LOCKS_EXCLUDED(mu_);

  class Check;
  class Watch;

 private:
  // A Watch of `service` comes and goes.
  void AddWatch(const std::string& service, const std::shared_ptr<Watch>& watch)
      ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveWatch(const std::string& service, const Watch* watch) ABSL_LOCKS_EXCLUDED(mu_);

  const absl::Duration first_message_timeout_;
  // Each status's response, framed once.
  const std::vector<transport::SharedBytes> responses_;

  mutable absl::Mutex mu_;
  std::map<std::string, Status> statuses_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::weak_ptr<Watch>>> watches_ ABSL_GUARDED_BY(mu_);
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_HEALTH_SERVICE_H_
