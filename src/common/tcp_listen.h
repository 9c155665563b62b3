// TCP listening sockets as jawlb's ports want them: non-blocking, close-on-exec,
// and for "every interface" one IPv6 socket that takes IPv4 too (dual stack),
// falling back to IPv4 where the host has no IPv6.
//
// Threading: free functions; thread-safe.
#ifndef JAWLB_COMMON_TCP_LISTEN_H_
#define JAWLB_COMMON_TCP_LISTEN_H_

#include <string>

#include "absl/status/statusor.h"

namespace jawlb {

// A socket listening on `host` ("" = every interface; else an IP literal) and
// `port` (0 = any free port). Unavailable (with the system's reason) when it
// cannot be made; InvalidArgument for a host that is not an IP literal.
absl::StatusOr<int> ListenTcp(const std::string& host, int port, int backlog = 1024);

// The local port of socket `fd` (0 when it has none).
int LocalPort(int fd);

}  // namespace jawlb

#endif  // JAWLB_COMMON_TCP_LISTEN_H_
