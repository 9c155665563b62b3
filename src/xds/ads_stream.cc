#include "xds/ads_stream.h"

#include <set>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spdlog/spdlog.h"

#include "transport/peer.h"
#include "xds/resources.h"

namespace jawlb::xds {

std::string SubsetKey(absl::string_view address, absl::string_view cluster) {
  return absl::StrCat("xds/", address, "/", cluster);
}

void AdsStream::Serve(const Shared& shared, const std::shared_ptr<transport::ServerCall>& call) {
  auto stream = std::make_shared<AdsStream>(shared, call);
  call->Start(stream);
  stream->Begin();
}

AdsStream::AdsStream(const Shared& shared, std::shared_ptr<transport::ServerCall> call)
    : shared_(shared),
      peer_(call->peer()),
      connected_(shared.clock.Now()),
      weak_call_(call),
      call_(std::move(call)),
      cursor_(shared.version_prefix) {}

void AdsStream::Begin() {
  shared_.metrics.started.Add();
  if (shared_.limits != nullptr) {
    if (absl::Status admitted = shared_.limits->Admit(peer_); !admitted.ok()) {
      RequestFinish(std::move(admitted));  // costs nothing more than the refusal
      return;
    }
    admitted_ = true;
  }
  registration_ = shared_.registry.Register(shared_from_this());
  std::weak_ptr<AdsStream> weak = weak_from_this();
  call_->RunAfter(shared_.first_message_timeout, [weak] {
    std::shared_ptr<AdsStream> self = weak.lock();
    if (self == nullptr || self->requested_) return;
    self->RequestFinish(absl::DeadlineExceededError(absl::StrCat(
        "no DiscoveryRequest within ", absl::FormatDuration(self->shared_.first_message_timeout),
        " of opening the stream (JAWLB_FIRSTMESSAGETIMEOUT)")));
  });
  // Registered first, so a drain from now on reaches this stream either way.
  if (shared_.draining.load(std::memory_order_acquire)) Drain();
}

void AdsStream::Drain() {
  transport::PostToHandler(weak_call_, weak_from_this(), [](AdsStream& self) {
    self.RequestFinish(
        absl::UnavailableError("jawlb is shutting down: reconnect to another replica"));
  });
}

void AdsStream::PostPump() {
  transport::PostToHandler(weak_call_, weak_from_this(), [](AdsStream& self) {
    for (auto& [cluster, held] : self.clusters_) held.subset_stale = true;
    self.Pump();
  });
}

void AdsStream::OnMessage(std::string message) {
  if (call_ == nullptr || finish_called_ || finish_.has_value()) return;
  requested_ = true;
  if (absl::Status status = HandleRequest(message); !status.ok()) {
    RequestFinish(std::move(status));
  }
}

void AdsStream::OnWriteDone(bool ok) {
  write_in_flight_ = false;
  cursor_.WriteDone();
  std::vector<Carried> carried = std::exchange(carried_, {});
  if (!ok) {
    RequestFinish(absl::CancelledError("write failed: stream is gone"));
    return;
  }
  const absl::Time now = shared_.clock.Now();
  for (const Carried& change : carried) {
    shared_.metrics.propagation.Observe(now - change.observed);
    change.unit->propagation().Observe(now - change.observed);
  }
  Pump();
}

void AdsStream::OnDone(bool /*cancelled*/) {
  clusters_.clear();  // memberships and subscriptions go
  listeners_.clear();
  carried_.clear();
  if (admitted_) shared_.limits->Release(peer_);
  admitted_ = false;
  registration_.reset();
  call_.reset();  // the call lets go of us too
}

absl::Status AdsStream::HandleRequest(const std::string& message) {
  absl::StatusOr<DiscoveryRequestRead> read = ReadDiscoveryRequest(message);
  if (!read.ok()) return read.status();
  const AdsCursor::Request& parsed = read->request;
  const AdsCursor::Type type = parsed.type;
  if (read->node.has_value() && node_id_.empty()) {  // clients name it on the first request
    node_id_ = read->node->id;
    absl::MutexLock lock(&info_mu_);
    node_ = *std::move(read->node);
  }
  // Listener names are resolved before the cursor may answer them; the ones
  // no longer subscribed go once the cursor has taken the request (a stale
  // request's names are not the subscription).
  if (type == AdsCursor::Type::kListener) Resolve(parsed.names);
  const AdsCursor::Kind kind = cursor_.OnRequest(parsed);
  if (type == AdsCursor::Type::kListener) Prune();
  UpdateInfo(/*listeners=*/type == AdsCursor::Type::kListener);
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
  const std::string address = transport::PeerAddress(peer_);
  for (const std::string& name : names) {
    if (listeners_.contains(name)) continue;
    Listener listener;
    absl::StatusOr<std::shared_ptr<grpclb::ServiceUnit>> unit = shared_.resolver(name, address);
    if (unit.ok()) {
      listener.unit = *std::move(unit);
      listener.cluster = listener.unit->key();
    } else {
      listener.refusal = unit.status();
      listener.cluster = kRefused + name;
    }
    if (listener.unit != nullptr && !clusters_.contains(listener.cluster)) {
      // A unit new to this stream: joined before its first assignment is due
      // (so that is this client's subset), and subscribed on our shard.
      Held held;
      held.unit = listener.unit;
      held.membership =
          held.unit->policy().JoinScoped(SubsetKey(address, listener.cluster), weak_from_this());
      held.subscription = held.unit->hub().Subscribe(weak_from_this(), call_->shard());
      clusters_.emplace(listener.cluster, std::move(held));
    }
    listeners_.emplace(name, std::move(listener));
  }
}

void AdsStream::Prune() {
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
    it = used.contains(it->first) ? std::next(it) : clusters_.erase(it);
  }
}

std::array<uint64_t, AdsCursor::kTypes> AdsStream::Fingerprints() {
  // Listeners, routes and clusters are functions of their names (a listener
  // name resolves once, before it is answered): the cursor sends them when
  // the names change. Only assignments change under a client: with each list.
  std::array<uint64_t, AdsCursor::kTypes> prints{};
  // With subsetting, the subset too (read after a wake, encoded from what was
  // read; an ACK alone reads nothing).
  uint64_t endpoints = 0;
  for (const std::string& cluster : cursor_.names(AdsCursor::Type::kEndpoints)) {
    const auto it = clusters_.find(cluster);
    if (it == clusters_.end()) continue;
    Held& held = it->second;
    const grpclb::Hub::State state = held.unit->hub().Current();
    endpoints = absl::HashOf(endpoints, cluster,
                             state.latest == nullptr ? 0 : state.latest->version, state.closed);
    if (held.membership != nullptr) {
      if (std::exchange(held.subset_stale, false)) {
        held.subset = held.unit->policy().ListFor(held.membership->id());
      }
      for (const discovery::Backend& backend : held.subset.backends()) {
        endpoints =
            absl::HashOf(endpoints, backend.ip, backend.port, held.subset.WeightOf(backend));
      }
    }
  }
  prints[static_cast<size_t>(AdsCursor::Type::kEndpoints)] = endpoints;
  return prints;
}

transport::SharedBytes AdsStream::Assignment(const std::string& cluster) {
  if (absl::StartsWith(cluster, kRefused)) {
    for (const auto& [name, listener] : listeners_) {
      if (listener.cluster == cluster) {
        return std::make_shared<const std::string>(
            RefusalResource(cluster, listener.refusal.ToString()));
      }
    }
    return nullptr;
  }
  const auto it = clusters_.find(cluster);
  if (it == clusters_.end()) return nullptr;  // not ours: the client waits
  const grpclb::Hub::State state = it->second.unit->hub().Current();
  if (state.closed && !state.close_reason.ok()) {
    return std::make_shared<const std::string>(
        RefusalResource(cluster, state.close_reason.ToString()));
  }
  if (state.latest == nullptr) return nullptr;  // no list yet
  const grpclb::SnapshotPtr snapshot = state.latest;
  Held& held = it->second;
  if (held.sent_version != snapshot->version) {  // a list new to this client
    if (held.sent_version != 0) carried_.push_back({held.unit, snapshot->observed});
    held.sent_version = snapshot->version;
  }
  if (held.membership != nullptr) {  // this client's own subset
    return std::make_shared<const std::string>(
        AssignmentResource(cluster, held.subset, snapshot->drop_percent));
  }
  // Encoded once per list, shared by every stream of the service.
  return snapshot->Memo(
      [&] { return AssignmentResource(cluster, snapshot->backends, snapshot->drop_percent); });
}

transport::SharedBytes AdsStream::Resource(AdsCursor::Type type, const std::string& name) {
  switch (type) {
    case AdsCursor::Type::kListener: {
      const auto it = listeners_.find(name);
      if (it == listeners_.end()) return nullptr;  // not resolved: left out
      return shared_.resources.Listener(name, it->second.cluster);
    }
    case AdsCursor::Type::kRoute:
      return shared_.resources.Route(name);
    case AdsCursor::Type::kCluster:
      return shared_.resources.Cluster(name);
    case AdsCursor::Type::kEndpoints:
      return Assignment(name);
  }
  return nullptr;
}

transport::WireMessage AdsStream::Encode(const AdsCursor::Response& response) {
  std::vector<transport::SharedBytes> resources;
  resources.reserve(response.names.size());
  for (const std::string& name : response.names) {
    if (transport::SharedBytes resource = Resource(response.type, name)) {
      resources.push_back(std::move(resource));
    }
  }
  return WriteDiscoveryResponse(response.type, response.version, response.nonce, resources);
}

void AdsStream::RequestFinish(absl::Status status) {
  if (!finish_.has_value()) finish_ = std::move(status);
  Pump();
}

void AdsStream::Pump() {
  if (call_ == nullptr || finish_called_ || write_in_flight_) return;
  if (finish_.has_value()) {
    finish_called_ = true;
    call_->Finish(*finish_);
    return;
  }
  std::optional<AdsCursor::Response> response = cursor_.Next(Fingerprints());
  if (!response.has_value()) return;
  write_in_flight_ = true;
  shared_.metrics.Response(response->type);
  call_->Write(Encode(*response));
}

void AdsStream::UpdateInfo(bool listeners) {
  absl::MutexLock lock(&info_mu_);
  if (listeners) {  // they change with listener requests only, not with every ACK
    names_.clear();
    services_.clear();
    for (const auto& [name, listener] : listeners_) {
      names_.push_back(name);
      services_.push_back(listener.cluster);
    }
  }
  for (size_t i = 0; i < AdsCursor::kTypes; ++i) {
    const auto type = static_cast<AdsCursor::Type>(i);
    seen_[i] = cursor_.seen(type);
    subscribed_[i] = !cursor_.names(type).empty();
  }
}

grpclb::ClientInfo AdsStream::Describe() const {
  grpclb::ClientInfo info;
  info.peer = peer_;
  info.connected = connected_;
  absl::MutexLock lock(&info_mu_);
  info.name = absl::StrJoin(names_, ",");
  info.service = absl::StrJoin(services_, ",");
  info.node = node_.id;
  info.locality = node_.locality;
  info.user_agent = node_.user_agent;
  for (size_t i = 0; i < AdsCursor::kTypes; ++i) {
    const AdsCursor::Seen& seen = seen_[i];
    if (!subscribed_[i] && seen.acks + seen.nacks == 0) continue;
    info.xds.push_back({TypeLabel(static_cast<AdsCursor::Type>(i)), seen.acked_version, seen.nack,
                        seen.acks, seen.nacks});
  }
  return info;
}

}  // namespace jawlb::xds
