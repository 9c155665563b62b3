// AdsStream: one client's ADS stream (envoy.service.discovery.v3.
// AggregatedDiscoveryService/StreamAggregatedResources, state of the world),
// on any transport. What to send is decided by an AdsCursor (ads_cursor.h);
// this class acts on it: name resolution, the Hub subscriptions and the
// writes.
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
// Transport: any (transport::ServerCall); the responses are written in
// pieces, the stream's own fields around resources every stream shares.
//
// Ownership: the ServerCall holds the handler (and the handler the call)
// until OnDone(); the Hubs, the policies and the registry hold it weakly.
// Borrows what Shared points at, which must outlive every stream.
//
// Threading: the Handler callbacks, and the tasks it posts to its call, run
// serialized on the call's context: the state below is theirs. Wakes
// (OnHubChanged, OnSubsetChanged) and Drain() come from other threads and
// post themselves; Describe() reads what info_mu_ guards (written on the
// call's context under it).
#ifndef JAWLB_XDS_ADS_STREAM_H_
#define JAWLB_XDS_ADS_STREAM_H_

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

#include "common/clock.h"
#include "common/log_throttle.h"
#include "grpclb/client_registry.h"
#include "grpclb/hub.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "grpclb/subset_policy.h"
#include "transport/server_call.h"
#include "xds/ads_cursor.h"
#include "xds/ads_metrics.h"
#include "xds/discovery_messages.h"
#include "xds/resource_cache.h"

namespace jawlb::xds {

// The key an ADS stream from `address` joins `cluster`'s subset policy with,
// and its LRS reports name it by.
std::string SubsetKey(absl::string_view address, absl::string_view cluster);

class AdsStream final : public transport::ServerCall::Handler,
                        public grpclb::Hub::Subscriber,
                        public grpclb::SubsetPolicy::Member,
                        public grpclb::ClientRegistry::Client,
                        public std::enable_shared_from_this<AdsStream> {
 public:
  static constexpr char kMethod[] =
      "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";

  // What every stream shares. All borrowed.
  struct Shared {
    const grpclb::ServiceResolver& resolver;
    grpclb::ClientRegistry& registry;
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

  // Serves a new ADS call (kMethod's transport::MethodHandler).
  static void Serve(const Shared& shared, const std::shared_ptr<transport::ServerCall>& call);

  AdsStream(const Shared& shared, std::shared_ptr<transport::ServerCall> call);

  // transport::ServerCall::Handler:
  void OnMessage(std::string message) override;
  void OnHalfClose() override {}  // requests end; responses go on until the client cancels
  void OnWriteDone(bool ok) override;
  void OnDone(bool cancelled) override;

  // Hub::Subscriber:
  void OnHubChanged() override { PostPump(); }
  // SubsetPolicy::Member:
  void OnSubsetChanged() override { PostPump(); }
  // ClientRegistry::Client:
  grpclb::ClientInfo Describe() const override ABSL_LOCKS_EXCLUDED(info_mu_);
  // Ends the stream with UNAVAILABLE once its write in flight is done.
  void Drain() override;

 private:
  // A listener name, resolved.
  struct Listener {
    std::string cluster;                        // the unit's key, or kRefused + name
    std::shared_ptr<grpclb::ServiceUnit> unit;  // null when refused
    absl::Status refusal;
  };
  // The units of the listeners, by cluster name, each with our subscription
  // and, with subsetting, our membership and the subset last read. (Members
  // go in reverse: the membership first, the unit last.)
  struct Held {
    std::shared_ptr<grpclb::ServiceUnit> unit;
    std::unique_ptr<grpclb::Hub::Subscription> subscription;
    std::unique_ptr<grpclb::SubsetPolicy::Membership> membership;
    discovery::BackendSet subset;
    bool subset_stale = true;   // a wake came since it was read
    uint64_t sent_version = 0;  // the list of the last assignment sent (0: none yet)
  };
  // A change the response in flight carries to the client: when its write
  // completes, the time since the source saw it is observed.
  struct Carried {
    std::shared_ptr<grpclb::ServiceUnit> unit;
    absl::Time observed;
  };

  void Begin();
  // One request; an error ends the stream.
  absl::Status HandleRequest(const std::string& message);
  // Resolves the listener names not resolved yet (and subscribes to their
  // units' Hubs).
  void Resolve(const std::vector<std::string>& names);
  // Forgets the listeners no longer subscribed, and the units only they used.
  void Prune();
  // The resource `name` of `type` now, as a serialized Any; null when there
  // is none to send. An assignment's new list goes into carried_.
  transport::SharedBytes Resource(AdsCursor::Type type, const std::string& name);
  transport::SharedBytes Assignment(const std::string& cluster);
  // The resources of `response`, as a DiscoveryResponse.
  transport::WireMessage Encode(const AdsCursor::Response& response);
  // What each type would hold now, summed up (with subsetting, a subset is
  // read again first if a wake came since it was last read).
  std::array<uint64_t, AdsCursor::kTypes> Fingerprints();
  // Asks to end the stream with `status` once no write is in flight; the
  // first request wins.
  void RequestFinish(absl::Status status);
  // Pump() on the call's context (from another thread), after a wake.
  void PostPump();
  // Does what the cursor says is next: a write, the finish, or nothing.
  void Pump();
  // Copies what Describe() shows of the cursor, and of the listeners when
  // `listeners` (after a listener request).
  void UpdateInfo(bool listeners) ABSL_LOCKS_EXCLUDED(info_mu_);

  // Constant after construction.
  const Shared shared_;
  const std::string peer_;
  const absl::Time connected_;
  const std::weak_ptr<transport::ServerCall> weak_call_;  // for other threads' posts

  // The call's context's.
  std::shared_ptr<transport::ServerCall> call_;  // null once it is over
  std::unique_ptr<grpclb::ClientRegistry::Registration> registration_;
  bool admitted_ = false;   // counted by shared_.limits
  bool requested_ = false;  // a request came (the first-message deadline is met)
  std::string node_id_;     // for log lines
  AdsCursor cursor_;
  std::map<std::string, Listener> listeners_;
  std::map<std::string, Held> clusters_;
  std::vector<Carried> carried_;
  bool write_in_flight_ = false;
  bool finish_called_ = false;
  std::optional<absl::Status> finish_;  // requested, waiting for the write in flight

  // Copies for Describe().
  mutable absl::Mutex info_mu_;
  NodeInfo node_ ABSL_GUARDED_BY(info_mu_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(info_mu_);     // listener names
  std::vector<std::string> services_ ABSL_GUARDED_BY(info_mu_);  // their clusters
  std::array<AdsCursor::Seen, AdsCursor::kTypes> seen_ ABSL_GUARDED_BY(info_mu_);
  std::array<bool, AdsCursor::kTypes> subscribed_ ABSL_GUARDED_BY(info_mu_){};
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_ADS_STREAM_H_
