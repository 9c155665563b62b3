// App: the composition root. Builds the backend Source, the Hub and the gRPC
// server from a Config, wires them in flow order (Source → Hub → streams) and
// drains them on shutdown. The only code that names concrete implementations.
//
// Owns everything it builds. Threading: confined to the main thread.
#ifndef JAWLB_APP_APP_H_
#define JAWLB_APP_APP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

#include "config/config.h"
#include "discovery/source.h"
#include "grpclb/balance_load_service.h"
#include "grpclb/hub.h"

namespace jawlb::app {

class App {
 public:
  // Starts discovery and then the gRPC server. Errors: whatever the source's
  // Start() returns (a bad endpoints file), Unavailable when the port cannot be
  // bound. Does not block.
  static absl::StatusOr<std::unique_ptr<App>> Start(const config::Config& config);

  ~App();

  // The port the gRPC server listens on (the chosen one when JAWLB_PORT=0).
  int port() const { return port_; }

  // Graceful stop: no new streams; open streams end with UNAVAILABLE (clients
  // reconnect elsewhere and keep their lists meanwhile) once their in-flight
  // write is done; whatever is still open after the grace period is cancelled.
  // Blocks until done. Idempotent.
  void Shutdown();

 private:
  explicit App(const config::Config& config);

  // Constant after construction.
  const config::Config config_;

  grpclb::Hub hub_;
  std::unique_ptr<discovery::Source> source_;
  std::unique_ptr<grpclb::BalanceLoadService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_APP_H_
