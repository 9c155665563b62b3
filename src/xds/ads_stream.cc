#include "xds/ads_stream.h"

#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

#include "grpclb/grpc_status.h"
#include "grpclb/stream_limits.h"
#include "transport/connection_listener.h"
#include "transport/peer.h"
#include "xds/resources.h"

namespace jawlb::xds {

std::string SubsetKey(absl::string_view address, absl::string_view cluster) {
  return absl::StrCat("xds/", address, "/", cluster);
}

void AdsStream::Accept(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard) {
  auto stream = std::make_shared<AdsStream>(shared, cq, shard);
  AdsStream* raw = stream.get();
  shared.live.Add();
  {
    absl::MutexLock lock(&raw->mu_);
    raw->self_ = std::move(stream);
  }
  raw->context_.AsyncNotifyWhenDone(&raw->done_tag_);
  shared.service.RequestStreamAggregatedResources(&raw->context_, &raw->rw_, cq, cq,
                                                  &raw->accept_tag_);
}

AdsStream::AdsStream(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard)
    : shared_(shared), cq_(cq), shard_(shard), cursor_(shared.version_prefix) {}

void AdsStream::OnEvent(Op op, bool ok) {
  switch (op) {
    case Op::kAccept:
      if (!ok) {  // shutting down: no call, and no done event
        std::shared_ptr<AdsStream> self;
        {
          absl::MutexLock lock(&mu_);
          self = std::move(self_);
        }
        shared_.live.Done();
        return;
      }
      Accept(shared_, cq_, shard_);
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
    case Op::kDone: {
      const bool cancelled = context_.IsCancelled();
      {
        absl::MutexLock lock(&mu_);
        call_done_ = true;
      }
      first_message_.Met();  // or never will: the alarm's tag comes back at once
      if (cancelled) RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled"));
      break;
    }
    case Op::kFirstMessageDeadline:
      if (first_message_.Fired(ok)) {
        RequestFinish(
            grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                         absl::StrCat("no DiscoveryRequest within ",
                                      absl::FormatDuration(shared_.first_message_timeout),
                                      " of opening the stream (JAWLB_FIRSTMESSAGETIMEOUT)")));
      }
      break;
  }
  MaybeRelease();
}

void AdsStream::OnWriteDone(bool ok) {
  std::vector<Carried> carried;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    cursor_.WriteDone();
    carried.swap(carried_);
  }
  if (!ok) {
    RequestFinish(grpc::Status(grpc::StatusCode::CANCELLED, "write failed"));
    return;
  }
  const absl::Time now = shared_.clock.Now();
  for (const Carried& change : carried) {
    shared_.metrics.propagation.Observe(now - change.observed);
    change.unit->propagation().Observe(now - change.observed);
  }
  Pump();
}

void AdsStream::Start() {
  peer_ = transport::ConnectionListener::PeerOf(context_.peer());
  connected_ = shared_.clock.Now();
  shared_.metrics.started.Add();
  if (shared_.limits != nullptr) {
    if (absl::Status admitted = shared_.limits->Admit(peer_); !admitted.ok()) {
      RequestFinish(grpclb::ToGrpcStatus(admitted));  // costs nothing more than the refusal
      return;
    }
  }
  std::unique_ptr<grpclb::ClientRegistry::Registration> registration =
      shared_.registry.Register(shared_from_this());
  {
    absl::MutexLock lock(&mu_);
    registration_ = std::move(registration);
    admitted_ = shared_.limits != nullptr;
    read_in_flight_ = true;
  }
  first_message_.Set(cq_, shared_.first_message_timeout, &deadline_tag_);
  rw_.Read(&request_, &read_tag_);
  if (shared_.draining.load(std::memory_order_acquire)) Drain();
}

void AdsStream::Drain() {
  RequestFinish(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                             "jawlb is shutting down: reconnect to another replica"));
}

void AdsStream::OnReadDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    read_in_flight_ = false;
  }
  if (!ok) return;  // half-closed: keep pushing until the client cancels
  first_message_.Met();
  if (absl::Status status = HandleRequest(); !status.ok()) {
    RequestFinish(grpclb::ToGrpcStatus(status));
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_) return;
    read_in_flight_ = true;
  }
  rw_.Read(&request_, &read_tag_);
}

absl::Status AdsStream::HandleRequest() {
  absl::StatusOr<DiscoveryRequestRead> read = ReadDiscoveryRequest(request_);
  if (!read.ok()) return read.status();
  const AdsCursor::Request& parsed = read->request;
  const AdsCursor::Type type = parsed.type;
  if (!node_seen_) {  // the node comes with a stream's first request only
    node_seen_ = true;
    if (read->node.has_value()) {
      node_id_ = read->node->id;
      absl::MutexLock lock(&mu_);
      node_ = *std::move(read->node);
    }
  }
  // Listener names are resolved before the cursor may answer them; the ones
  // no longer subscribed go once the cursor has taken the request (a stale
  // request's names are not the subscription).
  if (type == AdsCursor::Type::kListener) Resolve(parsed.names);
  AdsCursor::Kind kind;
  {
    absl::MutexLock lock(&mu_);
    kind = cursor_.OnRequest(parsed);
  }
  if (type == AdsCursor::Type::kListener) Prune();
  shared_.metrics.Request(type, kind);
  int64_t suppressed = 0;
  if (kind == AdsCursor::Kind::kNack && shared_.nack_log.Allow(shared_.clock.Now(), suppressed)) {
    // A client can NACK in a loop: a line a second at most, service-wide.
    spdlog::warn("xds client {} ({}) refused {} version {}: {}{}", peer_, node_id_,
                 AdsCursor::UrlOf(type), parsed.nonce, parsed.error.ToString(),
                 suppressed > 0 ? absl::StrCat(" (", suppressed,
                                               " more NACKs since the last "
                                               "such line: jawlb_xds_requests_total)")
                                : "");
  }
  Pump();
  return absl::OkStatus();
}

void AdsStream::Resolve(const std::vector<std::string>& names) {
  std::vector<std::string> fresh;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : names) {
      if (!listeners_.contains(name)) fresh.push_back(name);
    }
  }
  std::map<std::string, Listener> resolved;
  for (const std::string& name : fresh) {
    Listener listener;
    absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> unit =
        shared_.resolver(name, transport::PeerAddress(peer_));
    if (unit.ok()) {
      listener.unit = *std::move(unit);
      listener.cluster = listener.unit->key();
    } else {
      listener.refusal = unit.status();
      listener.cluster = kRefused + name;
    }
    resolved.emplace(name, std::move(listener));
  }
  // Subscriptions to the Hubs of units new to this stream, made outside mu_.
  std::map<std::string, Held> fresh_units;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, listener] : resolved) {
      if (listener.unit != nullptr && !clusters_.contains(listener.cluster)) {
        fresh_units[listener.cluster].unit = listener.unit;
      }
    }
  }
  for (auto& [cluster, held] : fresh_units) {
    held.membership = held.unit->policy().JoinScoped(
        SubsetKey(transport::PeerAddress(peer_), cluster), weak_from_this());
    held.subscription = held.unit->hub().Subscribe(weak_from_this(), shard_);
  }
  absl::MutexLock lock(&mu_);
  for (auto& [name, listener] : resolved) listeners_.emplace(name, std::move(listener));
  for (auto& [cluster, held] : fresh_units) clusters_.emplace(cluster, std::move(held));
}

void AdsStream::Prune() {
  std::vector<Held> dropped;  // declared before the lock: released after it
  absl::MutexLock lock(&mu_);
  const std::set<std::string>& wanted = cursor_.names(AdsCursor::Type::kListener);
  std::set<std::string> used;
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    if (wanted.contains(it->first)) {
      used.insert(it->second.cluster);
      ++it;
    } else {
      it = listeners_.erase(it);
    }
  }
  for (auto it = clusters_.begin(); it != clusters_.end();) {
    if (used.contains(it->first)) {
      ++it;
    } else {
      dropped.push_back(std::move(it->second));
      it = clusters_.erase(it);
    }
  }
}

std::array<uint64_t, AdsCursor::kTypes> AdsStream::Fingerprints() {
  // Listeners, routes and clusters are functions of their names (a listener
  // name resolves once, before it is answered): the cursor sends them when
  // the names change. Only assignments change under a client: with each list.
  std::array<uint64_t, AdsCursor::kTypes> prints{};
  // With subsetting, the subset too (read here, encoded from what was read).
  uint64_t endpoints = 0;
  for (const std::string& cluster : cursor_.names(AdsCursor::Type::kEndpoints)) {
    const auto it = clusters_.find(cluster);
    if (it == clusters_.end()) continue;
    Held& held = it->second;
    const grpclb::Hub::State state = held.unit->hub().Current();
    endpoints = absl::HashOf(endpoints, cluster,
                             state.latest == nullptr ? 0 : state.latest->version, state.closed);
    if (held.membership != nullptr) {
      held.subset = held.unit->policy().ListFor(held.membership->id());
      for (const discovery::Backend& backend : held.subset.backends()) {
        endpoints =
            absl::HashOf(endpoints, backend.ip, backend.port, held.subset.WeightOf(backend));
      }
    }
  }
  prints[static_cast<size_t>(AdsCursor::Type::kEndpoints)] = endpoints;
  return prints;
}

std::optional<grpc::Slice> AdsStream::Assignment(const std::string& cluster) {
  if (absl::StartsWith(cluster, kRefused)) {
    for (const auto& [name, listener] : listeners_) {
      if (listener.cluster == cluster) {
        return grpc::Slice(RefusalResource(cluster, listener.refusal.ToString()));
      }
    }
    return std::nullopt;
  }
  const auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return std::nullopt;  // not ours: the client waits
  const grpclb::Hub::State state = it->second.unit->hub().Current();
  if (state.closed && !state.close_reason.ok()) {
    return grpc::Slice(RefusalResource(cluster, state.close_reason.ToString()));
  }
  if (state.latest == nullptr) return std::nullopt;  // no list yet
  const grpclb::SnapshotPtr snapshot = state.latest;
  Held& held = it->second;
  if (held.sent_version != snapshot->version) {  // a list new to this client
    if (held.sent_version != 0) carried_.push_back({held.unit, snapshot->observed});
    held.sent_version = snapshot->version;
  }
  if (held.membership != nullptr) {  // this client's own subset
    return grpc::Slice(AssignmentResource(cluster, held.subset, snapshot->drop_percent));
  }
  // Encoded once per list, shared by every stream of the service.
  return snapshot->Memo(
      [&] { return AssignmentResource(cluster, snapshot->backends, snapshot->drop_percent); });
}

std::optional<grpc::Slice> AdsStream::Resource(AdsCursor::Type type, const std::string& name) {
  switch (type) {
    case AdsCursor::Type::kListener: {
      const auto it = listeners_.find(name);
      if (it == listeners_.end()) return std::nullopt;  // not resolved: left out
      return shared_.resources.Listener(name, it->second.cluster);
    }
    case AdsCursor::Type::kRoute:
      return shared_.resources.Route(name);
    case AdsCursor::Type::kCluster:
      return shared_.resources.Cluster(name);
    case AdsCursor::Type::kEndpoints:
      return Assignment(name);
  }
  return std::nullopt;
}

grpc::ByteBuffer AdsStream::Encode(const AdsCursor::Response& response) {
  std::vector<grpc::Slice> resources;
  resources.reserve(response.names.size());
  for (const std::string& name : response.names) {
    if (std::optional<grpc::Slice> resource = Resource(response.type, name)) {
      resources.push_back(*std::move(resource));
    }
  }
  return WriteDiscoveryResponse(response.type, response.version, response.nonce,
                                std::move(resources));
}

void AdsStream::RequestFinish(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (!finish_requested_) {
      finish_requested_ = true;
      finish_status_ = std::move(status);
    }
  }
  Pump();
}

void AdsStream::Pump() {
  bool finish = false;
  grpc::Status status;
  const grpc::ByteBuffer* message = nullptr;  // message_: not touched while a write is in flight
  {
    absl::MutexLock lock(&mu_);
    if (finish_called_ || write_in_flight_) return;
    if (finish_requested_) {
      finish_called_ = true;
      finish = true;
      status = finish_status_;
    } else {
      std::optional<AdsCursor::Response> response = cursor_.Next(Fingerprints());
      if (!response.has_value()) return;
      message_ = Encode(*response);
      message = &message_;
      write_in_flight_ = true;
      shared_.metrics.Response(response->type);
    }
  }
  if (finish) {
    rw_.Finish(status, &finish_tag_);
  } else {
    rw_.Write(*message, &write_tag_);
  }
}

void AdsStream::MaybeRelease() {
  std::shared_ptr<AdsStream> self;
  std::unique_ptr<grpclb::ClientRegistry::Registration> registration;
  std::map<std::string, Held> clusters;
  std::map<std::string, Listener> listeners;
  bool admitted = false;
  {
    absl::MutexLock lock(&mu_);
    if (self_ == nullptr || !call_done_ || read_in_flight_ || write_in_flight_ || !finish_called_ ||
        !finish_done_ || first_message_.pending()) {
      return;
    }
    self = std::move(self_);
    registration = std::move(registration_);
    clusters.swap(clusters_);
    listeners.swap(listeners_);
    admitted = std::exchange(admitted_, false);
  }
  if (admitted) shared_.limits->Release(peer_);
  shared_.live.Done();
}

grpclb::ClientInfo AdsStream::Describe() const {
  absl::MutexLock lock(&mu_);
  grpclb::ClientInfo info;
  info.peer = peer_;
  std::vector<std::string> names;
  std::vector<std::string> services;
  for (const auto& [name, listener] : listeners_) {
    names.push_back(name);
    services.push_back(listener.cluster);
  }
  info.name = absl::StrJoin(names, ",");
  info.service = absl::StrJoin(services, ",");
  info.connected = connected_;
  info.node = node_.id;
  info.locality = node_.locality;
  info.user_agent = node_.user_agent;
  for (size_t i = 0; i < AdsCursor::kTypes; ++i) {
    const auto type = static_cast<AdsCursor::Type>(i);
    if (cursor_.names(type).empty() && cursor_.seen(type).acks + cursor_.seen(type).nacks == 0) {
      continue;
    }
    const AdsCursor::Seen& seen = cursor_.seen(type);
    info.xds.push_back({TypeLabel(type), seen.acked_version, seen.nack, seen.acks, seen.nacks});
  }
  return info;
}

}  // namespace jawlb::xds
