#include "config/config.h"

#include <algorithm>
#include <functional>
#include <vector>

#include <arpa/inet.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "common/dns_label.h"
#include "common/status_macros.h"
#include "config/values.h"

namespace jawlb::config {
namespace {

// One setting: its names, its default as --help shows it, what it means, and how
// a text value is checked and stored (values.h). `set` returns InvalidArgument
// saying what is wrong with the value (Apply() names the setting and the value).
const std::vector<std::pair<const char*, Mode>>& ModeNames() {
  static const auto* const kNames = new std::vector<std::pair<const char*, Mode>>{
      {"single", Mode::kSingle}, {"multi", Mode::kMulti}};
  return *kNames;
}
const std::vector<std::pair<const char*, Transport>>& TransportNames() {
  static const auto* const kNames = new std::vector<std::pair<const char*, Transport>>{
      {"h2", Transport::kH2}, {"grpc", Transport::kGrpc}};
  return *kNames;
}
const std::vector<std::pair<const char*, Api>>& ApiNames() {
  static const auto* const kNames =
      new std::vector<std::pair<const char*, Api>>{{"auto", Api::kAuto},
                                                   {"endpointslices", Api::kEndpointSlices},
                                                   {"endpoints", Api::kEndpoints}};
  return *kNames;
}
const std::vector<std::pair<const char*, HealthCheck>>& HealthCheckNames() {
  static const auto* const kNames = new std::vector<std::pair<const char*, HealthCheck>>{
      {"none", HealthCheck::kNone}, {"grpc", HealthCheck::kGrpc}};
  return *kNames;
}
const std::vector<std::pair<const char*, LogFormat>>& LogFormatNames() {
  static const auto* const kNames = new std::vector<std::pair<const char*, LogFormat>>{
      {"text", LogFormat::kText}, {"json", LogFormat::kJson}};
  return *kNames;
}

struct Setting {
  const char* env;
  const char* flag;
  const char* default_text;
  const char* help;
  std::function<absl::Status(absl::string_view, Config&)> set;
};

absl::Status SetEndpoints(absl::string_view text, Config& config) {
  absl::StatusOr<discovery::BackendSet> set = discovery::ParseBackendList(text);
  if (!set.ok()) return set.status();
  config.endpoints = *std::move(set);
  return absl::OkStatus();
}

const std::vector<Setting>& Settings() {
  static const auto* const kSettings = new std::vector<Setting>{
      {"JAWLB_NAMESPACE", "namespace", "default",
       "Kubernetes namespace of the service (in a pod: the pod's own; else the kubeconfig "
       "context's)",
       [](auto v, Config& c) { return SetString(v, c.namespace_); }},
      {"JAWLB_SERVICE", "service", "",
       "Kubernetes service to balance (required for Kubernetes discovery)",
       [](auto v, Config& c) { return SetString(v, c.service); }},
      {"JAWLB_TARGETPORT", "targetport", "grpc", "name of the backends' port in the service",
       [](auto v, Config& c) { return SetString(v, c.target_port); }},
      {"JAWLB_LABELSELECTOR", "labelselector", "",
       "extra label selector for the service's endpoints",
       [](auto v, Config& c) { return SetString(v, c.label_selector); }},
      {"JAWLB_HOST", "host", "", "IP address to listen on (\"\" = all interfaces)",
       [](auto v, Config& c) { return SetHost(v, c.host); }},
      {"JAWLB_PORT", "port", "8000", "gRPC port serving grpclb (0 = any free port, logged)",
       [](auto v, Config& c) { return SetPort(v, c.port); }},
      {"JAWLB_ADMINHOST", "adminhost", "", "IP address of the admin HTTP listener (\"\" = all)",
       [](auto v, Config& c) { return SetHost(v, c.admin_host); }},
      {"JAWLB_ADMINPORT", "adminport", "8081",
       "admin HTTP port: /readyz /healthz /debug/state / (0 = any free port, logged)",
       [](auto v, Config& c) { return SetPort(v, c.admin_port); }},
      {"JAWLB_SHUTDOWNGRACEPERIOD", "shutdowngraceperiod", "25s",
       "on SIGTERM, how long open streams get before a hard stop (Go duration)",
       [](auto v, Config& c) { return SetDuration(v, c.shutdown_grace); }},
      {"JAWLB_DRAINDELAY", "draindelay", "5s",
       "on SIGTERM, how long to stay up as not-ready (new streams still accepted) before ending "
       "streams, so Kubernetes stops routing first",
       [](auto v, Config& c) { return SetDuration(v, c.drain_delay); }},
      {"JAWLB_MAXCONNECTIONAGE", "maxconnectionage", "30m",
       "clients are asked to reconnect after this long (±10% jitter), so they re-resolve and "
       "spread over replicas; 0 = never",
       [](auto v, Config& c) {
         return SetDurationIn(v, absl::Seconds(1), absl::Hours(100), true, c.max_connection_age);
       }},
      {"JAWLB_MAXCONNECTIONAGEGRACE", "maxconnectionagegrace", "30s",
       "how long a connection past its age keeps its stream before it is closed",
       [](auto v, Config& c) { return SetDuration(v, c.max_connection_age_grace); }},
      {"JAWLB_ENDPOINTS", "endpoints", "",
       "static backends instead of Kubernetes: ip:port,[v6]:port,...",
       [](auto v, Config& c) { return SetEndpoints(v, c); }},
      {"JAWLB_ENDPOINTSFILE", "endpointsfile", "",
       "static backends from a file (one or more ip:port per line, # comments), reloaded on change",
       [](auto v, Config& c) { return SetString(v, c.endpoints_file); }},
      {"JAWLB_CLIENTSTATSINTERVAL", "clientstatsinterval", "10s",
       "how often clients send load reports (Go duration; 0 = never)",
       [](auto v, Config& c) {
         return SetDurationIn(v, absl::Milliseconds(100), absl::Hours(24), true,
                              c.client_stats_interval);
       }},
      {"JAWLB_MAXSERVERS", "maxservers", "0",
       "backends per client (0 = every client gets every backend); each backend gets the "
       "same number of clients within one",
       [](auto v, Config& c) { return SetCount(v, c.max_servers); }},
      {"JAWLB_LBTOKENS", "lbtokens", "on",
       "a load_balance_token on every list entry (on/off; off keeps lists of many backends "
       "small)",
       [](auto v, Config& c) { return SetOnOff(v, c.lb_tokens); }},
      {"JAWLB_MAXRPSPERBACKEND", "maxrpsperbackend", "0",
       "calls per second one backend takes from this replica's clients; above it, lists carry "
       "drop entries for the excess (0 = never shed)",
       [](auto v, Config& c) { return SetCount(v, c.max_rps_per_backend); }},
      {"JAWLB_LOADSMOOTHING", "loadsmoothing", "30s",
       "time constant of the clients' smoothed call rates (how fast subsetting and shedding "
       "follow load)",
       [](auto v, Config& c) {
         return SetDurationIn(v, absl::Seconds(1), absl::Hours(24), false, c.load_smoothing);
       }},
      {"JAWLB_HEALTHCHECK", "healthcheck", "none",
       "none, or grpc: watch grpc.health.v1.Health on every backend and send only serving ones",
       [](auto v, Config& c) {
         return SetEnum(v, HealthCheckNames(), "a health check", c.health_check);
       }},
      {"JAWLB_HEALTHCHECKSERVICE", "healthcheckservice", "",
       "the service name asked for in health checks (empty: the backend server as a whole)",
       [](auto v, Config& c) { return SetString(v, c.health_check_service); }},
      {"JAWLB_MODE", "mode", "single",
       "single: balance JAWLB_SERVICE for every client; multi: the name each client dialed "
       "chooses the service (docs/multi-service.md)",
       [](auto v, Config& c) { return SetEnum(v, ModeNames(), "a mode", c.mode); }},
      {"JAWLB_TRANSPORT", "transport", "h2",
       "what serves the gRPC port: h2 (jawlb's own HTTP/2 server) or grpc (gRPC C++'s, "
       "the fallback for one release; it also serves reflection)",
       [](auto v, Config& c) { return SetEnum(v, TransportNames(), "a transport", c.transport); }},
      {"JAWLB_NAMESPACES", "namespaces", "",
       "multi mode: the namespaces clients may ask for, comma-separated (empty: only "
       "JAWLB_NAMESPACE)",
       [](auto v, Config& c) {
         c.namespaces.clear();
         for (absl::string_view ns : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
           ns = absl::StripAsciiWhitespace(ns);
           if (!IsDnsLabel(ns)) {
             return Invalid(absl::StrCat("\"", ns, "\" is not a namespace name"));
           }
           c.namespaces.insert(std::string(ns));
         }
         return absl::OkStatus();
       }},
      {"JAWLB_CLUSTERDOMAIN", "clusterdomain", "cluster.local",
       "multi mode: the cluster's DNS domain, in names like svc.ns.svc.cluster.local",
       [](auto v, Config& c) { return SetString(v, c.cluster_domain); }},
      {"JAWLB_NAMESUFFIX", "namesuffix", "",
       "multi mode: a suffix taken off the service name clients dial (\"-lb\": "
       "myservice-lb is myservice)",
       [](auto v, Config& c) { return SetString(v, c.name_suffix); }},
      {"JAWLB_ROUTES", "routes", "",
       "multi mode: a YAML file of name: namespace/service[:port] that wins over the naming "
       "conventions; reloaded when it changes",
       [](auto v, Config& c) { return SetString(v, c.routes_file); }},
      {"JAWLB_IDLETIMEOUT", "idletimeout", "5m",
       "multi mode: a service with no clients this long stops being watched",
       [](auto v, Config& c) { return SetDuration(v, c.idle_timeout); }},
      {"JAWLB_MAXSTREAMS", "maxstreams", "10000",
       "BalanceLoad streams served at once; more are refused with RESOURCE_EXHAUSTED (each "
       "costs about 16 KiB)",
       [](auto v, Config& c) { return SetCountIn(v, 1, 1000000, c.max_streams); }},
      {"JAWLB_MAXCONNECTIONS", "maxconnections", "0",
       "client connections the gRPC port holds at once; more are closed at once (0: as many as "
       "the file descriptor limit leaves room for)",
       [](auto v, Config& c) { return SetCountIn(v, 0, 10000000, c.max_connections); }},
      {"JAWLB_MAXCONNECTIONSPERPEER", "maxconnectionsperpeer", "1000",
       "client connections one client IP address may hold on the gRPC port",
       [](auto v, Config& c) { return SetCountIn(v, 1, 1000000, c.max_connections_per_peer); }},
      {"JAWLB_MAXSTREAMSPERCONNECTION", "maxstreamsperconnection", "100",
       "streams one client connection may open at once; more are refused",
       [](auto v, Config& c) { return SetCountIn(v, 1, 1000000, c.max_streams_per_connection); }},
      {"JAWLB_MAXSTREAMSPERPEER", "maxstreamsperpeer", "1000",
       "streams one client IP address may hold at once, over all its connections",
       [](auto v, Config& c) { return SetCountIn(v, 1, 1000000, c.max_streams_per_peer); }},
      {"JAWLB_FIRSTMESSAGETIMEOUT", "firstmessagetimeout", "10s",
       "a stream that has not sent its InitialLoadBalanceRequest (xDS: its first request) this "
       "long after opening is ended with DEADLINE_EXCEEDED",
       [](auto v, Config& c) {
         return SetDurationIn(v, absl::Milliseconds(100), absl::Hours(1), false,
                              c.first_message_timeout);
       }},
      {"JAWLB_MAXLISTBYTES", "maxlistbytes", "4000000",
       "the largest ServerList message sent (clients refuse messages over 4 MiB by default); "
       "a longer list is cut to what fits, with an error in the log",
       [](auto v, Config& c) { return SetCountIn(v, 1024, 1 << 30, c.max_list_bytes); }},
      {"JAWLB_MAXSERVICES", "maxservices", "1000",
       "multi mode: services watched at once; a client naming one more gets RESOURCE_EXHAUSTED",
       [](auto v, Config& c) { return SetCountIn(v, 1, 100000, c.max_services); }},
      {"JAWLB_MAXSERVICESPERPEER", "maxservicesperpeer", "50",
       "multi mode: services one client address may start watching (held until they are dropped)",
       [](auto v, Config& c) { return SetCountIn(v, 1, 100000, c.max_services_per_peer); }},
      {"JAWLB_LOGLEVEL", "loglevel", "info", "trace, debug, info, warn, error or off",
       [](auto v, Config& c) { return SetLogLevel(v, c.log_level); }},
      {"JAWLB_LOGFORMAT", "logformat", "text", "text, or json (one object per line)",
       [](auto v, Config& c) {
         return SetEnum(v, LogFormatNames(), "a log format", c.log_format);
       }},
      {"JAWLB_API", "api", "auto",
       "what to watch: endpointslices, endpoints (core/v1), or auto (EndpointSlices if served)",
       [](auto v, Config& c) { return SetEnum(v, ApiNames(), "an API to watch", c.api); }},
      {"JAWLB_WATCHSTALLTIMEOUT", "watchstalltimeout", "90s",
       "a watch silent this long (not even a bookmark) is reconnected (Go duration)",
       [](auto v, Config& c) {
         return SetDurationIn(v, absl::Seconds(1), absl::Hours(24), false, c.watch_stall_timeout);
       }},
      {"JAWLB_TLSCERT", "tlscert", "",
       "PEM certificate chain of the gRPC port; with JAWLB_TLSKEY the port serves TLS only "
       "(re-read when the file changes)",
       [](auto v, Config& c) { return SetString(v, c.tls_cert); }},
      {"JAWLB_TLSKEY", "tlskey", "", "PEM private key of JAWLB_TLSCERT",
       [](auto v, Config& c) { return SetString(v, c.tls_key); }},
      {"JAWLB_TLSCLIENTCA", "tlsclientca", "",
       "PEM CA certificates: when set, clients must present a certificate it signed (mTLS)",
       [](auto v, Config& c) { return SetString(v, c.tls_client_ca); }},
      {"JAWLB_TLSHANDSHAKETIMEOUT", "tlshandshaketimeout", "10s",
       "a connection that has not completed its TLS handshake and HTTP/2 preface this long "
       "after it opened is closed",
       [](auto v, Config& c) {
         return SetDurationIn(v, absl::Milliseconds(100), absl::Minutes(10), false,
                              c.tls_handshake_timeout);
       }},
      {"JAWLB_MAXTLSHANDSHAKES", "maxtlshandshakes", "1000",
       "TLS handshakes under way at once; a connection past it is closed at once",
       [](auto v, Config& c) { return SetCountIn(v, 1, 1000000, c.max_tls_handshakes); }},
      {"KUBECONFIG", "kubeconfig", "~/.kube/config",
       "kubeconfig files (colon-separated) when not running in a pod",
       [](auto v, Config& c) { return SetString(v, c.kubeconfig); }},
      {"JAWLB_CONTEXT", "context", "", "kubeconfig context to use instead of current-context",
       [](auto v, Config& c) { return SetString(v, c.kube_context); }},
  };
  return *kSettings;
}

absl::Status Apply(const Setting& setting, absl::string_view origin, absl::string_view value,
                   Config& config) {
  absl::Status status = setting.set(value, config);
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat(origin, "=\"", value, "\": ", status.message()));
}

absl::Status Validate(const Config& config) {
  if (config.tls_cert.empty() != config.tls_key.empty()) {
    return absl::InvalidArgumentError(
        "JAWLB_TLSCERT and JAWLB_TLSKEY go together: set both (TLS) or neither (plaintext)");
  }
  if (!config.tls_cert.empty() && config.transport == Transport::kGrpc) {
    return absl::InvalidArgumentError(
        "JAWLB_TLSCERT with JAWLB_TRANSPORT=grpc: gRPC C++'s server cannot take TLS connections "
        "that jawlb accepts itself (grpc_server_add_channel_from_fd is plaintext only); TLS is "
        "served by JAWLB_TRANSPORT=h2, the default");
  }
  if (!config.tls_client_ca.empty() && config.tls_cert.empty()) {
    return absl::InvalidArgumentError(
        "JAWLB_TLSCLIENTCA asks for client certificates, which needs TLS: set JAWLB_TLSCERT and "
        "JAWLB_TLSKEY too");
  }
  if (config.endpoints.has_value() && !config.endpoints_file.empty()) {
    return absl::InvalidArgumentError(
        "JAWLB_ENDPOINTS and JAWLB_ENDPOINTSFILE are both set: choose one");
  }
  if (config.mode == Mode::kMulti) {
    if (config.endpoints.has_value() || !config.endpoints_file.empty()) {
      return absl::InvalidArgumentError(
          "JAWLB_MODE=multi serves Kubernetes services: JAWLB_ENDPOINTS and JAWLB_ENDPOINTSFILE "
          "cannot be used with it");
    }
    return absl::OkStatus();
  }
  if (!config.endpoints.has_value() && config.endpoints_file.empty()) {
    if (config.service.empty()) {
      return absl::InvalidArgumentError(
          "JAWLB_SERVICE is not set: name the Kubernetes service to balance, or give static "
          "backends with JAWLB_ENDPOINTS or JAWLB_ENDPOINTSFILE");
    }
  }
  return absl::OkStatus();
}

// Applies the flag at argv[*i] (and its value, which may be the next argument,
// advancing *i past it).
absl::Status ApplyFlag(int argc, const char* const* argv, int* i, Config& config) {
  absl::string_view arg = argv[*i];
  if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
    return absl::InvalidArgumentError(
        absl::StrCat("unexpected argument \"", arg, "\": settings are flags like --port=8000"));
  }
  const size_t equals = arg.find('=');
  const absl::string_view name = arg.substr(0, equals);
  const auto& settings = Settings();
  const auto setting = std::find_if(settings.begin(), settings.end(),
                                    [name](const Setting& s) { return name == s.flag; });
  if (setting == settings.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown flag --", name, " (jawlb --help lists the flags)"));
  }
  absl::string_view value;
  if (equals != absl::string_view::npos) {
    value = arg.substr(equals + 1);
  } else if (*i + 1 < argc) {
    value = argv[++*i];
  } else {
    return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
  }
  return Apply(*setting, absl::StrCat("--", name), value, config);
}

}  // namespace

absl::string_view NameOf(Mode mode) { return NameIn(ModeNames(), mode); }
absl::string_view NameOf(Api api) { return NameIn(ApiNames(), api); }
absl::string_view NameOf(HealthCheck check) { return NameIn(HealthCheckNames(), check); }
absl::string_view NameOf(LogFormat format) { return NameIn(LogFormatNames(), format); }

absl::StatusOr<Config> Config::FromEnvAndArgs(absl::FunctionRef<const char*(const char*)> getenv,
                                              int argc, const char* const* argv) {
  Config config;
  for (const Setting& setting : Settings()) {
    if (const char* value = getenv(setting.env); value != nullptr) {
      JAWLB_RETURN_IF_ERROR(Apply(setting, setting.env, value, config));
    }
  }
  for (const auto& [name, field] :
       {std::pair{"KUBERNETES_SERVICE_HOST", &config.in_cluster_host},
        std::pair{"KUBERNETES_SERVICE_PORT", &config.in_cluster_port}}) {
    if (const char* value = getenv(name); value != nullptr) *field = value;
  }
  for (int i = 1; i < argc; ++i) JAWLB_RETURN_IF_ERROR(ApplyFlag(argc, argv, &i, config));
  JAWLB_RETURN_IF_ERROR(Validate(config));
  return config;
}

bool Config::WantsHelp(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "-help") return true;
  }
  return false;
}

std::string Config::Help() {
  std::string text =
      "jawlb: a grpclb (grpc.lb.v1.LoadBalancer) lookaside load balancer for Kubernetes.\n\n"
      "Every setting is an environment variable or a flag (--flag=value or --flag value);\n"
      "flags win. Durations use Go syntax: 25s, 1m30s, 500ms.\n\n";
  for (const Setting& setting : Settings()) {
    absl::StrAppendFormat(&text, "  --%-22s %-28s default \"%s\"\n      %s\n", setting.flag,
                          setting.env, setting.default_text, setting.help);
  }
  return text;
}

std::string Config::ListenAddress() const {
  if (host.empty()) return absl::StrCat("[::]:", port);
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

}  // namespace jawlb::config
