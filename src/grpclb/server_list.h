// ServerList encoding: from a BackendSet to the exact LoadBalanceResponse bytes
// a grpclb client receives, and the InitialLoadBalanceResponse.
//
// Rules every grpclb client depends on (see README.md, "What clients get"):
// - IPv4 goes out as 4 bytes, IPv6 as 16, never IPv4-mapped IPv6;
// - never an empty ServerList: zero backends become one drop entry with the
//   token kNoBackendsToken, so clients fail RPCs fast with UNAVAILABLE.
//
// Threading: pure functions; thread-safe.
#ifndef JAWLB_GRPCLB_SERVER_LIST_H_
#define JAWLB_GRPCLB_SERVER_LIST_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "grpc/lb/v1/load_balancer.pb.h"
#include "grpcpp/support/byte_buffer.h"

#include "discovery/backend_set.h"

namespace jawlb::grpclb {

// The load_balance_token of the drop entry sent when a service has no backends.
inline constexpr char kNoBackendsToken[] = "jawlb-no-backends";
// The load_balance_token of drop entries shedding load (JAWLB_MAXRPSPERBACKEND).
inline constexpr char kOverloadToken[] = "jawlb-overload";

// Every server entry carries a load_balance_token, which clients send to the
// backend as `lb-token` metadata on each call routed by it:
//   jl1.<replica>.<client>.<backend>
// replica: 4 base-32 characters naming the jawlb process (logged at start-up,
// on the state page); client: the client's number on that replica in base 32,
// or 0 in a list shared by every client (JAWLB_MAXSERVERS=0); backend: 4 base-32
// characters of a stable hash of its ip:port (also on the state page). At most
// 30 characters, all printable.
inline constexpr char kTokenVersion[] = "jl1";
// "jl1.<replica>.<client>." — what precedes the backend's tag.
std::string TokenPrefix(absl::string_view replica, uint64_t client);
// The backend's 4-character tag.
std::string BackendTag(const discovery::Backend& backend);
// Base 32 (digits and lower-case letters without i, l, o, u) of `value`,
// `width` characters (0: as many as needed).
std::string Base32(uint64_t value, int width = 0);

// The most entries weights may take in a list of n backends:
// WeightedEntryCap(n) = max(kMaxWeightedEntries, kMaxWeightedEntriesPerBackend
// × n). Weights are reduced by their greatest common divisor; above the cap
// they are scaled down to fit, each backend keeping at least one entry (the
// Hub logs when that happens). So weights always have an effect, however many
// backends there are.
inline constexpr size_t kMaxWeightedEntries = 1000;
inline constexpr size_t kMaxWeightedEntriesPerBackend = 2;
size_t WeightedEntryCap(size_t backends);
// The entries `backends`' weights ask for (reduced by their common divisor;
// the backend count without weights).
size_t WeightedEntries(const discovery::BackendSet& backends);

// The order of entries for `backends` by index: each once in order, or with
// weights, each its weight's number of times, spread evenly through the list,
// at most `max_entries` (or one each) long. O(entries log entries).
std::vector<size_t> WeightedOrder(const discovery::BackendSet& backends, size_t max_entries);

// `backends`, or when their list would encode to more than `max_bytes` (with
// these tokens and drops), the most of them that fit, chosen by a hash of each
// address (the same ones from one change to the next).
discovery::BackendSet FitToBytes(const discovery::BackendSet& backends,
                                 absl::string_view token_prefix, int drop_percent,
                                 size_t max_bytes);

// LoadBalanceResponse{server_list} for `backends`, in their order (weighted
// backends as often as WeightedOrder says: every grpclb client treats
// duplicates as weights), each with the token `token_prefix` + its tag (no
// tokens when the prefix is empty).
// With `drop_percent` > 0, drop entries with the token kOverloadToken make up
// that share of the list (balancer::PlanDrops: backends repeated in order, the
// drops spread evenly among them).
grpc::lb::v1::LoadBalanceResponse MakeServerListResponse(const discovery::BackendSet& backends,
                                                         absl::string_view token_prefix = "",
                                                         int drop_percent = 0);

// LoadBalanceResponse{initial_response} asking for ClientStats every `interval`
// (zero: never).
grpc::lb::v1::LoadBalanceResponse MakeInitialResponse(absl::Duration client_stats_interval);

// `message` serialized into a single refcounted slice.
grpc::ByteBuffer Serialize(const google::protobuf::MessageLite& message);

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_SERVER_LIST_H_
