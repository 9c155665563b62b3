// EchoBackend: an in-process gRPC server of jawlb.testing.Echo that answers
// every Whoami with its name, counts the calls it served and keeps the
// `lb-token` metadata values grpclb clients sent with them, and serves gRPC's
// health service. The backends of jawlb's demo and end-to-end tests.
//
// Threading: thread-safe; calls() may be read from any thread.
#ifndef JAWLB_TOOLS_TESTBED_ECHO_BACKEND_H_
#define JAWLB_TOOLS_TESTBED_ECHO_BACKEND_H_

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

#include "jawlb/testing/echo.grpc.pb.h"

namespace jawlb::testbed {

class EchoBackend {
 public:
  // Listens on `ip`, port 0 (a free port). Unavailable when it cannot bind.
  // With `health`, it also serves grpc.health.v1.Health (gRPC's built-in
  // service), SERVING until SetServing(false). `credentials`: null, plaintext.
  static absl::StatusOr<std::unique_ptr<EchoBackend>> Start(
      std::string name, std::string ip, bool health = true,
      std::shared_ptr<grpc::ServerCredentials> credentials = nullptr);
  ~EchoBackend();

  const std::string& name() const { return name_; }
  // "127.0.0.2:41234".
  const std::string& address() const { return address_; }
  int64_t calls() const { return service_.calls.load(); }
  // What its health service answers, for the server and every service name.
  void SetServing(bool serving);
  // Stops listening and ends every call (as a backend that dies).
  void Stop();
  // Every distinct `lb-token` the calls carried.
  std::set<std::string> tokens() const {
    absl::MutexLock lock(&service_.mu);
    return service_.tokens;
  }

 private:
  struct Service final : jawlb::testing::Echo::CallbackService {
    explicit Service(std::string name) : name(std::move(name)) {}
    grpc::ServerUnaryReactor* Whoami(grpc::CallbackServerContext* context,
                                     const google::protobuf::Empty* request,
                                     google::protobuf::StringValue* response) override;
    const std::string name;
    std::atomic<int64_t> calls{0};
    mutable absl::Mutex mu;
    std::set<std::string> tokens ABSL_GUARDED_BY(mu);
  };

  explicit EchoBackend(std::string name) : name_(name), service_(std::move(name)) {}

  const std::string name_;
  std::string address_;
  Service service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_ECHO_BACKEND_H_
