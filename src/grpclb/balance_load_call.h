// BalanceLoadCall: one client's BalanceLoad stream on any transport
// (transport::ServerCall). Reads the client's InitialLoadBalanceRequest and
// then its ClientStats for as long as the stream lives, and writes the
// InitialLoadBalanceResponse followed by every new ServerList the Hub
// publishes.
//
// Latest-wins: at most one write is in flight. When it completes, the call
// writes the Hub's newest snapshot if that holds a different list than the one
// the client last got; snapshots published meanwhile are skipped, never
// queued. A slow client therefore costs one buffered message and delays no
// one. What to write next is decided by a ListCursor (list_cursor.h); this
// class acts on it.
//
// A call holds one unit — the service its client's name resolves to
// (ServiceResolver) — and one subscription to the unit's Hub, in the call's
// shard, from the initial request on. Before it, it holds neither: the drain
// reaches it through the ClientRegistry.
//
// Ownership: the ServerCall holds the handler (and the handler the call)
// until OnDone(); the Hub, the policy and the registry hold it weakly.
// Borrows what Shared points at, which must outlive every call.
//
// Threading: the Handler callbacks, and the tasks it posts to its call, run
// serialized on the call's context: the state below is theirs alone. Wakes
// (OnHubChanged, OnSubsetChanged) and Drain() come from other threads and
// post themselves; Describe() reads a copy kept under info_mu_.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_CALL_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_CALL_H_

#include <atomic>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

#include "balancer/client_load.h"
#include "common/clock.h"
#include "common/log_throttle.h"
#include "grpclb/client_registry.h"
#include "grpclb/hub.h"
#include "grpclb/list_cursor.h"
#include "grpclb/service_unit.h"
#include "grpclb/stream_limits.h"
#include "grpclb/stream_metrics.h"
#include "grpclb/subset_policy.h"
#include "transport/server_call.h"

namespace jawlb::grpclb {

inline constexpr char kBalanceLoadMethod[] = "/grpc.lb.v1.LoadBalancer/BalanceLoad";

class BalanceLoadCall final : public transport::ServerCall::Handler,
                              public Hub::Subscriber,
                              public SubsetPolicy::Member,
                              public ClientRegistry::Client,
                              public std::enable_shared_from_this<BalanceLoadCall> {
 public:
  // What every call shares. All borrowed.
  struct Shared {
    // The client's name → its service's unit.
    const ServiceResolver& resolver;
    ClientRegistry& registry;
    const transport::SharedBytes& initial_response;  // framed
    StreamMetrics& metrics;
    const std::string& replica;  // in load_balance_tokens; "" for none
    // Set when the server drains: a call starting after it ends at once.
    const std::atomic<bool>& draining;
    absl::Duration load_smoothing;   // of each client's call rates
    const Clock& clock;              // for the rates, the propagation and logs
    StreamLimits* limits = nullptr;  // null: no bounds (tests)
    // Lines about streams ended for a client's mistake (any number of calls
    // can make one): a few a second at most.
    SharedLogThrottle* end_log = nullptr;
    // A call without its initial request this long after it opened is ended.
    absl::Duration first_message_timeout = absl::Seconds(10);
  };

  // Serves a new BalanceLoad call (the method's transport::MethodHandler).
  static void Serve(const Shared& shared, const std::shared_ptr<transport::ServerCall>& call);

  BalanceLoadCall(const Shared& shared, std::shared_ptr<transport::ServerCall> call);

  // transport::ServerCall::Handler:
  void OnMessage(std::string message) override;
  void OnHalfClose() override;
  void OnWriteDone(bool ok) override;
  void OnDone(bool cancelled) override;

  // Hub::Subscriber:
  void OnHubChanged() override { PostPump(); }
  // SubsetPolicy::Member:
  void OnSubsetChanged() override { PostPump(); }

  // ClientRegistry::Client:
  ClientInfo Describe() const override ABSL_LOCKS_EXCLUDED(info_mu_);
  // Ends the stream with UNAVAILABLE once its write in flight is done.
  void Drain() override;

 private:
  // What Describe() reads (copies made on the call's context).
  struct Info {
    std::string name;
    std::string service;
    uint64_t list_version = 0;
    size_t list_size = 0;
    uint64_t token_client = 0;
    balancer::ClientLoad load;
  };

  void Begin();
  // The client's InitialLoadBalanceRequest: resolves its service, subscribes,
  // joins the subset policy, and starts the writes.
  absl::Status OnInitialRequest(const std::string& name);
  // A ClientStats report: counted, and told to the policy and shedding.
  void OnLoadReport(const balancer::LoadReport& report);
  // Asks to end the stream with `status` once no write is in flight; the
  // first request wins.
  void RequestFinish(absl::Status status);
  // Pump() on the call's context (from another thread).
  void PostPump();
  // Does what the cursor says is next: a write, the finish, or nothing.
  void Pump();
  // Finishes the call with `status`, logged and counted.
  void EndWith(const absl::Status& status);
  // Copies for Describe(): everything, or the list's version and size alone
  // (after each step of the cursor, which may skip a list as already sent).
  void UpdateInfo() ABSL_LOCKS_EXCLUDED(info_mu_);
  void UpdateListInfo() ABSL_LOCKS_EXCLUDED(info_mu_);

  // Constant after construction.
  const Shared shared_;
  const std::string peer_;
  const absl::Time connected_;
  // For other threads' posts (the call may be over: its tasks then find us
  // gone or finished).
  const std::weak_ptr<transport::ServerCall> weak_call_;

  // The call's context's.
  std::shared_ptr<transport::ServerCall> call_;  // null once it is over
  std::unique_ptr<ClientRegistry::Registration> registration_;
  bool admitted_ = false;   // counted by shared_.limits
  bool streaming_ = false;  // the initial request came
  // From the initial request: the client's service, our subscription to its
  // Hub, and with subsetting our id in its policy (0: none).
  std::shared_ptr<ServiceUnit> unit_;
  std::unique_ptr<Hub::Subscription> subscription_;
  uint64_t policy_id_ = 0;
  std::string name_;
  ListCursor cursor_;
  // The write in flight: its snapshot (null: the initial response), whether it
  // is the stream's first list, and its bytes.
  bool write_in_flight_ = false;
  bool finish_called_ = false;
  SnapshotPtr in_flight_;
  bool in_flight_is_first_list_ = false;
  size_t in_flight_bytes_ = 0;
  balancer::ClientLoad load_;
  LogThrottle report_log_;          // rejected load reports
  uint64_t info_list_version_ = 0;  // what info_ holds of the list
  size_t info_list_size_ = 0;

  mutable absl::Mutex info_mu_;
  Info info_ ABSL_GUARDED_BY(info_mu_);
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_CALL_H_
