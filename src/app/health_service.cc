#include "app/health_service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"

#include "transport/grpc_message.h"

namespace jawlb::app {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

std::vector<transport::SharedBytes> FramedResponses() {
  std::vector<transport::SharedBytes> responses;
  for (int status = 0; status <= 3; ++status) {
    HealthCheckResponse response;
    response.set_status(static_cast<HealthCheckResponse::ServingStatus>(status));
    responses.push_back(
        std::make_shared<const std::string>(transport::FrameMessage(response.SerializeAsString())));
  }
  return responses;
}

// The service a request asks about, or why it is refused.
absl::StatusOr<std::string> ServiceOf(const std::string& message) {
  HealthCheckRequest request;
  if (!request.ParseFromString(message)) {
    return absl::InvalidArgumentError("malformed HealthCheckRequest: not a valid protobuf message");
  }
  if (request.service().size() > HealthService::kMaxServiceBytes) {
    return absl::InvalidArgumentError(absl::StrCat("a service name of ", request.service().size(),
                                                   " bytes; at most ",
                                                   HealthService::kMaxServiceBytes, " are taken"));
  }
  return request.service();
}

// Ends `call` with DEADLINE_EXCEEDED unless `*asked` by then.
template <typename H>
void EndIfSilent(const std::shared_ptr<transport::ServerCall>& call, std::weak_ptr<H> handler,
                 absl::Duration timeout) {
  call->RunAfter(timeout, [call = std::weak_ptr<transport::ServerCall>(call),
                           handler = std::move(handler), timeout] {
    std::shared_ptr<H> self = handler.lock();
    std::shared_ptr<transport::ServerCall> live = call.lock();
    if (self == nullptr || live == nullptr || self->asked()) return;
    live->Finish(absl::DeadlineExceededError(absl::StrCat(
        "no HealthCheckRequest within ", absl::FormatDuration(timeout), " of opening the call")));
  });
}

}  // namespace

// One Check: the status now, or NOT_FOUND.
class HealthService::Check final : public transport::ServerCall::Handler,
                                   public std::enable_shared_from_this<Check> {
 public:
  Check(HealthService& service, std::shared_ptr<transport::ServerCall> call)
      : service_(service), call_(std::move(call)) {}

  bool asked() const { return asked_; }

  void OnMessage(std::string message) override {
    if (call_ == nullptr || asked_) return;  // a unary call: the first request counts
    asked_ = true;
    absl::StatusOr<std::string> service = ServiceOf(message);
    if (!service.ok()) {
      call_->Finish(service.status());
      return;
    }
    const std::optional<Status> status = service_.StatusOf(*service);
    if (!status.has_value()) {
      call_->Finish(absl::NotFoundError(absl::StrCat("unknown service \"", *service, "\"")));
      return;
    }
    call_->Write(service_.responses_[static_cast<size_t>(*status)]);
    call_->Finish(absl::OkStatus());  // once the response is out
  }
  void OnHalfClose() override {
    if (call_ != nullptr && !asked_) {
      call_->Finish(absl::InvalidArgumentError("a Check without its HealthCheckRequest"));
    }
  }
  void OnWriteDone(bool /*ok*/) override {}
  void OnDone(bool /*cancelled*/) override { call_.reset(); }

 private:
  HealthService& service_;
  std::shared_ptr<transport::ServerCall> call_;  // null once it is over
  bool asked_ = false;
};

// One Watch: the status now, then every change (latest wins).
class HealthService::Watch final : public transport::ServerCall::Handler,
                                   public std::enable_shared_from_this<Watch> {
 public:
  Watch(HealthService& service, const std::shared_ptr<transport::ServerCall>& call)
      : service_(service), weak_call_(call), call_(call) {}

  bool asked() const { return asked_; }

  // From any thread: the watched status changed.
  void Wake() {
    transport::PostToHandler(weak_call_, weak_from_this(), [](Watch& self) { self.Pump(); });
  }

  void OnMessage(std::string message) override {
    if (call_ == nullptr || asked_) return;  // one request per Watch
    asked_ = true;
    absl::StatusOr<std::string> service = ServiceOf(message);
    if (!service.ok()) {
      call_->Finish(service.status());
      return;
    }
    name_ = *std::move(service);
    service_.AddWatch(name_, shared_from_this());
    Pump();
  }
  void OnHalfClose() override {
    if (call_ != nullptr && !asked_) {
      call_->Finish(absl::InvalidArgumentError("a Watch without its HealthCheckRequest"));
    }
  }
  void OnWriteDone(bool ok) override {
    writing_ = false;
    if (ok) Pump();
  }
  void OnDone(bool /*cancelled*/) override {
    if (asked_) service_.RemoveWatch(name_, this);
    call_.reset();
  }

 private:
  void Pump() {
    if (call_ == nullptr || writing_) return;
    const Status now = service_.StatusOf(name_).value_or(Status::kServiceUnknown);
    if (sent_ == now) return;
    sent_ = now;
    writing_ = true;
    call_->Write(service_.responses_[static_cast<size_t>(now)]);
  }

  HealthService& service_;
  const std::weak_ptr<transport::ServerCall> weak_call_;  // for other threads' wakes
  // The call's context's.
  std::shared_ptr<transport::ServerCall> call_;  // null once it is over
  bool asked_ = false;
  std::string name_;
  std::optional<Status> sent_;
  bool writing_ = false;
};

HealthService::HealthService(absl::Duration first_message_timeout)
    : first_message_timeout_(first_message_timeout), responses_(FramedResponses()) {
  absl::MutexLock lock(&mu_);
  statuses_[""] = Status::kServing;  // as gRPC's own: the server answers
}

transport::MethodHandler HealthService::CheckHandler() {
  return [this](const std::shared_ptr<transport::ServerCall>& call) {
    auto check = std::make_shared<Check>(*this, call);
    call->Start(check);
    EndIfSilent<Check>(call, check, first_message_timeout_);
  };
}

transport::MethodHandler HealthService::WatchHandler() {
  return [this](const std::shared_ptr<transport::ServerCall>& call) {
    auto watch = std::make_shared<Watch>(*this, call);
    call->Start(watch);
    EndIfSilent<Watch>(call, watch, first_message_timeout_);
  };
}

void HealthService::SetServingStatus(const std::string& service, bool serving) {
  std::vector<std::weak_ptr<Watch>> woken;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    statuses_[service] = serving ? Status::kServing : Status::kNotServing;
    if (auto it = watches_.find(service); it != watches_.end()) woken = it->second;
  }
  for (const std::weak_ptr<Watch>& watch : woken) {
    if (std::shared_ptr<Watch> live = watch.lock()) live->Wake();
  }
}

void HealthService::SetServingStatus(bool serving) {
  std::vector<std::string> services;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [service, status] : statuses_) services.push_back(service);
  }
  for (const std::string& service : services) SetServingStatus(service, serving);
}

void HealthService::Shutdown() {
  std::vector<std::weak_ptr<Watch>> woken;
  {
    // One step: no SetServingStatus() can come between the statuses and the
    // flag.
    absl::MutexLock lock(&mu_);
    if (shut_down_) return;
    shut_down_ = true;
    for (auto& [service, status] : statuses_) status = Status::kNotServing;
    for (const auto& [service, watches] : watches_) {
      woken.insert(woken.end(), watches.begin(), watches.end());
    }
  }
  for (const std::weak_ptr<Watch>& watch : woken) {
    if (std::shared_ptr<Watch> live = watch.lock()) live->Wake();
  }
}

std::optional<HealthService::Status> HealthService::StatusOf(const std::string& service) const {
  absl::MutexLock lock(&mu_);
  const auto it = statuses_.find(service);
  if (it == statuses_.end()) return std::nullopt;
  return it->second;
}

void HealthService::AddWatch(const std::string& service, const std::shared_ptr<Watch>& watch) {
  absl::MutexLock lock(&mu_);
  watches_[service].push_back(watch);
}

void HealthService::RemoveWatch(const std::string& service, const Watch* watch) {
  absl::MutexLock lock(&mu_);
  auto it = watches_.find(service);
  if (it == watches_.end()) return;
  std::erase_if(it->second, [watch](const std::weak_ptr<Watch>& entry) {
    std::shared_ptr<Watch> live = entry.lock();
    return live == nullptr || live.get() == watch;
  });
  if (it->second.empty()) watches_.erase(it);
}

}  // namespace jawlb::app
