// H2Call: a ServerCall on one HTTP/2 stream of an H2Connection. It gathers
// the request's headers, reassembles its messages (MessageReader), and sends
// its response: the headers with the first message (or a Trailers-Only
// response), each message as DATA straight from the shared framed bytes (no
// copy: H2Connection writes the frame header and then the message's bytes),
// and the trailers once Finish() comes and the write in flight is out.
//
// grpc-timeout is ignored, on purpose: the calls served here are long-lived
// streams that end when the client cancels (it also enforces its own
// deadline), and a Check is answered at once. grpc-encoding is never sent;
// a compressed message from the client is refused (grpc_message.h).
//
// Owned by its connection (and shared with the handler, which may keep it
// after the call is over: every method then does nothing). Its connection
// outlives it on the loop, or tells it first (Detach()).
//
// Threading: confined to the connection's loop thread, except ServerCall's
// thread-safe methods, which post themselves there.
#ifndef JAWLB_TRANSPORT_H2_CALL_H_
#define JAWLB_TRANSPORT_H2_CALL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

#include "transport/event_loop.h"
#include "transport/grpc_message.h"
#include "transport/server_call.h"

namespace jawlb::transport {

class H2Connection;

class H2Call final : public ServerCall, public std::enable_shared_from_this<H2Call> {
 public:
  // The most header bytes (names and values) a request may carry.
  static constexpr size_t kMaxHeaderBytes = size_t{16} * 1024;

  H2Call(H2Connection& connection, EventLoop& loop, size_t shard, int32_t stream_id,
         std::string peer, size_t max_message_bytes);

  // ServerCall:
  const std::string& method() const override { return path_; }
  const std::string& peer() const override { return peer_; }
  size_t shard() const override { return shard_; }
  void Start(std::shared_ptr<Handler> handler) override;
  void Write(WireMessage message) override;
  void Finish(absl::Status status) override;
  void Post(absl::AnyInvocable<void()> task) override;
  void RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task) override;

  // --- the connection's (loop thread) ---
  int32_t stream_id() const { return stream_id_; }
  // One request header; false when the request's headers are too large.
  bool AddHeader(absl::string_view name, absl::string_view value);
  // The request's headers are complete: why it cannot be served as a gRPC
  // call, as the status to answer with (OK: it can).
  absl::Status CheckRequest() const;
  // A piece of the request's DATA; an error finishes the call with it.
  void OnData(absl::string_view data);
  // The client's side ended.
  void OnEndStream();
  // The stream is closed (or its connection is gone: `connection_gone`).
  void OnClosed(bool connection_gone);
  // The data provider's questions: how much of the message in flight fits
  // in `length` (0 with *eof: the message is out and the call finishing;
  // nullopt: nothing to send now).
  struct Chunk {
    size_t length = 0;
    bool eof = false;
  };
  std::optional<Chunk> NextChunk(size_t length);
  // The next bytes of the message in flight, at most `length` of them and
  // within one of its pieces; and that `length` of them were written (the
  // connection then sends the rest).
  struct Span {
    const SharedBytes* bytes;
    size_t offset = 0;
    size_t length = 0;
  };
  Span Front(size_t length) const;
  void Sent(size_t length);
  // Called when the data provider said EOF: the trailers go now.
  void SubmitTrailers();

 private:
  // Sends the response headers with a data provider, once.
  void SubmitHeaders();
  void Deliver(absl::AnyInvocable<void()> task);

  // Constant after construction.
  H2Connection* connection_;  // null once the connection is gone
  EventLoop& loop_;
  const size_t shard_;
  const int32_t stream_id_;
  const std::string peer_;

  // The loop thread's.
  std::string path_;
  std::string method_;  // :method
  std::string content_type_;
  std::string te_;
  size_t header_bytes_ = 0;
  MessageReader reader_;
  std::shared_ptr<Handler> handler_;
  std::vector<std::string> early_;  // messages before Start()
  bool half_closed_before_start_ = false;
  bool headers_sent_ = false;
  WireMessage in_flight_;  // empty: none
  size_t piece_ = 0;       // in_flight_'s piece being sent,
  size_t offset_ = 0;      // from this byte of it
  size_t sent_ = 0;        // of in_flight_ in all
  std::optional<absl::Status> finish_;
  bool trailers_sent_ = false;
  EventLoop::TimerId timer_ = 0;  // RunAfter()'s, while set
  bool closed_ = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_H2_CALL_H_
