// gRPC's length-prefixed messages over HTTP/2 DATA frames (PROTOCOL-HTTP2.md:
// a 1-byte compressed flag, a 4-byte big-endian length, then the message).
//
// MessageReader reassembles a call's messages from whatever pieces the DATA
// frames bring; it holds at most one unfinished message and refuses one over
// its limit from its prefix, before buffering any of it. FrameMessage() writes the
// prefix; a message framed once can be sent on any number of calls.
//
// Compression: jawlb's clients do not compress (C-core, grpc-go and grpc-js
// send uncompressed unless told otherwise), so a message with the compressed
// flag is refused (INTERNAL, as gRPC's servers answer an unsupported
// encoding); the server never sets grpc-encoding.
//
// Threading: MessageReader is thread-compatible; FrameMessage is pure.
#ifndef JAWLB_TRANSPORT_GRPC_MESSAGE_H_
#define JAWLB_TRANSPORT_GRPC_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace jawlb::transport {

inline constexpr size_t kMessagePrefixBytes = 5;

// `message` with its 5-byte prefix.
std::string FrameMessage(absl::string_view message);
// Appends the prefix of an uncompressed message of `length` bytes (for a
// message written in pieces).
void AppendMessagePrefix(std::string& out, size_t length);

class MessageReader {
 public:
  // Messages over `max_bytes` are refused.
  explicit MessageReader(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Takes the next piece of the call's DATA and appends the messages it
  // completes to `messages` (a DATA frame holds at most a frame's worth of
  // them). Errors (the call must end with them; the reader is then spent):
  // RESOURCE_EXHAUSTED for a message over the limit, INTERNAL for a
  // compressed one or a flag that is neither 0 nor 1.
  absl::Status Add(absl::string_view data, std::vector<std::string>& messages);
  // True when bytes of an unfinished message are held (at the end of the
  // client's stream: a truncated message).
  bool partial() const { return !prefix_.empty() || expected_.has_value(); }

 private:
  const size_t max_bytes_;
  std::string prefix_;                // up to 5 bytes of the next prefix
  std::optional<uint32_t> expected_;  // the length of the message being assembled
  std::string buffer_;                // its bytes so far
  bool failed_ = false;
};

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_GRPC_MESSAGE_H_
