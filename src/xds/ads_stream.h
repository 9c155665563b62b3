// AdsStream: one client's ADS stream (envoy.service.discovery.v3.
// AggregatedDiscoveryService/StreamAggregatedResources, state of the world),
// on gRPC's completion-queue API. What to send is decided by an AdsCursor
// (ads_cursor.h); this class is the plumbing around it: the call's tags, the
// read chain, name resolution, the Hub subscriptions and the writes.
//
// Each listener name the client subscribes to is resolved once, as grpclb
// names are (ServiceResolver): to a service unit — whose key names its route
// configuration and cluster, and whose Hub wakes this stream when its list
// changes — or to a refusal. A refused name still gets a Listener, route and
// Cluster, whose assignment drops every call with the refusal as its
// category: the client's RPCs fail at once saying why (a name left out would
// be "does not exist" with no reason; one never answered would hang for the
// client's 15 s resource timeout).
//
// With subsetting (JAWLB_MAXSERVERS), the stream joins each of its units'
// subset policies as a client of its own — beside the unit's grpclb clients,
// in the same planner — and its assignment of that cluster holds its subset
// (encoded for it alone). It joins with SubsetKey(): the client's load
// reports arrive on its LRS stream, which finds it by that key.
//
// Ownership and threading: it owns itself from the
// request for a call until everything it started is done; the Hubs and the
// ClientRegistry hold it weakly; completion-queue threads run OnEvent() and
// the wakes; state is guarded by mu_, and no gRPC call, resolver or Hub is
// called while holding it.
#ifndef JAWLB_XDS_ADS_STREAM_H_
#define JAWLB_XDS_ADS_STREAM_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

#include "common/clock.h"
#include "common/log_throttle.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "grpclb/client_registry.h"
#include "grpclb/first_message_deadline.h"
#include "grpclb/hub.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "grpclb/subset_policy.h"
#include "transport/completion_tag.h"
#include "transport/stream_count.h"
#include "xds/ads_cursor.h"
#include "xds/ads_metrics.h"
#include "xds/discovery_messages.h"
#include "xds/resource_cache.h"

namespace jawlb::xds {

using AsyncAds = envoy::service::discovery::v3::AggregatedDiscoveryService::
    WithRawMethod_StreamAggregatedResources<
        envoy::service::discovery::v3::AggregatedDiscoveryService::Service>;

// The key an ADS stream from `address` joins `cluster`'s subset policy with,
// and its LRS reports name it by.
std::string SubsetKey(absl::string_view address, absl::string_view cluster);

class AdsStream final : public grpclb::Hub::Subscriber,
                        public grpclb::SubsetPolicy::Member,
                        public grpclb::ClientRegistry::Client,
                        public std::enable_shared_from_this<AdsStream> {
 public:
  // What every stream shares. All borrowed.
  struct Shared {
    AsyncAds& service;
    const grpclb::ServiceResolver& resolver;
    grpclb::ClientRegistry& registry;
    transport::StreamCount& live;
    const std::atomic<bool>& draining;
    const Clock& clock;
    grpclb::StreamLimits* limits;  // null: no bounds
    AdsMetrics& metrics;
    ResourceCache& resources;  // listeners, routes and clusters, encoded once
    // NACK lines (any number of streams can send them): a few a second at most.
    SharedLogThrottle& nack_log;
    std::string version_prefix;  // names this process in versions
    // A stream with no request this long after it opened ends
    // (JAWLB_FIRSTMESSAGETIMEOUT).
    absl::Duration first_message_timeout = absl::Seconds(10);
  };

  enum class Op { kAccept, kRead, kWrite, kFinish, kDone, kFirstMessageDeadline };
  using Tag = transport::OpTag<AdsStream, Op>;

  // Asks gRPC for the next ADS call on `cq` (whose thread wakes the Hubs'
  // `shard`); when it arrives the stream starts and asks for the one after.
  static void Accept(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard);

  AdsStream(const Shared& shared, grpc::ServerCompletionQueue* cq, size_t shard);

  void OnEvent(Op op, bool ok);

  // Hub::Subscriber:
  void OnHubChanged() override { Pump(); }
  // SubsetPolicy::Member:
  void OnSubsetChanged() override { Pump(); }
  // ClientRegistry::Client:
  grpclb::ClientInfo Describe() const override ABSL_LOCKS_EXCLUDED(mu_);
  void Drain() override;

 private:
  // A listener name, resolved.
  struct Listener {
    std::string cluster;                        // the unit's key, or kRefused + name
    std::shared_ptr<grpclb::ServiceUnit> unit;  // null when refused
    absl::Status refusal;
  };

  void Start();
  void OnReadDone(bool ok);
  // One request; an error ends the stream.
  absl::Status HandleRequest() ABSL_LOCKS_EXCLUDED(mu_);
  // Resolves the listener names not resolved yet (and subscribes to their
  // units' Hubs).
  void Resolve(const std::vector<std::string>& names) ABSL_LOCKS_EXCLUDED(mu_);
  // Forgets the listeners no longer subscribed, and the units only they used.
  void Prune() ABSL_LOCKS_EXCLUDED(mu_);
  // The write in flight completed.
  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // The resource `name` of `type` now, as a serialized Any; nullopt when
  // there is none to send. An assignment's new list goes into carried_.
  std::optional<grpc::Slice> Resource(AdsCursor::Type type, const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<grpc::Slice> Assignment(const std::string& cluster)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The resources of `response`, serialized as a DiscoveryResponse.
  grpc::ByteBuffer Encode(const AdsCursor::Response& response) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What each type would hold now, summed up.
  std::array<uint64_t, AdsCursor::kTypes> Fingerprints() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RequestFinish(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);
  void MaybeRelease() ABSL_LOCKS_EXCLUDED(mu_);

  const Shared shared_;
  grpc::ServerCompletionQueue* const cq_;
  const size_t shard_;
  Tag accept_tag_{this, Op::kAccept};
  Tag read_tag_{this, Op::kRead};
  Tag write_tag_{this, Op::kWrite};
  Tag finish_tag_{this, Op::kFinish};
  Tag done_tag_{this, Op::kDone};
  Tag deadline_tag_{this, Op::kFirstMessageDeadline};
  grpclb::FirstMessageDeadline first_message_;  // set in Start(), met by the first request
  grpc::ServerContext context_;
  grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer> rw_{&context_};

  // Set once the call arrives.
  std::string peer_;
  absl::Time connected_;
  // The read chain's.
  grpc::ByteBuffer request_;
  bool node_seen_ = false;
  std::string node_id_;  // for log lines

  mutable absl::Mutex mu_;
  std::shared_ptr<AdsStream> self_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpclb::ClientRegistry::Registration> registration_ ABSL_GUARDED_BY(mu_);
  bool admitted_ ABSL_GUARDED_BY(mu_) = false;  // counted by shared_.limits
  AdsCursor cursor_ ABSL_GUARDED_BY(mu_);
  NodeInfo node_ ABSL_GUARDED_BY(mu_);  // for Describe()
  std::map<std::string, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  // The units of the listeners, by cluster name, each with our subscription
  // and, with subsetting, our membership and the subset last read. (Members
  // go in reverse: the membership first, the unit last.)
  struct Held {
    std::shared_ptr<grpclb::ServiceUnit> unit;
    std::unique_ptr<grpclb::Hub::Subscription> subscription;
    std::unique_ptr<grpclb::SubsetPolicy::Membership> membership;
    discovery::BackendSet subset;
    uint64_t sent_version = 0;  // the list of the last assignment sent (0: none yet)
  };
  // A change the response in flight carries to the client: when its write
  // completes, the time since the source saw it is observed.
  struct Carried {
    std::shared_ptr<grpclb::ServiceUnit> unit;
    absl::Time observed;
  };
  std::vector<Carried> carried_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Held> clusters_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer message_ ABSL_GUARDED_BY(mu_);  // the response in flight
  bool read_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_done_ ABSL_GUARDED_BY(mu_) = false;
  bool call_done_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_ADS_STREAM_H_
