// JawlbProcess: the real jawlb binary as a child process listening on a free
// port of 127.0.0.1, for the demo and the integration tests.
//
// Threading: thread-compatible.
#ifndef JAWLB_TOOLS_TESTBED_JAWLB_PROCESS_H_
#define JAWLB_TOOLS_TESTBED_JAWLB_PROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

#include "testbed/subprocess.h"

namespace jawlb::testbed {

// Whether the jawlb processes tests start are served by jawlb's HTTP/2 server
// (JAWLB_TEST_TRANSPORT unset or "h2"), not gRPC C++'s ("grpc").
bool OnH2Transport();

class JawlbProcess {
 public:
  // Runs `binary` with `env` ("JAWLB_X=value") and, unless `env` sets them,
  // JAWLB_HOST=127.0.0.1, JAWLB_PORT=0 and JAWLB_DRAINDELAY=0s; waits until it
  // listens. The error carries its output.
  // `wrapper`: a command that runs jawlb ({"/usr/bin/prlimit", "--nofile=..."}).
  static absl::StatusOr<std::unique_ptr<JawlbProcess>> Start(const std::string& binary,
                                                             std::vector<std::string> env,
                                                             const std::string& log_path,
                                                             std::vector<std::string> wrapper = {});

  int port() const { return port_; }
  int admin_port() const { return admin_port_; }
  Subprocess& process() { return *process_; }

 private:
  JawlbProcess(std::unique_ptr<Subprocess> process, int port, int admin_port)
      : process_(std::move(process)), port_(port), admin_port_(admin_port) {}

  std::unique_ptr<Subprocess> process_;
  const int port_;
  const int admin_port_;
};

// The xDS bootstrap `jawlb bootstrap` prints for a jawlb at 127.0.0.1:`port`
// (README, client set-up), with node id `node` in zone `zone`. The error
// carries what the command printed.
absl::StatusOr<std::string> XdsBootstrap(const std::string& binary, int port,
                                         const std::string& node, const std::string& zone);

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_JAWLB_PROCESS_H_
