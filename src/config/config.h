// Config: every setting jawlb reads, as plain values with their defaults, and
// the one place that reads them from the environment and the command line.
// Each setting has an environment variable JAWLB_X and a flag --x; flags win.
//
// Threading: immutable once built; share it freely.
#ifndef JAWLB_CONFIG_CONFIG_H_
#define JAWLB_CONFIG_CONFIG_H_

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

#include "discovery/backend_set.h"

namespace jawlb::config {

// JAWLB_MODE: every client gets JAWLB_SERVICE, or the name it dialed chooses.
enum class Mode { kSingle, kMulti };
// JAWLB_TRANSPORT: what serves the gRPC port — jawlb's own HTTP/2 server, or
// gRPC C++'s (the fallback, for one release).
enum class Transport { kH2, kGrpc };
// JAWLB_API: what to watch.
enum class Api { kAuto, kEndpointSlices, kEndpoints };
// JAWLB_HEALTHCHECK.
enum class HealthCheck { kNone, kGrpc };
// JAWLB_LOGFORMAT.
enum class LogFormat { kText, kJson };

// Each value as the environment spells it: "multi", "endpointslices", ...
absl::string_view NameOf(Mode mode);
absl::string_view NameOf(Api api);
absl::string_view NameOf(HealthCheck check);
absl::string_view NameOf(LogFormat format);

struct Config {
  // The choices among named alternatives (together: they pack into 16 bytes).
  Mode mode = Mode::kSingle;                      // JAWLB_MODE
  Transport transport = Transport::kH2;           // JAWLB_TRANSPORT
  Api api = Api::kAuto;                           // JAWLB_API
  HealthCheck health_check = HealthCheck::kNone;  // JAWLB_HEALTHCHECK
  LogFormat log_format = LogFormat::kText;        // JAWLB_LOGFORMAT
  // JAWLB_NAMESPACE; "" = the pod's own namespace in a cluster, else the
  // kubeconfig context's, else "default".
  std::string namespace_;
  std::string service;               // JAWLB_SERVICE: required for Kubernetes discovery
  std::string target_port = "grpc";  // JAWLB_TARGETPORT: a port *name*
  std::string label_selector;        // JAWLB_LABELSELECTOR
  std::string host;                  // JAWLB_HOST: "" = all interfaces
  uint16_t port = 8000;              // JAWLB_PORT: 0 = any free port (logged)
  std::string admin_host;            // JAWLB_ADMINHOST: "" = all interfaces
  uint16_t admin_port = 8081;        // JAWLB_ADMINPORT: 0 = any free port (logged)
  absl::Duration shutdown_grace = absl::Seconds(25);         // JAWLB_SHUTDOWNGRACEPERIOD
  std::optional<discovery::BackendSet> endpoints;            // JAWLB_ENDPOINTS
  std::string endpoints_file;                                // JAWLB_ENDPOINTSFILE
  absl::Duration client_stats_interval = absl::Seconds(10);  // JAWLB_CLIENTSTATSINTERVAL
  size_t max_servers = 0;          // JAWLB_MAXSERVERS: backends per client, 0 = all
  bool lb_tokens = true;           // JAWLB_LBTOKENS: on or off
  size_t max_rps_per_backend = 0;  // JAWLB_MAXRPSPERBACKEND: 0 = never shed
  absl::Duration load_smoothing = absl::Seconds(30);  // JAWLB_LOADSMOOTHING
  std::set<std::string> namespaces;                   // JAWLB_NAMESPACES
  std::string cluster_domain = "cluster.local";       // JAWLB_CLUSTERDOMAIN
  std::string name_suffix;                            // JAWLB_NAMESUFFIX
  std::string routes_file;                            // JAWLB_ROUTES
  absl::Duration idle_timeout = absl::Minutes(5);     // JAWLB_IDLETIMEOUT
  size_t max_services = 1000;                         // JAWLB_MAXSERVICES
  size_t max_services_per_peer = 50;                  // JAWLB_MAXSERVICESPERPEER
  std::string health_check_service;                   // JAWLB_HEALTHCHECKSERVICE
  size_t max_connections = 0;  // JAWLB_MAXCONNECTIONS; 0: what the file limit leaves room for
  size_t max_connections_per_peer = 1000;                       // JAWLB_MAXCONNECTIONSPERPEER
  size_t max_streams = 10000;                                   // JAWLB_MAXSTREAMS
  size_t max_streams_per_connection = 100;                      // JAWLB_MAXSTREAMSPERCONNECTION
  size_t max_streams_per_peer = 1000;                           // JAWLB_MAXSTREAMSPERPEER
  absl::Duration first_message_timeout = absl::Seconds(10);     // JAWLB_FIRSTMESSAGETIMEOUT
  size_t max_list_bytes = 4000000;                              // JAWLB_MAXLISTBYTES
  std::string log_level = "info";                               // JAWLB_LOGLEVEL
  absl::Duration drain_delay = absl::Seconds(5);                // JAWLB_DRAINDELAY
  absl::Duration max_connection_age = absl::Minutes(30);        // JAWLB_MAXCONNECTIONAGE
  absl::Duration max_connection_age_grace = absl::Seconds(30);  // JAWLB_MAXCONNECTIONAGEGRACE
  absl::Duration watch_stall_timeout = absl::Seconds(90);       // JAWLB_WATCHSTALLTIMEOUT
  std::string tls_cert;       // JAWLB_TLSCERT: PEM chain; with tls_key, the gRPC port is TLS
  std::string tls_key;        // JAWLB_TLSKEY
  std::string tls_client_ca;  // JAWLB_TLSCLIENTCA: client certificates required, checked by it
  absl::Duration tls_handshake_timeout = absl::Seconds(10);  // JAWLB_TLSHANDSHAKETIMEOUT
  size_t max_tls_handshakes = 1000;                          // JAWLB_MAXTLSHANDSHAKES
  std::string kubeconfig;    // KUBECONFIG, --kubeconfig: colon-separated files
  std::string kube_context;  // JAWLB_CONTEXT: overrides current-context
  // KUBERNETES_SERVICE_HOST / _PORT, set by Kubernetes in every pod.
  std::string in_cluster_host;
  std::string in_cluster_port;

  // Reads JAWLB_* through `getenv`, then flags from argv[1..] ("--port=8000" or
  // "--port 8000"); flags win. Errors are InvalidArgument, one line naming the
  // setting and the value: `JAWLB_PORT="70000": not a port number (0-65535)`.
  // "--help" is not handled here: see WantsHelp().
  static absl::StatusOr<Config> FromEnvAndArgs(absl::FunctionRef<const char*(const char*)> getenv,
                                               int argc, const char* const* argv);

  // True when argv asks for help ("--help" or "-h").
  static bool WantsHelp(int argc, const char* const* argv);

  // The --help text: every setting with its variable, flag, default and meaning.
  static std::string Help();

  // Where the address grpc should listen on: "[::]:8000", "127.0.0.1:0", "[::1]:80".
  std::string ListenAddress() const;
};

// Parses a Go duration ("25s", "1m30s", "500ms", "1.5h", "0"); negative and
// infinite durations are refused. Errors are InvalidArgument saying why.
absl::StatusOr<absl::Duration> ParseGoDuration(absl::string_view text);

}  // namespace jawlb::config

#endif  // JAWLB_CONFIG_CONFIG_H_
