// H2Connection: one client connection of jawlb's HTTP/2 server, on one
// EventLoop. nghttp2 does the protocol (framing, HPACK, flow control,
// SETTINGS, and its defences: CONTINUATION and RST_STREAM floods); this class
// moves the bytes: it reads what the socket has into the session, and gathers
// every frame the session has to send — control frames copied, DATA as a
// reference to the call's shared framed message — into one outbox written
// with one writev. Writes are batched: a call's Write() asks for a flush,
// and the flush runs once after the loop's current tasks, so a change that
// wakes every stream of a connection leaves in one system call.
//
// Handlers are never called from inside nghttp2's callbacks: what the calls
// must hear is queued and delivered once the session returns.
//
// Time limits, each a timer on the loop: a connection that sends no SETTINGS
// (after the preface) within `preface_timeout` is closed; one that sends
// nothing for `keepalive_time` is pinged and closed if the ping is not
// answered within `keepalive_timeout` (a client that vanished); one without a
// call for `idle_timeout` is sent away (GOAWAY); at `max_age` (±10%) a
// connection is sent away and closed `max_age_grace` later. Sending away is
// gRPC's two-step GOAWAY: a notice first (no new streams, please), the final
// GOAWAY with the last stream taken a moment later; the calls already open
// go on, and the connection closes once they are over.
//
// Owns its socket, its nghttp2 session and its calls; borrows its loop and
// its server's method table (both outlive it). Ends itself: on a protocol
// error, a closed socket or Close(), it tells its calls, and `on_closed`
// (which must destroy it later, from a posted task).
//
// Threading: confined to its loop's thread.
#ifndef JAWLB_TRANSPORT_H2_CONNECTION_H_
#define JAWLB_TRANSPORT_H2_CONNECTION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nghttp2/nghttp2.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "common/log_throttle.h"
#include "transport/event_loop.h"
#include "transport/h2_call.h"
#include "transport/server_call.h"
#include "transport/tls.h"

namespace jawlb::transport {

class H2Connection final : public EventLoop::Watcher {
 public:
  // What a server counts over its connections.
  struct Counters {
    std::atomic<uint64_t> goaways{0};          // final GOAWAYs sent (clients sent away)
    std::atomic<uint64_t> streams_refused{0};  // over the streams a connection may hold
    std::atomic<uint64_t> connections_cut{0};  // for a flood of streams
    std::atomic<int64_t> tls_handshakes{0};    // under way now
    std::atomic<uint64_t> tls_failed{0};       // handshakes that failed or timed out
    std::atomic<uint64_t> tls_refused{0};      // connections over the handshakes under way
    SharedLogThrottle tls_log{absl::Seconds(1)};
    SharedLogThrottle cut_log{absl::Seconds(1)};
  };

  struct Options {
    size_t max_message_bytes = size_t{64} * 1024;
    uint32_t max_concurrent_streams = 1000;
    absl::Duration preface_timeout = absl::Seconds(10);
    absl::Duration keepalive_time = absl::Seconds(30);
    absl::Duration keepalive_timeout = absl::Seconds(10);
    absl::Duration idle_timeout = absl::Minutes(2);
    absl::Duration max_age = absl::ZeroDuration();  // zero: none
    absl::Duration max_age_grace = absl::Seconds(30);
    // The server's counts (outlive the connection); null: not counted.
    Counters* counters = nullptr;
    // Told the descriptor just before it is closed (the ConnectionListener's
    // count); null: no one.
    const std::function<void(int fd)>* on_close = nullptr;
  };
  using Methods = std::map<std::string, MethodHandler, std::less<>>;

  // Takes `fd` (a connected, non-blocking socket), and `tls` over it if the
  // port serves TLS (null: h2c). `shard`: the loop's index (its calls' shard()).
  H2Connection(EventLoop& loop, size_t shard, int fd, std::string peer, const Methods& methods,
               Options options, std::function<void(H2Connection*)> on_closed,
               std::unique_ptr<TlsSocket> tls = nullptr);
  ~H2Connection() override;
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // Sends the server's SETTINGS and starts reading. Errors: the system's.
  absl::Status Start();
  // Closes the connection at once (its calls hear OnDone(cancelled)).
  void Close(absl::string_view why);
  // The server stops: the final GOAWAY (the last stream taken, NO_ERROR) if
  // none was sent yet, written as far as the socket takes it, then Close().
  void Shutdown();
  // Sends the client away (two-step GOAWAY); the open calls go on and the
  // connection closes when they are over. Idempotent.
  void GoAway(absl::string_view why);

  const std::string& peer() const { return peer_; }
  size_t calls() const { return calls_.size(); }

  // EventLoop::Watcher:
  void OnEvents(uint32_t events) override;

  // --- the calls' ---
  nghttp2_session* session() { return session_; }
  // Queues `task` to run once the session has returned (or at once if it is
  // not running).
  void Defer(absl::AnyInvocable<void()> task);
  // Asks for a flush after the loop's current tasks.
  void ScheduleFlush();

 private:
  struct Piece {
    std::string owned;   // copied bytes (frame headers, control frames)
    SharedBytes shared;  // or a shared message's bytes [offset, offset + length)
    size_t offset = 0;
    size_t length = 0;

    const char* data() const { return shared != nullptr ? shared->data() + offset : owned.data(); }
    size_t size() const { return shared != nullptr ? length : owned.size(); }
  };

  // nghttp2's callbacks, through user_data.
  static ssize_t OnSend(nghttp2_session* session, const uint8_t* data, size_t length, int flags,
                        void* user_data);
  static int OnSendData(nghttp2_session* session, nghttp2_frame* frame, const uint8_t* header,
                        size_t length, nghttp2_data_source* source, void* user_data);
  static int OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                      size_t name_length, const uint8_t* value, size_t value_length, uint8_t flags,
                      void* user_data);
  static int OnFrameReceived(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int OnDataChunk(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                         const uint8_t* data, size_t length, void* user_data);
  static int OnFrameSent(nghttp2_session* session, const nghttp2_frame* frame, void* user_data);
  static int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                           void* user_data);

  H2Call* CallOf(int32_t stream_id);
  // Advances the TLS handshake; false while it is not done (or failed: then
  // the connection is closed).
  bool Handshake();
  // Watches for EPOLLOUT (besides input) or stops.
  void WatchOutput(bool out);
  // The final GOAWAY (NO_ERROR, the last stream taken), once.
  void SubmitFinalGoAway();
  // A stream past max_concurrent_streams was refused: counted, and past as
  // many again the connection is cut.
  void OnStreamRefused();
  // A request's headers are complete: dispatches it to its method.
  void OnRequest(H2Call& call);
  void ReadAll();
  // Reads into `buffer`: > 0 bytes; 0 when there is nothing more now or the
  // connection closed (closed_ says which); -1 when interrupted.
  ssize_t Receive(uint8_t* buffer, size_t size);
  // Writes the outbox and whatever the session has to send; false once the
  // connection is closed.
  bool Flush();
  // Writes as much of the outbox as the socket takes; false on an error.
  bool WriteOutbox();
  // Drops the outbox's first `written` bytes.
  void DropWritten(size_t written);
  void RunDeferred();
  void AppendOwned(const uint8_t* data, size_t length);
  // The timers' work.
  void CheckKeepalive();
  void CheckIdle();
  void StartIdleTimer();
  void CancelTimers();

  // Constant after construction.
  EventLoop& loop_;
  const size_t shard_;
  const int fd_;
  const std::string peer_;
  const Methods& methods_;
  const Options options_;
  const std::function<void(H2Connection*)> on_closed_;

  // The loop thread's.
  std::unique_ptr<TlsSocket> tls_;  // null: h2c
  bool handshaking_ = false;        // counted in Counters::tls_handshakes
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::shared_ptr<H2Call>> calls_;
  std::vector<Piece> outbox_;
  size_t outbox_front_ = 0;  // bytes of outbox_[0] already written
  std::vector<absl::AnyInvocable<void()>> deferred_;
  bool in_session_ = false;  // inside nghttp2 (callbacks may run)
  bool flush_scheduled_ = false;
  bool want_out_ = false;  // watching EPOLLOUT
  bool closed_ = false;
  bool settings_received_ = false;
  bool going_away_ = false;
  bool cut_ = false;      // for a flood of streams
  uint32_t refused_ = 0;  // streams refused over max_concurrent_streams
  bool ping_outstanding_ = false;
  absl::Time last_read_;
  absl::Time idle_since_;
  uint64_t calls_started_ = 0;
  EventLoop::TimerId preface_timer_ = 0;
  EventLoop::TimerId keepalive_timer_ = 0;
  EventLoop::TimerId idle_timer_ = 0;
  EventLoop::TimerId age_timer_ = 0;
  EventLoop::TimerId goaway_timer_ = 0;
  bool final_goaway_sent_ = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_H2_CONNECTION_H_
