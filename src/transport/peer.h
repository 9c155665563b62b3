// How the transport names a client: gRPC's peer strings ("ipv4:10.1.2.3:40000",
// "ipv6:[fd00::1]:40000"), so logs, limits and /debug/state read the same
// whichever server carries the call.
//
// Threading: pure functions; thread-safe.
#ifndef JAWLB_TRANSPORT_PEER_H_
#define JAWLB_TRANSPORT_PEER_H_

#include <string>

#include <sys/socket.h>

#include "absl/strings/string_view.h"

namespace jawlb::transport {

// A socket address as a peer string ("ipv4:…" for IPv4 clients of a
// dual-stack socket too); "" for another family.
std::string FormatPeer(const sockaddr_storage& address);

// The client's address without the port: "ipv4:10.1.2.3:40000" →
// "ipv4:10.1.2.3"; "ipv6:[fd00::1]:40000" → "ipv6:[fd00::1]"; anything
// without a port as it is.
std::string PeerAddress(absl::string_view peer);

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_PEER_H_
