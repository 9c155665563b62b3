// GrpcCalls: gRPC C++'s own server as a transport (the fallback,
// JAWLB_TRANSPORT=grpc): calls of the methods registered here arrive through
// gRPC's generic service on jawlb's completion queues and are handed to their
// MethodHandlers as GrpcCalls, so the same handlers serve on either server.
// Methods gRPC serves itself (registered with the builder as services, such
// as reflection) are not seen here; any other method gets UNIMPLEMENTED.
//
// A method may instead be registered with a Requester: its calls are then
// asked for through a raw async service (WithRawMethod_X) the caller
// registered with the builder, so gRPC knows the service by name (reflection
// lists it) while the calls still come here.
//
// A GrpcCall's callbacks arrive from completion-queue threads and posted
// tasks from anywhere; a per-call strand runs them one at a time, in order.
// A message written is the shared framed bytes without their prefix (gRPC
// frames it again), referenced, not copied.
//
// Owns the generic service; borrows the queues, which must outlive Stop().
// Calls own themselves from their arrival until gRPC is done with them.
//
// Threading: Register/AddTo/Start/Stop on the owner's thread; calls as
// ServerCall says.
#ifndef JAWLB_TRANSPORT_GRPC_CALLS_H_
#define JAWLB_TRANSPORT_GRPC_CALLS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/generic/async_generic_service.h"
#include "grpcpp/grpcpp.h"

#include "transport/completion_queues.h"
#include "transport/completion_tag.h"
#include "transport/server_call.h"
#include "transport/stream_count.h"

namespace jawlb::transport {

class GrpcCalls {
 public:
  explicit GrpcCalls(CompletionQueues& queues) : queues_(queues) {}
  ~GrpcCalls();
  GrpcCalls(const GrpcCalls&) = delete;
  GrpcCalls& operator=(const GrpcCalls&) = delete;

  // Asks gRPC for the next call of a raw async method (its generated
  // Request<Method>(context, stream, cq, cq, tag)).
  using Requester =
      std::function<void(grpc::ServerContext* context, grpc::GenericServerAsyncReaderWriter* stream,
                         grpc::ServerCompletionQueue* cq, void* tag)>;

  // REQUIRES: before AddTo(). With `requester`, through a raw async service
  // (see above); else through the generic service.
  void Register(std::string method, MethodHandler handler, Requester requester = nullptr);
  // Registers the generic service with `builder`, before it builds.
  void AddTo(grpc::ServerBuilder& builder);
  // Asks for calls on every queue, once the server runs.
  void Start();
  // Waits (up to 30 s) for the calls to be released, after the server's
  // Shutdown(). Idempotent.
  void Stop();

  // Calls alive now (accepted and not yet released, and the ones waiting).
  int live() const { return live_.count(); }

  class Call;

 private:
  CompletionQueues& queues_;
  grpc::AsyncGenericService service_;
  struct Method {
    std::string path;
    MethodHandler handler;
    Requester requester;  // null: the generic service's
  };
  std::map<std::string, Method, std::less<>> methods_;
  StreamCount live_;  // including the ones waiting for a call
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_GRPC_CALLS_H_
