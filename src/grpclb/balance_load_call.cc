#include "grpclb/balance_load_call.h"

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/lb/v1/load_balancer.pb.h"
#include "spdlog/spdlog.h"

#include "grpclb/client_message.h"
#include "grpclb/grpc_status.h"
#include "grpclb/server_list.h"
#include "transport/grpc_message.h"
#include "transport/peer.h"

namespace jawlb::grpclb {

using grpc::lb::v1::LoadBalanceRequest;

void BalanceLoadCall::Serve(const Shared& shared,
                            const std::shared_ptr<transport::ServerCall>& call) {
  auto handler = std::make_shared<BalanceLoadCall>(shared, call);
  call->Start(handler);
  handler->Begin();
}

BalanceLoadCall::BalanceLoadCall(const Shared& shared, std::shared_ptr<transport::ServerCall> call)
    : shared_(shared),
      peer_(call->peer()),
      connected_(shared.clock.Now()),
      weak_call_(call),
      call_(std::move(call)),
      load_(connected_, shared.load_smoothing) {}

void BalanceLoadCall::Begin() {
  if (shared_.limits != nullptr) {
    if (absl::Status admitted = shared_.limits->Admit(peer_); !admitted.ok()) {
      RequestFinish(std::move(admitted));  // costs nothing more than the refusal
      return;
    }
    admitted_ = true;
  }
  shared_.metrics.started.Add();
  registration_ = shared_.registry.Register(shared_from_this());
  std::weak_ptr<BalanceLoadCall> weak = weak_from_this();
  call_->RunAfter(shared_.first_message_timeout, [weak] {
    std::shared_ptr<BalanceLoadCall> self = weak.lock();
    if (self == nullptr || self->streaming_) return;
    self->RequestFinish(absl::DeadlineExceededError(
        absl::StrCat("no InitialLoadBalanceRequest within ",
                     absl::FormatDuration(self->shared_.first_message_timeout),
                     " of opening the stream (JAWLB_FIRSTMESSAGETIMEOUT)")));
  });
  // Registered first, so a drain from now on reaches this call either way.
  if (shared_.draining.load(std::memory_order_acquire)) Drain();
}

void BalanceLoadCall::Drain() {
  transport::PostToHandler(weak_call_, weak_from_this(), [](BalanceLoadCall& self) {
    self.RequestFinish(
        absl::UnavailableError("jawlb is shutting down: reconnect to another replica"));
  });
}

void BalanceLoadCall::PostPump() {
  transport::PostToHandler(weak_call_, weak_from_this(),
                           [](BalanceLoadCall& self) { self.Pump(); });
}

void BalanceLoadCall::OnMessage(std::string message) {
  if (finish_called_ || cursor_.finishing()) return;
  LoadBalanceRequest request;
  if (!request.ParseFromString(message)) {
    RequestFinish(
        absl::InvalidArgumentError("malformed LoadBalanceRequest: not a valid protobuf message"));
    return;
  }
  absl::StatusOr<ClientMessage> read = ReadClientMessage(request, streaming_);
  if (!read.ok()) {
    RequestFinish(read.status());
    return;
  }
  switch (read->kind) {
    case ClientMessage::Kind::kInitialRequest:
      streaming_ = true;
      if (absl::Status status = OnInitialRequest(read->name); !status.ok()) {
        RequestFinish(std::move(status));
      }
      break;
    case ClientMessage::Kind::kLoadReport:
      OnLoadReport(read->report);
      break;
    case ClientMessage::Kind::kNothing:
      break;
  }
}

void BalanceLoadCall::OnHalfClose() {
  // After the initial request, a half-close only means "no more load reports":
  // the client still gets every new list until it cancels.
  if (!streaming_) {
    RequestFinish(absl::InvalidArgumentError("stream closed before its InitialLoadBalanceRequest"));
  }
}

absl::Status BalanceLoadCall::OnInitialRequest(const std::string& name) {
  // The name chooses the service (its Hub, policy and shedding); a refusal
  // ends the stream.
  const std::string address = transport::PeerAddress(peer_);
  absl::StatusOr<std::shared_ptr<ServiceUnit>> unit = shared_.resolver(name, address);
  if (!unit.ok()) return unit.status();
  unit_ = *std::move(unit);
  subscription_ = unit_->hub().Subscribe(weak_from_this(), call_->shard());
  // Joined before the first list is due, so it is this client's subset. The
  // key survives a reconnect: the client's address without its port, and the
  // name it asked for.
  SubsetPolicy& policy = unit_->policy();
  if (policy.enabled()) {
    policy_id_ = policy.Join(absl::StrCat(address, "/", name), weak_from_this());
  }
  name_ = name;
  cursor_.InitialRequestReceived();
  UpdateInfo();
  spdlog::debug("client {} asks for \"{}\"", peer_, name);
  Pump();
  return absl::OkStatus();
}

void BalanceLoadCall::OnLoadReport(const balancer::LoadReport& report) {
  const absl::Time now = shared_.clock.Now();
  const absl::Status status = load_.Add(report, now);
  shared_.metrics.AddReport(report, status.ok());
  if (!status.ok()) {
    // A client can send these in a loop: a line a minute at most, counting the rest.
    int64_t suppressed = 0;
    if (report_log_.Allow(now, suppressed)) {
      spdlog::warn("client {}: ignoring load report: {}{}", peer_, status.ToString(),
                   suppressed > 0 ? absl::StrCat(" (and ", suppressed,
                                                 " more rejected since the last such line)")
                                  : "");
    }
    return;
  }
  UpdateInfo();
  if (unit_ == nullptr) return;
  if (policy_id_ != 0) unit_->policy().Report(policy_id_, load_.RatesAt(now).started);
  if (unit_->shedding().enabled()) unit_->shedding().Report(this, load_);
}

void BalanceLoadCall::OnWriteDone(bool ok) {
  write_in_flight_ = false;
  cursor_.WriteDone();
  SnapshotPtr written = std::move(in_flight_);
  if (ok && written != nullptr) {  // a list (nullptr: the initial response)
    shared_.metrics.lists_written.Add();
    shared_.metrics.bytes_written.Add(in_flight_bytes_);
    // A stream's first list is no change reaching it: it was known before.
    if (!in_flight_is_first_list_) {
      const absl::Duration took = shared_.clock.Now() - written->observed;
      shared_.metrics.propagation.Observe(took);
      if (unit_ != nullptr) unit_->propagation().Observe(took);
    }
  }
  if (!ok) {
    RequestFinish(absl::CancelledError("write failed: stream is gone"));
    return;
  }
  Pump();
}

void BalanceLoadCall::OnDone(bool cancelled) {
  if (cancelled && !finish_called_) {
    // Counted as the client's cancellation (the transport ended the call).
    shared_.metrics.ended.Add({CodeName(grpc::StatusCode::CANCELLED)});
  }
  if (unit_ != nullptr) {
    if (policy_id_ != 0) unit_->policy().Leave(std::exchange(policy_id_, 0));
    unit_->shedding().Forget(this);
  }
  subscription_.reset();
  if (admitted_) shared_.limits->Release(peer_);
  admitted_ = false;
  registration_.reset();
  spdlog::debug("client {} disconnected", peer_);
  call_.reset();  // the call lets go of us too
}

ClientInfo BalanceLoadCall::Describe() const {
  ClientInfo info;
  info.peer = peer_;
  info.connected = connected_;
  absl::MutexLock lock(&info_mu_);
  info.name = info_.name;
  info.service = info_.service;
  info.list_version = info_.list_version;
  info.list_size = info_.list_size;
  info.token_client = info_.token_client;
  info.load = info_.load;
  info.rates = info_.load.RatesAt(shared_.clock.Now());
  return info;
}

void BalanceLoadCall::UpdateInfo() {
  absl::MutexLock lock(&info_mu_);
  info_.name = name_;
  info_.service = unit_ == nullptr ? "" : unit_->key();
  info_.list_version = cursor_.last_version();
  info_.list_size = cursor_.last_size();
  info_.token_client = policy_id_;
  info_.load = load_;
}

void BalanceLoadCall::UpdateListInfo() {
  // Every wake steps the cursor; the lock is taken only when the list moved
  // (a subset can change size under the same version).
  const uint64_t version = cursor_.last_version();
  const size_t size = cursor_.last_size();
  if (version == info_list_version_ && size == info_list_size_) return;
  info_list_version_ = version;
  info_list_size_ = size;
  absl::MutexLock lock(&info_mu_);
  info_.list_version = version;
  info_.list_size = size;
}

void BalanceLoadCall::RequestFinish(absl::Status status) {
  cursor_.RequestFinish(std::move(status));
  Pump();
}

void BalanceLoadCall::EndWith(const absl::Status& status) {
  // A client's mistake is worth an info line; the ends of a drain (thousands at
  // once, summed up by the App) and cancellations are not.
  // Refusals by a limit are logged by the limit; any other mistake can repeat
  // with every stream a client opens, so the lines are throttled service-wide.
  int64_t suppressed = 0;
  const absl::StatusCode code = status.code();
  if (code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kCancelled ||
      code == absl::StatusCode::kResourceExhausted ||
      (shared_.end_log != nullptr && !shared_.end_log->Allow(shared_.clock.Now(), suppressed))) {
    spdlog::debug("client {}: ending stream: {}", peer_, std::string(status.message()));
  } else {
    spdlog::info("client {}: ending stream: {}{}", peer_, std::string(status.message()),
                 suppressed > 0 ? absl::StrCat(" (", suppressed,
                                               " more streams ended for mistakes since the "
                                               "last such line: jawlb_streams_ended_total)")
                                : "");
  }
  shared_.metrics.ended.Add({CodeName(static_cast<grpc::StatusCode>(code))});
  call_->Finish(status);
}

void BalanceLoadCall::Pump() {
  if (call_ == nullptr || finish_called_ || write_in_flight_) return;
  Hub::State hub;
  std::optional<discovery::BackendSet> own;
  if (unit_ != nullptr) {
    hub = unit_->hub().Current();
    if (policy_id_ != 0) own = unit_->policy().ListFor(policy_id_);
  }
  ListCursor::Step step = cursor_.Next(hub.latest, hub.closed, hub.close_reason, std::move(own));
  UpdateListInfo();
  switch (step.action) {
    case ListCursor::Step::Action::kNone:
      return;
    case ListCursor::Step::Action::kFinish:
      finish_called_ = true;
      EndWith(step.status);
      return;
    case ListCursor::Step::Action::kWriteInitialResponse:
      write_in_flight_ = true;
      in_flight_ = nullptr;
      call_->Write(shared_.initial_response);
      return;
    case ListCursor::Step::Action::kWriteList: {
      write_in_flight_ = true;
      in_flight_ = step.snapshot;
      in_flight_is_first_list_ = step.first_list;
      transport::SharedBytes message = step.snapshot->framed;
      if (step.own.has_value()) {
        message = std::make_shared<const std::string>(transport::FrameMessage(
            MakeServerListResponse(
                *step.own, shared_.replica.empty() ? "" : TokenPrefix(shared_.replica, policy_id_),
                step.snapshot->drop_percent)
                .SerializeAsString()));
      }
      in_flight_bytes_ = message->size() - transport::kMessagePrefixBytes;
      call_->Write(std::move(message));
      return;
    }
  }
}

}  // namespace jawlb::grpclb
