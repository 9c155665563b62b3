#include "grpclb/balance_load_stream.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/lb/v1/load_balancer.pb.h"
#include "grpcpp/impl/codegen/proto_utils.h"
#include "spdlog/spdlog.h"

#include "grpclb/client_message.h"
#include "grpclb/grpc_status.h"
#include "grpclb/server_list.h"
#include "transport/connection_listener.h"
#include "transport/peer.h"

namespace jawlb::grpclb {

using grpc::lb::v1::LoadBalanceRequest;

void BalanceLoadStream::Accept(const Shared& shared, grpc::ServerCompletionQueue* cq,
                               size_t shard) {
  auto stream = std::make_shared<BalanceLoadStream>(shared, cq, shard);
  BalanceLoadStream* raw = stream.get();
  shared.live.Add();
  {
    absl::MutexLock lock(&raw->mu_);
    raw->self_ = std::move(stream);
  }
  raw->context_.AsyncNotifyWhenDone(&raw->done_tag_);
  shared.service.RequestBalanceLoad(&raw->context_, &raw->rw_, cq, cq, &raw->accept_tag_);
}

BalanceLoadStream::BalanceLoadStream(const Shared& shared, grpc::ServerCompletionQueue* cq,
                                     size_t shard)
    : shared_(shared), cq_(cq), shard_(shard) {}

void BalanceLoadStream::OnEvent(Op op, bool ok) {
  switch (op) {
    case Op::kAccept:
      if (!ok) {  // the server is shutting down: no call, and no done event
        std::shared_ptr<BalanceLoadStream> self;
        {
          absl::MutexLock lock(&mu_);
          self = std::move(self_);
        }
        shared_.live.Done();
        return;  // `self` (this object) goes here
      }
      Accept(shared_, cq_, shard_);  // the next call
      Start();
      return;
    case Op::kRead:
      OnReadDone(ok);
      break;
    case Op::kWrite:
      OnWriteDone(ok);
      break;
    case Op::kFinish: {
      absl::MutexLock lock(&mu_);
      finish_done_ = true;
      break;
    }
    case Op::kDone:
      OnCallDone();
      break;
    case Op::kFirstMessageDeadline:
      OnFirstMessageDeadline(ok);
      break;
  }
  MaybeRelease();
}

void BalanceLoadStream::Start() {
  peer_ = transport::ConnectionListener::PeerOf(context_.peer());
  connected_ = shared_.clock.Now();
  if (shared_.limits != nullptr) {
    if (absl::Status admitted = shared_.limits->Admit(peer_); !admitted.ok()) {
      RequestFinish(std::move(admitted));  // costs nothing more than the refusal
      return;
    }
  }
  {
    absl::MutexLock lock(&mu_);
    load_ = balancer::ClientLoad(connected_, shared_.load_smoothing);
    admitted_ = shared_.limits != nullptr;
  }
  first_message_.Set(cq_, shared_.first_message_timeout, &deadline_tag_);
  shared_.metrics.started.Add();
  std::unique_ptr<ClientRegistry::Registration> registration =
      shared_.registry.Register(shared_from_this());
  {
    absl::MutexLock lock(&mu_);
    registration_ = std::move(registration);
    read_in_flight_ = true;
  }
  rw_.Read(&request_, &read_tag_);
  // Registered first, so a drain from now on reaches this stream either way.
  if (shared_.draining.load(std::memory_order_acquire)) Drain();
}

void BalanceLoadStream::Drain() {
  RequestFinish(absl::UnavailableError("jawlb is shutting down: reconnect to another replica"));
}

void BalanceLoadStream::OnCallDone() {
  bool cancelled = context_.IsCancelled();
  {
    absl::MutexLock lock(&mu_);
    call_done_ = true;
  }
  first_message_.Met();  // or never will: the alarm's tag comes back at once
  if (cancelled) RequestFinish(absl::CancelledError("cancelled by the client"));
}

void BalanceLoadStream::OnFirstMessageDeadline(bool ok) {
  if (first_message_.Fired(ok)) {
    RequestFinish(absl::DeadlineExceededError(absl::StrCat(
        "no InitialLoadBalanceRequest within ", absl::FormatDuration(shared_.first_message_timeout),
        " of opening the stream (JAWLB_FIRSTMESSAGETIMEOUT)")));
  }
}

void BalanceLoadStream::MaybeRelease() {
  uint64_t policy_id = 0;
  std::shared_ptr<BalanceLoadStream> self;
  std::unique_ptr<ClientRegistry::Registration> registration;
  std::shared_ptr<ServiceUnit> unit;  // outlives its subscription, declared before it
  std::unique_ptr<Hub::Subscription> subscription;
  bool admitted = false;
  {
    absl::MutexLock lock(&mu_);
    if (self_ == nullptr || !call_done_ || read_in_flight_ || write_in_flight_ || !finish_called_ ||
        !finish_done_ || first_message_.pending()) {
      return;
    }
    admitted = std::exchange(admitted_, false);
    self = std::move(self_);
    registration = std::move(registration_);
    subscription = std::move(subscription_);
    unit = std::move(unit_);
    policy_id = std::exchange(policy_id_, 0);
  }
  if (unit != nullptr) {
    if (policy_id != 0) unit->policy().Leave(policy_id);
    unit->shedding().Forget(this);
  }
  if (admitted) shared_.limits->Release(peer_);
  spdlog::debug("client {} disconnected", peer_);
  shared_.live.Done();
  // `subscription`, `unit`, `registration`, then possibly `self` (this
  // object) go here.
}

void BalanceLoadStream::OnReadDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    read_in_flight_ = false;
  }
  if (!ok) {
    if (phase_ == Phase::kAwaitingInitialRequest) {
      RequestFinish(
          absl::InvalidArgumentError("stream closed before its InitialLoadBalanceRequest"));
    }
    // After the initial request, a half-close only means "no more load reports":
    // the client still gets every new list until it cancels.
    return;
  }
  if (absl::Status status = HandleRequest(); !status.ok()) {
    RequestFinish(std::move(status));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_) return;  // no more reads once the stream is ending
    read_in_flight_ = true;
  }
  rw_.Read(&request_, &read_tag_);
}

absl::Status BalanceLoadStream::HandleRequest() {
  LoadBalanceRequest request;
  if (!grpc::SerializationTraits<LoadBalanceRequest>::Deserialize(&request_, &request).ok()) {
    return absl::InvalidArgumentError("malformed LoadBalanceRequest: not a valid protobuf message");
  }
  absl::StatusOr<ClientMessage> message = ReadClientMessage(request, phase_ == Phase::kStreaming);
  if (!message.ok()) return message.status();
  switch (message->kind) {
    case ClientMessage::Kind::kInitialRequest:
      phase_ = Phase::kStreaming;
      return OnInitialRequest(message->name);
    case ClientMessage::Kind::kLoadReport:
      OnLoadReport(message->report);
      break;
    case ClientMessage::Kind::kNothing:
      break;
  }
  return absl::OkStatus();
}

absl::Status BalanceLoadStream::OnInitialRequest(const std::string& name) {
  // The name chooses the service (its Hub, policy and shedding); a refusal
  // ends the stream.
  const std::string address(transport::PeerAddress(peer_));
  absl::StatusOr<std::shared_ptr<ServiceUnit>> unit = shared_.resolver(name, address);
  if (!unit.ok()) return unit.status();
  std::unique_ptr<Hub::Subscription> subscription =
      (*unit)->hub().Subscribe(weak_from_this(), shard_);
  // Joined before the first list is due, so it is this client's subset. The
  // key survives a reconnect: the client's address without its port, and the
  // name it asked for.
  SubsetPolicy& policy = (*unit)->policy();
  const uint64_t policy_id =
      policy.enabled() ? policy.Join(absl::StrCat(address, "/", name), weak_from_this()) : 0;
  {
    absl::MutexLock lock(&mu_);
    unit_ = *std::move(unit);
    subscription_ = std::move(subscription);
    policy_id_ = policy_id;
    name_ = name;
    cursor_.InitialRequestReceived();
  }
  first_message_.Met();
  spdlog::debug("client {} asks for \"{}\"", peer_, name);
  Pump();
  return absl::OkStatus();
}

void BalanceLoadStream::OnLoadReport(const balancer::LoadReport& report) {
  const absl::Time now = shared_.clock.Now();
  absl::Status status;
  uint64_t policy_id = 0;
  ServiceUnit* unit = nullptr;  // held by us (unit_) until the stream is released
  double calls_per_second = 0;
  std::optional<balancer::ClientLoad> load;
  bool log = false;
  int64_t suppressed = 0;
  {
    absl::MutexLock lock(&mu_);
    status = load_.Add(report, now);
    if (!status.ok()) log = report_log_.Allow(now, suppressed);
    policy_id = policy_id_;
    unit = unit_.get();
    calls_per_second = load_.RatesAt(now).started;
    if (unit != nullptr && unit->shedding().enabled()) load = load_;
  }
  shared_.metrics.AddReport(report, status.ok());
  if (!status.ok()) {
    // A client can send these in a loop: a line a minute at most, counting the rest.
    if (log) {
      spdlog::warn("client {}: ignoring load report: {}{}", peer_, status.ToString(),
                   suppressed > 0 ? absl::StrCat(" (and ", suppressed,
                                                 " more rejected since the last such line)")
                                  : "");
    }
    return;
  }
  // Outside our lock: the policy may call streams back.
  if (policy_id != 0) unit->policy().Report(policy_id, calls_per_second);
  if (load.has_value()) unit->shedding().Report(this, *load);
}

void BalanceLoadStream::OnWriteDone(bool ok) {
  SnapshotPtr written;
  bool first_list = false;
  size_t bytes = 0;
  ServiceUnit* unit = nullptr;  // held by us (unit_) until the stream is released
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    cursor_.WriteDone();
    written = std::move(in_flight_);
    first_list = in_flight_is_first_list_;
    bytes = in_flight_bytes_;
    unit = unit_.get();
  }
  if (ok && written != nullptr) {  // a list (nullptr: the initial response)
    shared_.metrics.lists_written.Add();
    shared_.metrics.bytes_written.Add(bytes);
    // A stream's first list is no change reaching it: it was known before.
    if (!first_list) {
      const absl::Duration took = shared_.clock.Now() - written->observed;
      shared_.metrics.propagation.Observe(took);
      if (unit != nullptr) unit->propagation().Observe(took);
    }
  }
  if (!ok) {
    RequestFinish(absl::CancelledError("write failed: stream is gone"));
    return;
  }
  Pump();
}

ClientInfo BalanceLoadStream::Describe() const {
  absl::MutexLock lock(&mu_);
  ClientInfo info;
  info.peer = peer_;
  info.name = name_;
  info.connected = connected_;
  info.list_version = cursor_.last_version();
  info.list_size = cursor_.last_size();
  info.token_client = policy_id_;
  if (unit_ != nullptr) info.service = unit_->key();
  info.load = load_;
  info.rates = load_.RatesAt(shared_.clock.Now());
  return info;
}

void BalanceLoadStream::RequestFinish(absl::Status status) {
  {
    absl::MutexLock lock(&mu_);
    cursor_.RequestFinish(std::move(status));
  }
  Pump();
}

void BalanceLoadStream::EndWith(const grpc::Status& status) {
  // A client's mistake is worth an info line; the ends of a drain (thousands at
  // once, summed up by the App) and cancellations are not.
  // Refusals by a limit are logged by the limit; any other mistake can repeat
  // with every stream a client opens, so the lines are throttled service-wide.
  int64_t suppressed = 0;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::CANCELLED ||
      status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
      (shared_.end_log != nullptr && !shared_.end_log->Allow(shared_.clock.Now(), suppressed))) {
    spdlog::debug("client {}: ending stream: {}", peer_, status.error_message());
  } else {
    spdlog::info("client {}: ending stream: {}{}", peer_, status.error_message(),
                 suppressed > 0 ? absl::StrCat(" (", suppressed,
                                               " more streams ended for mistakes since the "
                                               "last such line: jawlb_streams_ended_total)")
                                : "");
  }
  shared_.metrics.ended.Add({CodeName(status.error_code())});
  rw_.Finish(status, &finish_tag_);
}

void BalanceLoadStream::Pump() {
  // Read the Hub and the policy first: their locks are never taken under ours.
  ServiceUnit* unit = nullptr;  // held by us (unit_) until the stream is released
  uint64_t policy_id = 0;
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_ || write_in_flight_) return;
    unit = unit_.get();
    policy_id = policy_id_;
  }
  Hub::State hub;
  std::optional<discovery::BackendSet> own;
  if (unit != nullptr) {
    hub = unit->hub().Current();
    if (policy_id != 0) own = unit->policy().ListFor(policy_id);
  }
  const grpc::ByteBuffer* message = nullptr;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    ListCursor::Step step = cursor_.Next(hub.latest, hub.closed, hub.close_reason, std::move(own));
    switch (step.action) {
      case ListCursor::Step::Action::kNone:
        return;
      case ListCursor::Step::Action::kFinish:
        finish_called_ = true;
        status = ToGrpcStatus(step.status);
        break;
      case ListCursor::Step::Action::kWriteInitialResponse:
        write_in_flight_ = true;
        in_flight_ = nullptr;
        message = &shared_.initial_response;
        break;
      case ListCursor::Step::Action::kWriteList:
        write_in_flight_ = true;
        in_flight_ = step.snapshot;
        in_flight_is_first_list_ = step.first_list;
        if (step.own.has_value()) {
          own_message_ = Serialize(MakeServerListResponse(
              *step.own, shared_.replica.empty() ? "" : TokenPrefix(shared_.replica, policy_id_),
              step.snapshot->drop_percent));
          message = &own_message_;
        } else {
          message = &step.snapshot->message;
        }
        in_flight_bytes_ = message->Length();
        break;
    }
  }
  if (message != nullptr) {
    rw_.Write(*message, &write_tag_);
  } else {
    EndWith(status);
  }
}

}  // namespace jawlb::grpclb
