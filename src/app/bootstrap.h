// `jawlb bootstrap`: prints the xDS bootstrap file a client reads
// (GRPC_XDS_BOOTSTRAP) to find jawlb — one file that every gRPC client here
// accepts: C-core (C++, Python, Ruby), grpc-js-xds (which needs node.id and
// node.locality), grpc-go (which needs the top-level server_features).
//
//   jawlb bootstrap --server=jawlb.prod.svc:8000 [--node=ID] [--cluster=NAME] [--zone=ZONE]
//
// Threading: pure functions.
#ifndef JAWLB_APP_BOOTSTRAP_H_
#define JAWLB_APP_BOOTSTRAP_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace jawlb::app {

struct BootstrapOptions {
  std::string server;                // host:port of jawlb's gRPC port (required)
  std::string node = "grpc-client";  // node.id: names the client in /debug/state
  std::string cluster;               // node.cluster ("": left out)
  std::string zone;                  // node.locality.zone ("": an empty locality)
};

// The bootstrap JSON.
std::string BootstrapJson(const BootstrapOptions& options);

// `jawlb bootstrap ...` or `jawlb --help`: prints what they print and returns
// the exit code; nullopt for any other command line (the server runs).
std::optional<int> RunSubcommand(int argc, const char* const* argv);

}  // namespace jawlb::app

#endif  // JAWLB_APP_BOOTSTRAP_H_
