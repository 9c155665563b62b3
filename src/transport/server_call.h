// ServerCall: one gRPC call as the transport hands it to a method's handler —
// "a method path, messages in, pre-encoded messages out" (DESIGN.md). The
// handler hears the call through its Handler; it writes messages framed once
// and shared by any number of calls (WireMessage), at most one in flight.
//
// Ordering: every Handler callback of a call, and every task given to its
// Post(), runs serialized — never two at once — so a handler needs no lock of
// its own for what only its call's callbacks touch. For jawlb's HTTP/2 server
// that is the connection's loop thread.
//
// Implementations: H2Call (transport/h2_call.h, jawlb's HTTP/2 server) and
// GrpcCall (transport/grpc_calls.h, gRPC C++'s server as the fallback).
//
// Threading: Post(), Write() and Finish() are thread-safe (from another
// thread they run as posted tasks); the accessors are immutable.
#ifndef JAWLB_TRANSPORT_SERVER_CALL_H_
#define JAWLB_TRANSPORT_SERVER_CALL_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"

namespace jawlb::transport {

// Bytes shared by any number of calls and threads (immutable).
using SharedBytes = std::shared_ptr<const std::string>;

// A message framed for the wire, as the pieces it is written from, in order:
// the first begins with the message's 5-byte prefix (FrameMessage, or
// AppendMessagePrefix for a message written in pieces). One piece for a
// message every call shares whole (a grpclb list); several when a call's own
// bytes go around shared ones (an ADS response: its version and nonce, then
// an assignment every stream shares, never copied per stream).
class WireMessage {
 public:
  using Pieces = absl::InlinedVector<SharedBytes, 2>;

  WireMessage() = default;
  // One piece: a whole framed message.
  WireMessage(SharedBytes framed) {
    Add(std::move(framed));
  }  // NOLINT(google-explicit-constructor)

  void Add(SharedBytes piece) {
    if (piece->empty()) return;
    size_ += piece->size();
    pieces_.push_back(std::move(piece));
  }
  const Pieces& pieces() const { return pieces_; }
  // Bytes in all, prefix included.
  size_t size() const { return size_; }
  bool empty() const { return pieces_.empty(); }

 private:
  Pieces pieces_;
  size_t size_ = 0;
};

class ServerCall {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    // A request message (whole; at most the server's limit).
    virtual void OnMessage(std::string message) = 0;
    // The client finished sending (its side is closed; writes go on).
    virtual void OnHalfClose() = 0;
    // The write in flight was handed to the connection (`ok`), or can never
    // be (the call is over: !ok).
    virtual void OnWriteDone(bool ok) = 0;
    // The call is over: finished by the handler, reset by the client, or its
    // connection gone (`cancelled` then). The last callback.
    virtual void OnDone(bool cancelled) = 0;
  };

  virtual ~ServerCall() = default;

  // "/package.Service/Method".
  virtual const std::string& method() const = 0;
  // The client, as gRPC names peers ("ipv4:10.1.2.3:40000").
  virtual const std::string& peer() const = 0;
  // The thread (loop or completion queue) the call's callbacks run on, as an
  // index: what a Hub shard wakes, so a wake of this call's shard runs on
  // its own thread.
  virtual size_t shard() const = 0;

  // Starts the call: from now on `handler` hears it (messages that came
  // before are delivered then). Once; REQUIRES: called from the method
  // handler the call was given to.
  virtual void Start(std::shared_ptr<Handler> handler) = 0;
  // Sends `message`. REQUIRES: no write in flight (OnWriteDone came for the
  // last one) and no Finish() yet.
  virtual void Write(WireMessage message) = 0;
  // Ends the call with `status` once the write in flight is out: trailers
  // with grpc-status and grpc-message (a Trailers-Only response when nothing
  // was written). The first call wins.
  virtual void Finish(absl::Status status) = 0;
  // Runs `task` serialized with the call's callbacks (dropped if the server
  // is stopped first).
  virtual void Post(absl::AnyInvocable<void()> task) = 0;
  // Runs `task` serialized with the callbacks after `delay` (real time),
  // unless the call is over or the server stops first (a timer set while
  // the call ends may still run: the task must find out). At most one such
  // timer per call at a time; a second is ignored while one is set.
  virtual void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task) = 0;
};

// Runs `task(*handler)` on `call`'s context — from any thread — if the call
// and its handler are both still there then (a wake or a drain from another
// thread: the call may be over by the time it runs).
template <typename H, typename Task>
void PostToHandler(const std::weak_ptr<ServerCall>& call, std::weak_ptr<H> handler, Task task) {
  std::shared_ptr<ServerCall> live = call.lock();
  if (live == nullptr) return;
  live->Post([handler = std::move(handler), task = std::move(task)]() mutable {
    if (std::shared_ptr<H> self = handler.lock()) task(*self);
  });
}

// What the server does with a new call of a method: typically makes a
// handler and calls call->Start(handler). On the call's serialized context.
using MethodHandler = std::function<void(std::shared_ptr<ServerCall> call)>;

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_SERVER_CALL_H_
