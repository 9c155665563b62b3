// AdsCursor: one ADS stream's protocol state (state of the world), decided
// from plain values. Per resource type: the names the client subscribed to,
// what it was last sent, whether it acknowledged or refused it, and whether a
// response is owed. The stream's plumbing tells it each request and asks
// Next() whenever something may have changed (a request, a new list, a write
// done); Next() says which type to answer, if any.
//
// The rules (../shared/XDS.md, measured on real clients):
// - Every request with an empty nonce is answered, whatever version it carries:
//   the first of a type on a stream, and a client's re-subscription after it
//   reconnected (it re-sends its old version; an unchanged version is no
//   reason to stay silent).
// - A request naming the last response's nonce is an ACK (no error_detail) or
//   a NACK (error_detail): recorded; answered only when its names differ from
//   what was answered. A refused response is never re-sent: only new content
//   (or new names) is.
// - A request with an older nonce is superseded by a response in flight and
//   ignored, as the protocol says.
// - Content that changed for subscribed names (the caller's fingerprint of
//   what it would send) is pushed. At most one response is in flight; when it
//   completes the newest content is sent, never a queue (latest wins).
// - Versions and nonces are `<prefix>-<n>` with n counting this stream's
//   responses: unique per stream, and, with a prefix naming the process
//   (host, pid, start), not repeated across restarts or replicas (but
//   by a 1 in 2^20 chance).
//
// Threading: a value; the stream guards it with its lock.
#ifndef JAWLB_XDS_ADS_CURSOR_H_
#define JAWLB_XDS_ADS_CURSOR_H_

#include <array>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jawlb::xds {

class AdsCursor {
 public:
  // In the order clients ask for them (and the order they are answered in).
  enum class Type { kListener = 0, kRoute = 1, kCluster = 2, kEndpoints = 3 };
  static constexpr size_t kTypes = 4;
  // The type of `type_url`; nullopt for one jawlb does not serve.
  static std::optional<Type> TypeOf(absl::string_view type_url);
  static const char* UrlOf(Type type);

  struct Request {
    Type type = Type::kListener;
    std::vector<std::string> names;
    std::string version;  // the client's last accepted ("" none)
    std::string nonce;    // of the response it answers ("" none)
    absl::Status error;   // a NACK's error_detail (OK: none)
  };
  // What a request was.
  enum class Kind { kSubscribe, kAck, kNack, kStale };

  explicit AdsCursor(std::string version_prefix) : prefix_(std::move(version_prefix)) {}

  Kind OnRequest(const Request& request);

  // The names subscribed to for `type` now.
  const std::set<std::string>& names(Type type) const { return state(type).names; }

  // A response to send, or nullopt. `fingerprints[type]`: what the caller
  // would send for the type's names now, summed up (any change: a new value).
  struct Response {
    Type type = Type::kListener;
    std::vector<std::string> names;  // every subscribed name, in order
    std::string version;
    std::string nonce;
  };
  std::optional<Response> Next(const std::array<uint64_t, kTypes>& fingerprints);
  // The response in flight was written.
  void WriteDone() { write_in_flight_ = false; }

  // For operators: the last version the client accepted, and its last NACK.
  struct Seen {
    std::string acked_version;
    std::string nack;  // the error of the last NACK ("" none since the last ACK)
    uint64_t acks = 0;
    uint64_t nacks = 0;
  };
  const Seen& seen(Type type) const { return state(type).seen; }

 private:
  struct TypeState {
    std::set<std::string> names;
    bool owed = false;      // a request must be answered
    bool sent_any = false;  // a response went out
    std::set<std::string> sent_names;
    uint64_t sent_fingerprint = 0;
    std::string last_nonce;
    Seen seen;
  };
  TypeState& state(Type type) { return types_[static_cast<size_t>(type)]; }
  const TypeState& state(Type type) const { return types_[static_cast<size_t>(type)]; }

  const std::string prefix_;
  std::array<TypeState, kTypes> types_;
  bool write_in_flight_ = false;
  uint64_t responses_ = 0;
};

}  // namespace jawlb::xds

#endif  // JAWLB_XDS_ADS_CURSOR_H_
