// Liveness: whether this process still makes progress, for /healthz. The gRPC
// server must answer its own health check on a new connection (a port that no
// longer accepts fails it; with TLS, the handshake of a new connection), and
// the Kubernetes I/O thread, when there is one, must have beaten recently.
//
// Threading: thread-safe; StuckReason() blocks for up to 2 s.
#ifndef JAWLB_APP_LIVENESS_H_
#define JAWLB_APP_LIVENESS_H_

#include <string>

#include "k8s/api_monitor.h"

namespace jawlb::app {

class Liveness {
 public:
  // The gRPC server at `host` ("": every interface) and `port`; `kubernetes`
  // may be null (borrowed; outlives this object). With `tls`, the port
  // serves TLS only: the check is then the server's answer to a new
  // connection's handshake, since with mutual TLS jawlb holds no client
  // certificate to ask its own health service with.
  Liveness(const std::string& host, int port, const k8s::ApiMonitor* kubernetes, bool tls = false);

  // What has stopped making progress; "" when nothing.
  std::string StuckReason() const;

 private:
  bool GrpcServerAnswers() const;

  const std::string host_;  // the port's address to dial
  const int port_;
  const bool tls_;
  const std::string target_;  // where to ask the server about itself
  const k8s::ApiMonitor* const kubernetes_;
};

}  // namespace jawlb::app

#endif  // JAWLB_APP_LIVENESS_H_
