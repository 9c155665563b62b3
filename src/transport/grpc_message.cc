#include "transport/grpc_message.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace jawlb::transport {

void AppendMessagePrefix(std::string& out, size_t length) {
  const auto size = static_cast<uint32_t>(length);
  out.push_back('\0');  // not compressed
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((size >> shift) & 0xFF));
  }
}

std::string FrameMessage(absl::string_view message) {
  std::string framed;
  framed.reserve(kMessagePrefixBytes + message.size());
  AppendMessagePrefix(framed, message.size());
  framed.append(message.data(), message.size());
  return framed;
}

absl::Status MessageReader::Add(absl::string_view data, std::vector<std::string>& messages) {
  if (failed_) return absl::InternalError("the call's messages were already refused");
  while (!data.empty()) {
    if (!expected_.has_value()) {
      const size_t take = std::min(kMessagePrefixBytes - prefix_.size(), data.size());
      prefix_.append(data.data(), take);
      data.remove_prefix(take);
      if (prefix_.size() < kMessagePrefixBytes) break;
      const auto flag = static_cast<uint8_t>(prefix_[0]);
      uint32_t length = 0;
      for (size_t i = 1; i < kMessagePrefixBytes; ++i) {
        length = length << 8 | static_cast<uint8_t>(prefix_[i]);
      }
      prefix_.clear();
      if (flag == 1) {
        failed_ = true;
        return absl::InternalError(
            "a compressed message, and no grpc-encoding is accepted here (send uncompressed)");
      }
      if (flag != 0) {
        failed_ = true;
        return absl::InternalError(
            absl::StrCat("a message prefix with flag ", flag, " (only 0 and 1 exist)"));
      }
      if (length > max_bytes_) {
        failed_ = true;
        return absl::ResourceExhaustedError(
            absl::StrCat("a message of ", length, " bytes; at most ", max_bytes_, " are taken"));
      }
      expected_ = length;
      buffer_.reserve(length);
    }
    const size_t take = std::min<size_t>(*expected_ - buffer_.size(), data.size());
    buffer_.append(data.data(), take);
    data.remove_prefix(take);
    if (buffer_.size() == *expected_) {
      messages.push_back(std::move(buffer_));
      buffer_ = std::string();
      expected_.reset();
    }
  }
  return absl::OkStatus();
}

}  // namespace jawlb::transport
