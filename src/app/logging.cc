#include "app/logging.h"

#include <memory>

#include "spdlog/pattern_formatter.h"
#include "spdlog/spdlog.h"

#include "admin/json.h"

namespace jawlb::app {
namespace {

// The most of one message a log line holds: the rest is said as a count.
constexpr size_t kMaxMessageBytes = 4096;

// The length of the valid UTF-8 sequence starting at text[i] (2 to 4), or 0.
size_t Utf8SequenceAt(absl::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  if (lead >= 0xe0 && lead <= 0xef) length = 3;
  if (lead >= 0xf0 && lead <= 0xf4) length = 4;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xc0) != 0x80) return 0;
  }
  // Overlong forms, surrogates and code points past U+10FFFF.
  if ((lead == 0xe0 && byte(i + 1) < 0xa0) || (lead == 0xed && byte(i + 1) > 0x9f) ||
      (lead == 0xf0 && byte(i + 1) < 0x90) || (lead == 0xf4 && byte(i + 1) > 0x8f)) {
    return 0;
  }
  return length;
}

}  // namespace

std::string EscapeLogMessage(absl::string_view message) {
  static constexpr char kHex[] = "0123456789abcdef";
  const absl::string_view text = message.substr(0, kMaxMessageBytes);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (size_t length = c >= 0x80 ? Utf8SequenceAt(text, i) : 0; length > 0) {
      out.append(text.data() + i, length);
      i += length;
    } else {  // other control characters, DEL, bytes that are not UTF-8
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
      ++i;
    }
  }
  if (message.size() > kMaxMessageBytes) {
    out += " ...(" + std::to_string(message.size() - kMaxMessageBytes) + " bytes more)";
  }
  return out;
}

namespace {

// %* in the pattern: the message escaped (EscapeLogMessage), and for JSON
// quoted as a string's content.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  explicit EscapedMessage(bool json) : json_(json) {}
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        EscapeLogMessage(absl::string_view(msg.payload.data(), msg.payload.size()));
    if (!json_) {
      dest.append(escaped.data(), escaped.data() + escaped.size());
      return;
    }
    // Escaped text is valid UTF-8 without control characters; JSON needs only
    // its quotes and backslashes escaped.
    const std::string quoted = admin::JsonQuote(escaped);
    dest.append(quoted.data() + 1, quoted.data() + quoted.size() - 1);  // without the quotes
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>(json_);
  }

 private:
  const bool json_;
};

}  // namespace

void ConfigureLogging(const std::string& level, config::LogFormat format) {
  spdlog::set_level(spdlog::level::from_str(level));
  const bool json = format == config::LogFormat::kJson;
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessage>('*', json).set_pattern(
      json ? R"({"time":"%Y-%m-%dT%H:%M:%S.%f%z","level":"%l","msg":"%*"})"
           : "[%Y-%m-%d %H:%M:%S.%e] [%l] %*");
  spdlog::set_formatter(std::move(formatter));
}

}  // namespace jawlb::app
