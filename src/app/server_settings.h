// How the server of the gRPC port is set up (gRPC's channel arguments, or
// jawlb's HTTP/2 server's options: for grpclb clients and the limits), how many connections the
// file limit leaves room for, and the tag naming this process in load_balance_tokens. Composition
// helpers of the App.
//
// Threading: call on the main thread, at start-up.
#ifndef JAWLB_APP_SERVER_SETTINGS_H_
#define JAWLB_APP_SERVER_SETTINGS_H_

#include <cstddef>
#include <string>

#include "grpcpp/grpcpp.h"

#include "config/config.h"
#include "transport/h2_server.h"

namespace jawlb::app {

// Sets `builder`'s channel arguments from `config`: pings, keepalive, stream
// and message bounds, idle and maximum connection age.
void ConfigureServer(const config::Config& config, grpc::ServerBuilder& builder);

// jawlb's HTTP/2 server set up from `config` as ConfigureServer() sets up
// gRPC's: the same pings, keepalive, bounds, idle and maximum age.
transport::H2Server::Options H2Options(const config::Config& config);

// Raises the soft file descriptor limit to the hard one (often 1,024 against
// 524,288 or more), and returns `wanted` connections (0: as many as there is
// room for), or fewer if the limit leaves less room: 320 descriptors stay for
// everything else (the admin port's 64 connections, the API server, health
// checks, files).
size_t ConnectionsWithinFileLimit(size_t wanted);

// 4 base-32 characters naming this process: its host name, pid and start time.
std::string MakeReplicaTag();

}  // namespace jawlb::app

#endif  // JAWLB_APP_SERVER_SETTINGS_H_
