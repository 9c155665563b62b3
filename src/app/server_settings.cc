#include "app/server_settings.h"

#include <sys/resource.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"
#include "common/stable_hash.h"
#include "grpclb/server_list.h"

namespace jawlb::app {
namespace {

// The largest message a client may send (LoadBalanceRequest, health and
// reflection requests).
constexpr int kMaxRequestBytes = 64 * 1024;

// How long a client connection without any stream stays open.
constexpr absl::Duration kMaxConnectionIdle = absl::Minutes(2);

}  // namespace

void ConfigureServer(const config::Config& config, grpc::ServerBuilder& builder) {
  // grpclb clients keep one idle stream open and ping it (grpc-go every 20 s even
  // with no call active). gRPC's default policy (5 min, 2 strikes) would end such
  // connections with too_many_pings, so pings are never held against a client.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // A connection may carry several BalanceLoad streams (a process with many
  // channels sharing one connection), but not without bound: each costs ~16 KiB.
  // Advertised in SETTINGS; the service also enforces it (StreamLimits), since
  // gRPC applies it only once a client acknowledges our SETTINGS.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             static_cast<int>(config.max_streams_per_connection));
  // What clients send is small: an initial request (a name under 256 bytes)
  // and load reports. gRPC's default would buffer 4 MiB per message.
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  // A connection with no stream serves no grpclb client (each holds one for
  // its life): closed after a while, so idle connections cannot pile up.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                             static_cast<int>(absl::ToInt64Milliseconds(kMaxConnectionIdle)));
  // Find clients that vanished without closing (node lost, network cut) so their
  // streams do not linger: ping every 30 s, give up after 10 s without an answer.
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  // grpclb clients stay with the first balancer they reach: a maximum age (gRPC
  // adds ±10% jitter) makes them re-resolve and spread over replicas, new ones
  // included. Hitless: a client keeps its list while it reconnects.
  if (config.max_connection_age > absl::ZeroDuration()) {
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age)));
    builder.AddChannelArgument(
        GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
        static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age_grace)));
  }
}

transport::H2Server::Options H2Options(const config::Config& config) {
  // What ConfigureServer() says of each, the same here: pings from clients
  // are always allowed (the connection answers every one and holds none
  // against it); streams and messages bounded; idle connections closed;
  // vanished clients found by our own pings; the maximum age with ±10% jitter.
  transport::H2Server::Options options;
  transport::H2Connection::Options& connection = options.connection;
  connection.max_concurrent_streams = static_cast<uint32_t>(config.max_streams_per_connection);
  connection.max_message_bytes = kMaxRequestBytes;
  connection.idle_timeout = kMaxConnectionIdle;
  connection.keepalive_time = absl::Seconds(30);
  connection.keepalive_timeout = absl::Seconds(10);
  connection.max_age = config.max_connection_age;
  connection.max_age_grace = config.max_connection_age_grace;
  // With TLS, the handshake and the preface share one deadline.
  if (!config.tls_cert.empty()) connection.preface_timeout = config.tls_handshake_timeout;
  options.max_tls_handshakes = static_cast<int64_t>(config.max_tls_handshakes);
  return options;
}

size_t ConnectionsWithinFileLimit(size_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  if (limit.rlim_cur < limit.rlim_max) {
    const rlim_t before = limit.rlim_cur;
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) == 0) {
      spdlog::info("file descriptors: soft limit raised from {} to {}", before, limit.rlim_cur);
    } else {
      getrlimit(RLIMIT_NOFILE, &limit);
    }
  }
  // The admin port's 64 connections, and 256 for the rest.
  constexpr rlim_t kReserved = 256 + 64;
  const size_t room =
      limit.rlim_cur > 2 * kReserved ? limit.rlim_cur - kReserved : limit.rlim_cur / 3;
  if (wanted == 0) return room;
  if (wanted > room) {
    spdlog::warn(
        "JAWLB_MAXCONNECTIONS={} is more than the file limit ({}) leaves room for: "
        "at most {} connections",
        wanted, limit.rlim_cur, room);
    return room;
  }
  return wanted;
}

std::string MakeReplicaTag() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return grpclb::Base32(
      StableHash(absl::StrCat(host, "/", getpid(), "/", absl::ToUnixNanos(Clock::Real().Now()))),
      4);
}

}  // namespace jawlb::app
