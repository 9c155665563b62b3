// CutConnection: ends a client's TCP connection under gRPC's feet, for a
// connection that breaks the protocol in a way gRPC 1.51's transport cannot
// stop by itself: a client that never acknowledges our HTTP/2 SETTINGS is not
// bound by SETTINGS_MAX_CONCURRENT_STREAMS there, and opens streams as fast as
// it can send HEADERS frames (~16 KiB each). The first stream over
// JAWLB_MAXSTREAMSPERCONNECTION shows such a client (one that acknowledged
// would have been stopped by the transport), and cutting its connection makes
// gRPC drop every stream on it at once and read no more of its frames.
//
// How: the socket whose peer is the connection's address is found among the
// process's descriptors (/proc/self/fd) and shut down (shutdown(2): gRPC still
// owns and closes the descriptor). That walks every descriptor, so it is for
// offenders only, once per connection.
//
// Threading: thread-safe (no state).
#ifndef JAWLB_GRPCLB_CONNECTION_CUTTER_H_
#define JAWLB_GRPCLB_CONNECTION_CUTTER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace jawlb::grpclb {

// Shuts down the connection gRPC names `peer` ("ipv4:10.1.2.3:40000",
// "ipv6:[fd00::1]:40000") with local port `local_port`. NotFound when no such
// socket is open (it closed already), InvalidArgument for a peer string of
// another form.
absl::Status CutConnection(absl::string_view peer, int local_port);

}  // namespace jawlb::grpclb

#endif  // JAWLB_GRPCLB_CONNECTION_CUTTER_H_
