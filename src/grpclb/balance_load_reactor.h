// BalanceLoadReactor: one client's BalanceLoad stream. Reads the client's
// InitialLoadBalanceRequest and then its ClientStats for as long as the stream
// lives, and writes the InitialLoadBalanceResponse followed by every new
// ServerList the Hub publishes.
//
// Latest-wins: at most one write is in flight. When it completes, the reactor
// writes the Hub's newest snapshot if that holds a different list than the one
// the client last got; snapshots published meanwhile are skipped, never queued.
// A slow client therefore costs one buffered message and delays no one.
//
// Ownership: created by BalanceLoadService, which gRPC calls; it owns itself
// through a shared_ptr that it releases in OnDone(). The Hub holds it weakly, so
// a wake can briefly keep it alive after OnDone(); by then it no longer writes.
// Borrows the Hub, the ClientRegistry and the StreamMetrics, which must outlive
// the server.
//
// Threading: thread-safe. gRPC callback threads run the On*() reactions; the
// Hub's publishing thread runs OnHubChanged(). State is guarded by mu_, and no
// gRPC call is made while holding it.
#ifndef JAWLB_GRPCLB_BALANCE_LOAD_REACTOR_H_
#define JAWLB_GRPCLB_BALANCE_LOAD_REACTOR_H_

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_callback.h"

#include "grpclb/client_registry.h"
#include "grpclb/client_stats.h"
#include "grpclb/hub.h"
#include "grpclb/stream_metrics.h"

namespace jawlb::grpclb {

class BalanceLoadReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                                 public Hub::Subscriber,
                                 public ClientRegistry::Client {
 public:
  // Starts a stream. `initial_response` is the shared encoded
  // InitialLoadBalanceResponse; it must outlive the stream. Returns the reactor
  // to hand to gRPC.
  static BalanceLoadReactor* Start(grpc::CallbackServerContext* context, Hub& hub,
                                   ClientRegistry& registry,
                                   const grpc::ByteBuffer& initial_response,
                                   StreamMetrics& metrics);

  // grpc::ServerBidiReactor:
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

  // Hub::Subscriber:
  void OnHubChanged() override;

  // ClientRegistry::Client:
  ClientInfo Describe() const override ABSL_LOCKS_EXCLUDED(mu_);

  BalanceLoadReactor(std::string peer, Hub& hub, const grpc::ByteBuffer& initial_response,
                     StreamMetrics& metrics);

 private:
  enum class Phase { kAwaitingInitialRequest, kStreaming };

  // Handles one parsed request; returns an error to end the stream with.
  absl::Status HandleRequest() ABSL_LOCKS_EXCLUDED(mu_);
  // Asks to end the stream with `status` once no write is in flight; the first
  // request wins.
  void RequestFinish(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // Starts the next write or the Finish, whichever is due.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);

  // Constant after construction.
  const std::string peer_;
  const absl::Time connected_ = absl::Now();
  Hub& hub_;
  const grpc::ByteBuffer& initial_response_;
  StreamMetrics& metrics_;

  // Used only by the read chain (one read in flight at a time).
  grpc::ByteBuffer request_;
  Phase phase_ = Phase::kAwaitingInitialRequest;

  mutable absl::Mutex mu_;
  std::shared_ptr<BalanceLoadReactor> self_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<ClientRegistry::Registration> registration_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<Hub::Subscription> subscription_ ABSL_GUARDED_BY(mu_);
  std::string name_ ABSL_GUARDED_BY(mu_);
  bool initial_received_ ABSL_GUARDED_BY(mu_) = false;
  ClientLoad load_ ABSL_GUARDED_BY(mu_);
  bool initial_response_sent_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  SnapshotPtr in_flight_ ABSL_GUARDED_BY(mu_);  // keeps the bytes being written alive
  bool in_flight_is_first_list_ ABSL_GUARDED_BY(mu_) = false;
  SnapshotPtr last_sent_ ABSL_GUARDED_BY(mu_);
  bool finish_requested_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_BALANCE_LOAD_REACTOR_H_
