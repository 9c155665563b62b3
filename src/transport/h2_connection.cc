#include "transport/h2_connection.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

namespace jawlb::transport {
namespace {

H2Connection& Self(void* user_data) { return *static_cast<H2Connection*>(user_data); }

}  // namespace

H2Connection::H2Connection(EventLoop& loop, size_t shard, int fd, std::string peer,
                           const Methods& methods, Options options,
                           std::function<void(H2Connection*)> on_closed,
                           std::unique_ptr<TlsSocket> tls)
    : loop_(loop),
      shard_(shard),
      fd_(fd),
      peer_(std::move(peer)),
      methods_(methods),
      options_(options),
      on_closed_(std::move(on_closed)),
      tls_(std::move(tls)) {}

H2Connection::~H2Connection() {
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (!closed_) close(fd_);
}

absl::Status H2Connection::Start() {
  // Each flush is a whole batch of frames: sent at once, never held back by
  // Nagle for the client's delayed ACK (40 ms). Not a TCP socket (a test's
  // socketpair): nothing to set.
  const int one = 1;
  (void)setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_send_callback(callbacks, OnSend);
  nghttp2_session_callbacks_set_send_data_callback(callbacks, OnSendData);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, OnFrameReceived);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, OnFrameSent);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // nghttp2's defences, stated: RST_STREAM floods (rapid reset) end the
  // connection; so do long CONTINUATION chains and unanswered control frames.
  nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33);
  nghttp2_option_set_max_continuations(option, 8);
  nghttp2_option_set_max_outbound_ack(option, 1000);
  const int made = nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  if (made != 0) return absl::InternalError(nghttp2_strerror(made));
  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, options_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(H2Call::kMaxHeaderBytes)},
  };
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
  if (absl::Status watched = loop_.Watch(fd_, EPOLLIN | EPOLLRDHUP, this); !watched.ok()) {
    return watched;
  }
  last_read_ = Clock::Real().Now();
  if (tls_ != nullptr) {
    handshaking_ = true;
    if (options_.counters != nullptr) options_.counters->tls_handshakes.fetch_add(1);
  }
  preface_timer_ = loop_.RunAfter(options_.preface_timeout, [this] {
    preface_timer_ = 0;
    if (handshaking_) {
      if (options_.counters != nullptr) options_.counters->tls_failed.fetch_add(1);
      Close(
          absl::StrCat("no TLS handshake within ", absl::FormatDuration(options_.preface_timeout)));
    } else if (!settings_received_) {
      Close(absl::StrCat("no HTTP/2 preface and SETTINGS within ",
                         absl::FormatDuration(options_.preface_timeout)));
    }
  });
  keepalive_timer_ = loop_.RunAfter(options_.keepalive_time, [this] { CheckKeepalive(); });
  StartIdleTimer();
  if (options_.max_age > absl::ZeroDuration()) {
    // ±10%, as gRPC's servers do: connections made together do not all go at once.
    thread_local absl::BitGen bitgen;  // the loop thread's
    const double jitter = 0.9 + 0.2 * absl::Uniform(bitgen, 0.0, 1.0);
    age_timer_ = loop_.RunAfter(options_.max_age * jitter, [this] {
      GoAway("it reached its maximum age (JAWLB_MAXCONNECTIONAGE)");
      age_timer_ = loop_.RunAfter(options_.max_age_grace, [this] {
        age_timer_ = 0;
        Close("its maximum age's grace ran out");
      });
    });
  }
  ScheduleFlush();
  return absl::OkStatus();
}

void H2Connection::GoAway(absl::string_view why) {
  if (going_away_ || closed_) return;
  going_away_ = true;
  spdlog::debug("transport: sending connection {} away: {}", peer_, std::string(why));
  nghttp2_submit_shutdown_notice(session_);
  ScheduleFlush();
  // The final GOAWAY names the last stream taken, once the notice had time
  // to arrive (streams the client opened meanwhile are served).
  goaway_timer_ = loop_.RunAfter(absl::Seconds(1), [this] {
    goaway_timer_ = 0;
    SubmitFinalGoAway();
    ScheduleFlush();
  });
}

void H2Connection::SubmitFinalGoAway() {
  if (final_goaway_sent_) return;
  final_goaway_sent_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  if (options_.counters != nullptr) options_.counters->goaways.fetch_add(1);
}

void H2Connection::Shutdown() {
  if (closed_) return;
  if (!cut_) SubmitFinalGoAway();
  if (Flush()) Close("the server stops");
}

void H2Connection::CheckKeepalive() {
  keepalive_timer_ = 0;
  if (ping_outstanding_) {
    Close(absl::StrCat("no answer to a keepalive ping within ",
                       absl::FormatDuration(options_.keepalive_timeout)));
    return;
  }
  const absl::Duration quiet = Clock::Real().Now() - last_read_;
  if (quiet < options_.keepalive_time) {
    keepalive_timer_ =
        loop_.RunAfter(options_.keepalive_time - quiet, [this] { CheckKeepalive(); });
    return;
  }
  ping_outstanding_ = true;
  nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
  ScheduleFlush();
  keepalive_timer_ = loop_.RunAfter(options_.keepalive_timeout, [this] { CheckKeepalive(); });
}

void H2Connection::StartIdleTimer() {
  if (idle_timer_ != 0 || !calls_.empty()) return;
  idle_since_ = Clock::Real().Now();
  idle_timer_ = loop_.RunAfter(options_.idle_timeout, [this] { CheckIdle(); });
}

void H2Connection::CheckIdle() {
  idle_timer_ = 0;
  if (!calls_.empty()) return;  // re-armed when the last call ends
  const absl::Duration idle = Clock::Real().Now() - idle_since_;
  if (idle < options_.idle_timeout) {
    idle_timer_ = loop_.RunAfter(options_.idle_timeout - idle, [this] { CheckIdle(); });
    return;
  }
  GoAway("no call for a while");
}

void H2Connection::CancelTimers() {
  for (EventLoop::TimerId* timer :
       {&preface_timer_, &keepalive_timer_, &idle_timer_, &age_timer_, &goaway_timer_}) {
    if (*timer != 0) loop_.Cancel(*timer);
    *timer = 0;
  }
}

void H2Connection::Close(absl::string_view why) {
  if (closed_) return;
  closed_ = true;
  CancelTimers();
  if (handshaking_) {
    handshaking_ = false;
    if (options_.counters != nullptr) options_.counters->tls_handshakes.fetch_sub(1);
  }
  spdlog::debug("transport: connection {} closed: {}", peer_, std::string(why));
  loop_.Unwatch(fd_);
  if (options_.on_close != nullptr && *options_.on_close) (*options_.on_close)(fd_);
  close(fd_);
  std::map<int32_t, std::shared_ptr<H2Call>> calls;
  calls.swap(calls_);
  for (auto& [id, call] : calls) call->OnClosed(/*connection_gone=*/true);
  RunDeferred();
  outbox_.clear();
  on_closed_(this);
}

void H2Connection::OnEvents(uint32_t events) {
  if (closed_) return;
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    Close("the socket failed or hung up");
    return;
  }
  if (handshaking_ && !Handshake()) return;
  // TLS: a read may have waited for the socket to be writable, and records
  // already taken from the socket wait in OpenSSL.
  if ((events & (EPOLLIN | EPOLLRDHUP)) != 0 ||
      (tls_ != nullptr && ((events & EPOLLOUT) != 0 || tls_->pending()))) {
    ReadAll();
    if (closed_) return;
  }
  Flush();
}

ssize_t H2Connection::Receive(uint8_t* buffer, size_t size) {
  const ssize_t n = tls_ != nullptr ? tls_->Read(buffer, size) : recv(fd_, buffer, size, 0);
  if (n > 0) return n;
  if (n == 0) {
    Close("the client closed the connection");
    return 0;
  }
  if (errno == EINTR) return -1;
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    if (tls_ != nullptr && tls_->want_write()) WatchOutput(true);
    return 0;
  }
  Close(tls_ != nullptr && !tls_->error().empty() ? absl::StrCat("TLS: ", tls_->error())
                                                  : absl::StrCat("recv: ", std::strerror(errno)));
  return 0;
}

void H2Connection::ReadAll() {
  uint8_t buffer[64 * 1024];
  // At most a few reads per wake: a busy connection does not starve the
  // loop's others.
  for (int reads = 0; reads < 16; ++reads) {
    if (reads > 0) {
      // What the last read made nghttp2 say goes out before more is read: a
      // GOAWAY it queued for a flood (rapid resets) ends the reading only once
      // sent, and the flood's next megabyte would otherwise still be taken.
      Flush();
      if (closed_ || nghttp2_session_want_read(session_) == 0) return;
    }
    const ssize_t n = Receive(buffer, sizeof(buffer));
    if (n == 0) return;   // nothing more now, or closed
    if (n < 0) continue;  // interrupted
    last_read_ = Clock::Real().Now();
    in_session_ = true;
    const ssize_t taken = nghttp2_session_mem_recv(session_, buffer, static_cast<size_t>(n));
    in_session_ = false;
    RunDeferred();
    if (closed_) return;
    if (taken < 0) {
      // A protocol error: nghttp2 has queued a GOAWAY saying so; send it, end.
      spdlog::info("transport: client {} broke HTTP/2 ({}): closing its connection", peer_,
                   nghttp2_strerror(static_cast<int>(taken)));
      Flush();
      Close("protocol error");
      return;
    }
    // A TLS record is at most 16 KiB: read on while the socket may hold more.
    if (static_cast<size_t>(n) < sizeof(buffer) && tls_ == nullptr) return;
  }
  loop_.Post([this] { OnEvents(EPOLLIN); });  // more may wait: after the others
}

void H2Connection::Defer(absl::AnyInvocable<void()> task) { deferred_.push_back(std::move(task)); }

void H2Connection::RunDeferred() {
  while (!deferred_.empty()) {
    std::vector<absl::AnyInvocable<void()>> tasks;
    tasks.swap(deferred_);
    for (auto& task : tasks) task();
  }
}

void H2Connection::ScheduleFlush() {
  if (flush_scheduled_ || closed_) return;
  flush_scheduled_ = true;
  loop_.Post([this] {
    flush_scheduled_ = false;
    if (!closed_) Flush();
  });
}

bool H2Connection::Flush() {
  if (handshaking_) return true;  // the frames wait for the handshake
  for (;;) {
    if (!WriteOutbox()) {
      Close("write failed");
      return false;
    }
    if (!outbox_.empty()) break;  // the socket is full: EPOLLOUT says when
    if (nghttp2_session_want_write(session_) == 0) break;
    in_session_ = true;
    const int sent = nghttp2_session_send(session_);
    in_session_ = false;
    RunDeferred();
    if (closed_) return false;
    if (sent != 0) {
      Close(absl::StrCat("nghttp2: ", nghttp2_strerror(sent)));
      return false;
    }
    if (outbox_.empty()) break;
  }
  WatchOutput(!outbox_.empty() || (tls_ != nullptr && tls_->want_write()));
  if (outbox_.empty() && nghttp2_session_want_read(session_) == 0 &&
      nghttp2_session_want_write(session_) == 0) {
    Close("the session is over");
    return false;
  }
  return true;
}

bool H2Connection::WriteOutbox() {
  while (!outbox_.empty()) {
    iovec iov[IOV_MAX];
    int count = 0;
    size_t total = 0;
    for (size_t i = 0; i < outbox_.size() && count < IOV_MAX; ++i) {
      const Piece& piece = outbox_[i];
      const size_t skip = i == 0 ? outbox_front_ : 0;
      iov[count].iov_base = const_cast<char*>(piece.data() + skip);
      iov[count].iov_len = piece.size() - skip;
      total += iov[count].iov_len;
      ++count;
    }
    const ssize_t written = tls_ != nullptr ? tls_->Writev(iov, count) : writev(fd_, iov, count);
    if (written < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      if (errno == EINTR) continue;
      return false;
    }
    DropWritten(static_cast<size_t>(written));
    if (static_cast<size_t>(written) < total) return true;  // the socket is full
  }
  return true;
}

void H2Connection::DropWritten(size_t written) {
  size_t left = written;
  size_t done = 0;
  while (done < outbox_.size() && left > 0) {
    const size_t length = outbox_[done].size() - outbox_front_;
    if (left < length) {
      outbox_front_ += left;
      break;
    }
    left -= length;
    outbox_front_ = 0;
    ++done;
  }
  outbox_.erase(outbox_.begin(), outbox_.begin() + static_cast<std::ptrdiff_t>(done));
}

void H2Connection::WatchOutput(bool out) {
  if (out == want_out_) return;
  want_out_ = out;
  (void)loop_.Modify(fd_, EPOLLIN | EPOLLRDHUP | (out ? static_cast<uint32_t>(EPOLLOUT) : 0u),
                     this);
}

bool H2Connection::Handshake() {
  const TlsSocket::Progress progress = tls_->Handshake();
  if (progress == TlsSocket::Progress::kWantRead || progress == TlsSocket::Progress::kWantWrite) {
    WatchOutput(progress == TlsSocket::Progress::kWantWrite);
    return false;
  }
  handshaking_ = false;
  Counters* counters = options_.counters;
  if (counters != nullptr) counters->tls_handshakes.fetch_sub(1);
  if (progress == TlsSocket::Progress::kFailed) {
    if (counters != nullptr) {
      counters->tls_failed.fetch_add(1, std::memory_order_relaxed);
      int64_t suppressed = 0;
      if (counters->tls_log.Allow(Clock::Real().Now(), suppressed)) {
        spdlog::info("transport: TLS handshake with {} failed: {}{}", peer_, tls_->error(),
                     suppressed > 0 ? absl::StrCat(" (and ", suppressed, " more since)") : "");
      }
    }
    Close(absl::StrCat("TLS handshake: ", tls_->error()));
    return false;
  }
  spdlog::debug("transport: connection {}: {}", peer_, tls_->Describe());
  WatchOutput(false);
  return true;
}

void H2Connection::AppendOwned(const uint8_t* data, size_t length) {
  // Small pieces join the last owned one: fewer iovecs.
  if (!outbox_.empty() && outbox_.back().shared == nullptr) {
    outbox_.back().owned.append(reinterpret_cast<const char*>(data), length);
    return;
  }
  Piece piece;
  piece.owned.assign(reinterpret_cast<const char*>(data), length);
  outbox_.push_back(std::move(piece));
}

int H2Connection::OnFrameSent(nghttp2_session* session, const nghttp2_frame* frame,
                              void* user_data) {
  if (frame->hd.type == NGHTTP2_RST_STREAM &&
      frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) {
    Self(user_data).OnStreamRefused();
  }
  // A call's status is out (its trailers, or a Trailers-Only response) while
  // the client may still send: as gRPC's servers do, the stream is reset with
  // NO_ERROR (RFC 9113, 8.1: "the response is complete"), so it closes now
  // rather than when the client gets round to closing its side.
  if (frame->hd.type == NGHTTP2_HEADERS && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 &&
      nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

void H2Connection::OnStreamRefused() {
  Counters* counters = options_.counters;
  if (counters != nullptr) counters->streams_refused.fetch_add(1, std::memory_order_relaxed);
  // A client that raced our SETTINGS gets REFUSED_STREAM (it may retry). One
  // that goes on opening as many again ignores them: a flood, whose
  // connection is cut (a GOAWAY with ENHANCE_YOUR_CALM, nothing more read).
  if (++refused_ <= options_.max_concurrent_streams || cut_) return;
  cut_ = true;
  nghttp2_session_terminate_session(session_, NGHTTP2_ENHANCE_YOUR_CALM);
  if (counters == nullptr) return;
  counters->connections_cut.fetch_add(1, std::memory_order_relaxed);
  int64_t suppressed = 0;
  if (counters->cut_log.Allow(Clock::Real().Now(), suppressed)) {
    spdlog::warn(
        "transport: connection {} cut: {} streams refused past the {} it may hold at once "
        "(JAWLB_MAXSTREAMSPERCONNECTION): it ignores our SETTINGS{}",
        peer_, refused_, options_.max_concurrent_streams,
        suppressed > 0 ? absl::StrCat(" (and ", suppressed, " more connections since)") : "");
  }
}

H2Call* H2Connection::CallOf(int32_t stream_id) {
  // Set on the stream when its call was made (OnBeginHeaders): no lookup.
  return static_cast<H2Call*>(nghttp2_session_get_stream_user_data(session_, stream_id));
}

void H2Connection::OnRequest(H2Call& call) {
  std::shared_ptr<H2Call> shared = calls_.at(call.stream_id());
  if (absl::Status bad = call.CheckRequest(); !bad.ok()) {
    Defer([shared, bad] { shared->Finish(bad); });
    return;
  }
  auto method = methods_.find(call.method());
  if (method == methods_.end()) {
    Defer([shared] {
      shared->Finish(absl::UnimplementedError(absl::StrCat("unknown method ", shared->method())));
    });
    return;
  }
  const MethodHandler& handler = method->second;
  Defer([shared, &handler] { handler(shared); });
}

ssize_t H2Connection::OnSend(nghttp2_session* /*session*/, const uint8_t* data, size_t length,
                             int /*flags*/, void* user_data) {
  Self(user_data).AppendOwned(data, length);
  return static_cast<ssize_t>(length);
}

int H2Connection::OnSendData(nghttp2_session* /*session*/, nghttp2_frame* frame,
                             const uint8_t* header, size_t length, nghttp2_data_source* source,
                             void* user_data) {
  H2Connection& self = Self(user_data);
  auto* call = static_cast<H2Call*>(source->ptr);
  self.AppendOwned(header, 9);
  if (frame->data.padlen > 0) return NGHTTP2_ERR_CALLBACK_FAILURE;  // never asked for
  for (size_t left = length; left > 0;) {
    const H2Call::Span span = call->Front(left);
    Piece piece;
    piece.shared = *span.bytes;
    piece.offset = span.offset;
    piece.length = span.length;
    self.outbox_.push_back(std::move(piece));
    call->Sent(span.length);
    left -= span.length;
  }
  return 0;
}

int H2Connection::OnBeginHeaders(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                                 void* user_data) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  H2Connection& self = Self(user_data);
  // nghttp2 refuses streams past our SETTINGS_MAX_CONCURRENT_STREAMS itself,
  // even before the client acknowledges them; this holds if it ever did not.
  if (self.calls_.size() >= self.options_.max_concurrent_streams) {
    nghttp2_submit_rst_stream(self.session_, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                              NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  auto call = std::make_shared<H2Call>(self, self.loop_, self.shard_, frame->hd.stream_id,
                                       self.peer_, self.options_.max_message_bytes);
  nghttp2_session_set_stream_user_data(self.session_, frame->hd.stream_id, call.get());
  self.calls_.emplace(frame->hd.stream_id, std::move(call));
  return 0;
}

int H2Connection::OnHeader(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                           const uint8_t* name, size_t name_length, const uint8_t* value,
                           size_t value_length, uint8_t /*flags*/, void* user_data) {
  H2Call* call = Self(user_data).CallOf(frame->hd.stream_id);
  if (call == nullptr) return 0;  // trailers from the client, or a stream we refused
  if (!call->AddHeader({reinterpret_cast<const char*>(name), name_length},
                       {reinterpret_cast<const char*>(value), value_length})) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets the stream
  }
  return 0;
}

int H2Connection::OnFrameReceived(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                                  void* user_data) {
  H2Connection& self = Self(user_data);
  if (frame->hd.type == NGHTTP2_SETTINGS) self.settings_received_ = true;
  if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) {
    self.ping_outstanding_ = false;
  }
  H2Call* call = self.CallOf(frame->hd.stream_id);
  if (call == nullptr) return 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    ++self.calls_started_;
    self.OnRequest(*call);
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    call->OnEndStream();
  }
  return 0;
}

int H2Connection::OnDataChunk(nghttp2_session* /*session*/, uint8_t /*flags*/, int32_t stream_id,
                              const uint8_t* data, size_t length, void* user_data) {
  H2Call* call = Self(user_data).CallOf(stream_id);
  if (call != nullptr) call->OnData({reinterpret_cast<const char*>(data), length});
  return 0;
}

int H2Connection::OnStreamClose(nghttp2_session* /*session*/, int32_t stream_id,
                                uint32_t /*error_code*/, void* user_data) {
  H2Connection& self = Self(user_data);
  auto it = self.calls_.find(stream_id);
  if (it == self.calls_.end()) return 0;
  std::shared_ptr<H2Call> call = std::move(it->second);
  self.calls_.erase(it);
  call->OnClosed(/*connection_gone=*/false);
  self.StartIdleTimer();
  return 0;
}

}  // namespace jawlb::transport
