#include "discovery/backend.h"

#include <cstring>

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jawlb::discovery {
namespace {

constexpr unsigned char kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// Why a client cannot send calls to `ip` (4 or 16 bytes), or null when it can.
const char* NotUnicast(const std::string& ip) {
  const auto byte = [&ip](size_t i) { return static_cast<unsigned char>(ip[i]); };
  if (ip.size() == 4) {
    if (byte(0) == 0) return "0.0.0.0/8 is not an address to call (\"this network\")";
    if (byte(0) >= 224 && byte(0) <= 239) return "a multicast address is not a backend";
    if (ip == "\xff\xff\xff\xff") return "the broadcast address is not a backend";
    return nullptr;
  }
  if (ip == std::string(16, '\0')) return ":: is not an address to call";
  if (byte(0) == 0xff) return "a multicast address is not a backend";
  return nullptr;
}

}  // namespace

std::string Backend::ToString() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (ip.size() == 4) {
    inet_ntop(AF_INET, ip.data(), text, sizeof(text));
    return absl::StrCat(text, ":", port);
  }
  if (ip.size() == 16) {
    inet_ntop(AF_INET6, ip.data(), text, sizeof(text));
    return absl::StrCat("[", text, "]:", port);
  }
  return absl::StrCat("<invalid ", ip.size(), "-byte address>:", port);
}

absl::StatusOr<Backend> MakeBackend(absl::string_view ip, uint16_t port) {
  const std::string host(ip);
  unsigned char bytes[16];
  if (inet_pton(AF_INET, host.c_str(), bytes) == 1) {
    return Backend{std::string(reinterpret_cast<char*>(bytes), 4), port};
  }
  if (inet_pton(AF_INET6, host.c_str(), bytes) == 1) {
    // C-core would dial "::ffff:a.b.c.d" literally; send such addresses as IPv4.
    if (std::memcmp(bytes, kV4MappedPrefix, sizeof(kV4MappedPrefix)) == 0) {
      return Backend{std::string(reinterpret_cast<char*>(bytes) + 12, 4), port};
    }
    return Backend{std::string(reinterpret_cast<char*>(bytes), 16), port};
  }
  return absl::InvalidArgumentError(absl::StrCat("\"", ip, "\" is not an IPv4 or IPv6 address"));
}

absl::StatusOr<Backend> ParseBackend(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("endpoint \"", text, "\": ", why));
  };
  absl::string_view host;
  absl::string_view port_text;
  if (absl::StartsWith(text, "[")) {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return invalid("missing ']' after IPv6 address");
    host = text.substr(1, close - 1);
    if (text.substr(close + 1, 1) != ":") return invalid("want [ipv6]:port");
    port_text = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return invalid("want ip:port, found no port");
    host = text.substr(0, colon);
    if (host.find(':') != absl::string_view::npos) {
      return invalid("IPv6 addresses need brackets: [ipv6]:port");
    }
    port_text = text.substr(colon + 1);
  }
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
    return invalid(absl::StrCat("port \"", port_text, "\" is not a number from 1 to 65535"));
  }
  absl::StatusOr<Backend> backend = MakeBackend(host, static_cast<uint16_t>(port));
  if (!backend.ok()) return invalid(backend.status().message());
  if (const char* why = NotUnicast(backend->ip); why != nullptr) return invalid(why);
  return backend;
}

}  // namespace jawlb::discovery
