#include "transport/h2_call.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

#include "transport/h2_connection.h"

namespace jawlb::transport {
namespace {

// grpc-message: percent-encoded, as PROTOCOL-HTTP2.md says (bytes outside
// printable ASCII, and '%').
std::string PercentEncode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte > 0x7E || byte == '%') {
      out.push_back('%');
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

nghttp2_nv Header(absl::string_view name, absl::string_view value) {
  return nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
                    const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())),
                    name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

ssize_t ReadData(nghttp2_session* /*session*/, int32_t /*stream_id*/, uint8_t* /*buffer*/,
                 size_t length, uint32_t* flags, nghttp2_data_source* source, void* /*user_data*/) {
  auto* call = static_cast<H2Call*>(source->ptr);
  const std::optional<H2Call::Chunk> chunk = call->NextChunk(length);
  if (!chunk.has_value()) return NGHTTP2_ERR_DEFERRED;
  if (chunk->eof) {
    *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
    call->SubmitTrailers();
    return 0;
  }
  *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  return static_cast<ssize_t>(chunk->length);
}

}  // namespace

H2Call::H2Call(H2Connection& connection, EventLoop& loop, size_t shard, int32_t stream_id,
               std::string peer, size_t max_message_bytes)
    : connection_(&connection),
      loop_(loop),
      shard_(shard),
      stream_id_(stream_id),
      peer_(std::move(peer)),
      reader_(max_message_bytes) {}

bool H2Call::AddHeader(absl::string_view name, absl::string_view value) {
  header_bytes_ += name.size() + value.size();
  if (header_bytes_ > kMaxHeaderBytes) return false;
  if (name == ":path") {
    path_ = std::string(value);
  } else if (name == ":method") {
    method_ = std::string(value);
  } else if (name == "content-type") {
    content_type_ = std::string(value);
  } else if (name == "te") {
    te_ = std::string(value);
  }
  return true;
}

absl::Status H2Call::CheckRequest() const {
  if (method_ != "POST") {
    return absl::UnimplementedError(absl::StrCat("method ", method_, ": gRPC calls are POSTs"));
  }
  if (content_type_ != "application/grpc" &&
      !absl::StartsWith(content_type_, "application/grpc+") &&
      !absl::StartsWith(content_type_, "application/grpc;")) {
    return absl::InvalidArgumentError(
        absl::StrCat("content-type \"", content_type_, "\" is not application/grpc"));
  }
  if (te_ != "trailers") return absl::InvalidArgumentError("te: trailers is required");
  return absl::OkStatus();
}

void H2Call::Start(std::shared_ptr<Handler> handler) {
  handler_ = std::move(handler);
  std::vector<std::string> early = std::move(early_);
  early_.clear();
  for (std::string& message : early) {
    Deliver([this, message = std::move(message)]() mutable {
      if (handler_ != nullptr) handler_->OnMessage(std::move(message));
    });
  }
  if (half_closed_before_start_) {
    Deliver([this] {
      if (handler_ != nullptr) handler_->OnHalfClose();
    });
  }
  if (closed_) {
    Deliver([this] {
      if (handler_ != nullptr) std::exchange(handler_, nullptr)->OnDone(true);
    });
  }
}

void H2Call::Post(absl::AnyInvocable<void()> task) {
  loop_.Post([self = shared_from_this(), task = std::move(task)]() mutable { task(); });
}

void H2Call::RunAfter(absl::Duration delay, absl::AnyInvocable<void()> task) {
  if (!loop_.InLoop()) {
    Post([this, delay, task = std::move(task)]() mutable { RunAfter(delay, std::move(task)); });
    return;
  }
  if (closed_ || timer_ != 0) return;  // over, or one already set
  // The timer holds the call weakly and goes with it (OnClosed): an ended
  // call is freed at once, not when its first-message deadline comes.
  timer_ = loop_.RunAfter(delay, [weak = weak_from_this(), task = std::move(task)]() mutable {
    std::shared_ptr<H2Call> self = weak.lock();
    if (self == nullptr) return;
    self->timer_ = 0;
    task();
  });
}

void H2Call::Write(WireMessage message) {
  if (!loop_.InLoop()) {
    Post([this, message = std::move(message)]() mutable { Write(std::move(message)); });
    return;
  }
  if (closed_ || connection_ == nullptr || finish_.has_value()) {
    Deliver([this] {
      if (handler_ != nullptr) handler_->OnWriteDone(false);
    });
    return;
  }
  in_flight_ = std::move(message);
  piece_ = offset_ = sent_ = 0;
  if (!headers_sent_) {
    SubmitHeaders();
  } else {
    nghttp2_session_resume_data(connection_->session(), stream_id_);
  }
  connection_->ScheduleFlush();
}

void H2Call::Finish(absl::Status status) {
  if (!loop_.InLoop()) {
    Post([this, status = std::move(status)]() mutable { Finish(std::move(status)); });
    return;
  }
  if (finish_.has_value() || closed_ || connection_ == nullptr) return;
  finish_ = std::move(status);
  if (!headers_sent_) {
    // Trailers-Only: one HEADERS frame ending the stream.
    const std::string code = absl::StrCat(static_cast<int>(finish_->code()));
    const std::string message = PercentEncode(finish_->message());
    std::vector<nghttp2_nv> headers = {Header(":status", "200"),
                                       Header("content-type", "application/grpc"),
                                       Header("grpc-status", code)};
    if (!message.empty()) headers.push_back(Header("grpc-message", message));
    headers_sent_ = trailers_sent_ = true;
    nghttp2_submit_response(connection_->session(), stream_id_, headers.data(), headers.size(),
                            nullptr);
  } else {
    nghttp2_session_resume_data(connection_->session(), stream_id_);
  }
  connection_->ScheduleFlush();
}

void H2Call::SubmitHeaders() {
  headers_sent_ = true;
  const nghttp2_nv headers[] = {Header(":status", "200"),
                                Header("content-type", "application/grpc")};
  nghttp2_data_provider provider{};
  provider.source.ptr = this;
  provider.read_callback = ReadData;
  nghttp2_submit_response(connection_->session(), stream_id_, headers, 2, &provider);
}

std::optional<H2Call::Chunk> H2Call::NextChunk(size_t length) {
  // One DATA frame may span the message's pieces (the connection sends them
  // as they are).
  if (!in_flight_.empty() && sent_ < in_flight_.size()) {
    return Chunk{std::min(length, in_flight_.size() - sent_), false};
  }
  if (finish_.has_value() && !trailers_sent_) return Chunk{0, true};
  return std::nullopt;
}

H2Call::Span H2Call::Front(size_t length) const {
  const SharedBytes& piece = in_flight_.pieces()[piece_];
  return Span{&piece, offset_, std::min(length, piece->size() - offset_)};
}

void H2Call::Sent(size_t length) {
  offset_ += length;
  sent_ += length;
  if (offset_ == in_flight_.pieces()[piece_]->size()) {
    ++piece_;
    offset_ = 0;
  }
  if (sent_ < in_flight_.size()) return;
  in_flight_ = WireMessage();
  piece_ = offset_ = sent_ = 0;
  Deliver([this] {
    if (handler_ != nullptr) handler_->OnWriteDone(true);
  });
}

void H2Call::SubmitTrailers() {
  trailers_sent_ = true;
  const std::string code = absl::StrCat(static_cast<int>(finish_->code()));
  const std::string message = PercentEncode(finish_->message());
  std::vector<nghttp2_nv> trailers = {Header("grpc-status", code)};
  if (!message.empty()) trailers.push_back(Header("grpc-message", message));
  nghttp2_submit_trailer(connection_->session(), stream_id_, trailers.data(), trailers.size());
}

void H2Call::OnData(absl::string_view data) {
  if (finish_.has_value()) return;  // a refused call: the rest is not read
  std::vector<std::string> messages;
  const absl::Status status = reader_.Add(data, messages);
  for (std::string& message : messages) {
    if (handler_ == nullptr) {
      early_.push_back(std::move(message));
      continue;
    }
    Deliver([this, message = std::move(message)]() mutable {
      if (handler_ != nullptr) handler_->OnMessage(std::move(message));
    });
  }
  if (!status.ok()) Deliver([this, status] { Finish(status); });
}

void H2Call::OnEndStream() {
  if (reader_.partial()) {
    Deliver([this] { Finish(absl::InternalError("the client's stream ended inside a message")); });
    return;
  }
  if (handler_ == nullptr) {
    half_closed_before_start_ = true;
    return;
  }
  Deliver([this] {
    if (handler_ != nullptr) handler_->OnHalfClose();
  });
}

void H2Call::OnClosed(bool connection_gone) {
  if (closed_) return;
  closed_ = true;
  if (timer_ != 0) loop_.Cancel(std::exchange(timer_, 0));
  const bool cancelled = connection_gone || !trailers_sent_;
  if (connection_gone) connection_ = nullptr;
  if (handler_ == nullptr) return;  // Start() tells it, if it comes
  const bool write_pending = !in_flight_.empty();
  in_flight_ = WireMessage();
  Deliver([this, cancelled, write_pending] {
    if (handler_ == nullptr) return;
    std::shared_ptr<Handler> handler = std::exchange(handler_, nullptr);
    if (write_pending) handler->OnWriteDone(false);
    handler->OnDone(cancelled);
  });
}

void H2Call::Deliver(absl::AnyInvocable<void()> task) {
  auto run = [self = shared_from_this(), task = std::move(task)]() mutable { task(); };
  if (connection_ != nullptr) {
    connection_->Defer(std::move(run));
  } else {
    loop_.Post(std::move(run));
  }
}

}  // namespace jawlb::transport
