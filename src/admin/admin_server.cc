#include "admin/admin_server.h"

#include <map>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"

#include "admin/json.h"
#include "admin/process_metrics.h"
#include "grpclb/server_list.h"
#include "health/health_checked_source.h"

namespace jawlb::admin {
namespace {

std::string Time(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
}

std::string HtmlEscape(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<std::string> ClientsJson(const std::vector<grpclb::ClientInfo>& infos) {
  std::vector<std::string> clients;
  for (const grpclb::ClientInfo& client : infos) {
    const balancer::ClientLoad::Totals& load = client.load.totals();
    const balancer::CallRates& rates = client.rates;
    std::vector<std::string> drops;
    for (const auto& [token, calls] : client.load.drops_by_token()) {
      drops.push_back(absl::StrCat(JsonQuote(token), ":", calls));
    }
    std::vector<std::string> xds;
    for (const grpclb::ClientInfo::XdsType& type : client.xds) {
      xds.push_back(absl::StrCat("{\"type\":", JsonQuote(type.type),
                                 ",\"acked_version\":", JsonQuote(type.acked_version),
                                 ",\"acks\":", type.acks, ",\"nacks\":", type.nacks,
                                 ",\"last_nack\":", JsonQuote(type.last_nack), "}"));
    }
    clients.push_back(absl::StrCat(
        "{\"peer\":", JsonQuote(client.peer),
        ",\"protocol\":", client.xds.empty() && client.node.empty() ? "\"grpclb\"" : "\"xds\"",
        ",\"node\":", JsonQuote(client.node), ",\"locality\":", JsonQuote(client.locality),
        ",\"user_agent\":", JsonQuote(client.user_agent), ",\"xds\":[", absl::StrJoin(xds, ","),
        "]", ",\"name\":", JsonQuote(client.name),
        ",\"connected\":", JsonQuote(Time(client.connected)),
        ",\"list_version\":", client.list_version, ",\"list_size\":", client.list_size,
        ",\"token_client\":", JsonQuote(grpclb::Base32(client.token_client)),
        ",\"load\":{\"reports\":", load.reports, ",\"rejected_reports\":", load.rejected_reports,
        ",\"calls_started\":", load.calls_started, ",\"calls_finished\":", load.calls_finished,
        ",\"calls_failed_to_send\":", load.calls_failed_to_send, ",\"calls_known_received\":",
        load.calls_known_received, ",\"calls_dropped\":", load.calls_dropped,
        ",\"dropped_by_token\":{", absl::StrJoin(drops, ","), "}",
        ",\"last_report\":", load.reports > 0 ? JsonQuote(Time(client.load.last_report())) : "null",
        ",\"rates_per_second\":{\"started\":", rates.started, ",\"finished\":", rates.finished,
        ",\"failed_to_send\":", rates.failed_to_send, ",\"known_received\":", rates.known_received,
        ",\"dropped\":", rates.dropped, "}}}"));
  }
  return clients;
}

// The status page's protocol cell: grpclb, or xDS with the client's node id.
std::string ProtocolHtml(const grpclb::ClientInfo& client) {
  if (client.xds.empty() && client.node.empty()) return "grpclb";
  return absl::StrCat("xDS ", HtmlEscape(client.node));
}

// The list version cell: grpclb's list version; for xDS the assignment
// version the client acknowledged, and its last refusal if it has one.
std::string ListVersionHtml(const grpclb::ClientInfo& client) {
  if (client.xds.empty() && client.node.empty()) return absl::StrCat(client.list_version);
  std::string cell;
  for (const grpclb::ClientInfo::XdsType& type : client.xds) {
    if (type.type == "endpoints") cell = HtmlEscape(type.acked_version);
    if (!type.last_nack.empty()) {
      absl::StrAppend(&cell, " <b>refused ", HtmlEscape(type.type), ": ",
                      HtmlEscape(type.last_nack), "</b>");
    }
  }
  return cell;
}

std::string HealthJson(const health::HealthCheckedSource* source) {
  const health::HealthChecker* health = source == nullptr ? nullptr : source->checker();
  if (health == nullptr) return "null";
  std::vector<std::string> checked;
  for (const balancer::HealthTracker::Entry& e : health->Describe()) {
    checked.push_back(absl::StrCat(
        "{\"address\":", JsonQuote(e.backend.ToString()),
        ",\"last\":", e.last.has_value() ? JsonQuote(balancer::VerdictName(*e.last)) : "null",
        ",\"detail\":", JsonQuote(e.detail), ",\"removed\":", e.removed ? "true" : "false",
        ",\"recent_removals\":", e.recent_removals, ",\"readmit_at\":",
        e.readmit_at == absl::InfiniteFuture() ? "null" : JsonQuote(Time(e.readmit_at)), "}"));
  }
  return absl::StrCat("{\"panic\":", health->panic() ? "true" : "false", ",\"backends\":[",
                      absl::StrJoin(checked, ","), "]}");
}

std::string HealthHtml(const health::HealthCheckedSource* source) {
  const health::HealthChecker* health = source == nullptr ? nullptr : source->checker();
  if (health == nullptr) return "";
  std::string html = absl::StrCat(
      "<h2>health checks</h2>",
      health->panic() ? "<p><b>PANIC</b>: more than half fail; every backend is sent</p>" : "",
      "<table><tr><th>address</th><th>last answer</th><th>in lists</th>"
      "<th>removals (5 min)</th></tr>");
  for (const balancer::HealthTracker::Entry& e : health->Describe()) {
    absl::StrAppend(&html, "<tr><td>", HtmlEscape(e.backend.ToString()), "</td><td>",
                    HtmlEscape(e.last.has_value() ? e.detail : "none yet"), "</td><td>",
                    e.removed ? "<b>no</b>" : "yes", "</td><td>", e.recent_removals, "</td></tr>");
  }
  return html + "</table>";
}

}  // namespace

AdminServer::AdminServer(AdminView view) : view_(std::move(view)) {}

AdminServer::~AdminServer() { Stop(); }

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& host, int port,
                                                                AdminView view) {
  std::unique_ptr<AdminServer> server(new AdminServer(std::move(view)));
  HttpServer::Options options;
  options.host = host;
  options.port = port;
  absl::StatusOr<std::unique_ptr<HttpServer>> http = HttpServer::Start(
      options,
      [raw = server.get()](const HttpServer::Request& request) { return raw->Handle(request); });
  if (!http.ok()) {
    return absl::UnavailableError(
        absl::StrCat(http.status().message(), " (JAWLB_ADMINHOST/JAWLB_ADMINPORT)"));
  }
  server->http_ = *std::move(http);
  server->serving_.store(server->http_.get(), std::memory_order_release);
  return server;
}

void AdminServer::Stop() {
  if (http_ != nullptr) http_->Stop();
}

HttpServer::Response AdminServer::Handle(const HttpServer::Request& request) const {
  if (request.path == "/readyz") {
    const std::string reason = view_.not_ready_reason();
    return {reason.empty() ? 200 : 503, "text/plain",
            reason.empty() ? "ready\n" : "not ready: " + reason + "\n"};
  }
  if (request.path == "/healthz") {
    const std::string stuck = view_.stuck_reason();
    return {stuck.empty() ? 200 : 503, "text/plain",
            stuck.empty() ? "ok\n" : "stuck: " + stuck + "\n"};
  }
  if (request.path == "/metrics") {
    return {200, std::string(metrics::TextWriter::kContentType), Metrics()};
  }
  if (request.path == "/debug/state") return {200, "application/json", StateJson()};
  if (request.path == "/") return {200, "text/html; charset=utf-8", StatePage()};
  return {404, "text/plain", "not found: /readyz /healthz /metrics /debug/state /\n"};
}

std::string AdminServer::Metrics() const {
  metrics::TextWriter out;
  out.Gauge("jawlb_ready", "1 when ready (first complete list received, not draining), else 0.",
            view_.not_ready_reason().empty() ? 1 : 0);
  const grpclb::SnapshotPtr list = LatestList();
  const size_t sent = view_.backends_sent ? view_.backends_sent()
                      : list == nullptr   ? 0
                                          : list->backends.size();
  absl::flat_hash_set<std::string> known;
  for (const discovery::EndpointState& e : Endpoints()) known.insert(e.address);
  out.Header("jawlb_backends_known", "gauge",
             "Endpoint addresses the source knows for the service, in any condition (sources "
             "without conditions: the backends sent).");
  out.Sample("jawlb_backends_known", {{"service", view_.service}},
             static_cast<double>(known.empty() ? sent : known.size()));
  out.Header("jawlb_backends_sent", "gauge", "Backends in the newest list sent to clients.");
  out.Sample("jawlb_backends_sent", {{"service", view_.service}}, static_cast<double>(sent));
  view_.write_metrics(out);
  if (const HttpServer* http = serving_.load(std::memory_order_acquire); http != nullptr) {
    http->WriteMetrics(out);
  }
  WriteProcessMetrics(out);
  return out.text();
}

std::vector<grpclb::ClientInfo> AdminServer::AllClients() const {
  std::vector<grpclb::ClientInfo> clients = view_.clients->Clients();
  if (view_.xds_clients == nullptr) return clients;
  std::map<std::string, grpclb::ClientInfo> reporters;  // by peer
  if (view_.xds_load_reporters != nullptr) {
    for (grpclb::ClientInfo& reporter : view_.xds_load_reporters->Clients()) {
      std::string peer = reporter.peer;
      reporters.insert_or_assign(std::move(peer), std::move(reporter));
    }
  }
  for (grpclb::ClientInfo& client : view_.xds_clients->Clients()) {
    if (auto it = reporters.find(client.peer); it != reporters.end()) {
      client.load = it->second.load;
      client.rates = it->second.rates;
    }
    clients.push_back(std::move(client));
  }
  return clients;
}

grpclb::SnapshotPtr AdminServer::LatestList() const {
  return view_.hub == nullptr ? nullptr : view_.hub->Latest();
}

std::vector<discovery::EndpointState> AdminServer::Endpoints() const {
  if (view_.endpoints == nullptr) return {};
  return view_.endpoints->Endpoints();
}

std::string AdminServer::StateJson() const {
  const std::string reason = view_.not_ready_reason();
  std::vector<std::string> endpoints;
  for (const discovery::EndpointState& e : Endpoints()) {
    endpoints.push_back(absl::StrCat(
        "{\"address\":", JsonQuote(e.address), ",\"object\":", JsonQuote(e.object),
        ",\"pod\":", JsonQuote(e.pod), ",\"zone\":", JsonQuote(e.zone),
        ",\"ready\":", e.ready ? "true" : "false", ",\"serving\":", e.serving ? "true" : "false",
        ",\"terminating\":", e.terminating ? "true" : "false",
        ",\"sent\":", e.used ? "true" : "false", "}"));
  }
  std::string kubernetes = "null";
  if (view_.kubernetes != nullptr) {
    const k8s::ApiMonitor::Progress progress = view_.kubernetes->progress();
    kubernetes = absl::StrCat(
        "{\"resource_version\":", JsonQuote(progress.resource_version), ",\"last_sync\":",
        progress.last_sync == absl::InfinitePast() ? "null" : JsonQuote(Time(progress.last_sync)),
        ",\"last_list\":",
        progress.last_list == absl::InfinitePast() ? "null" : JsonQuote(Time(progress.last_list)),
        "}");
  }
  const grpclb::SnapshotPtr list = LatestList();
  std::vector<std::string> backends;
  std::vector<std::string> tags;
  if (list != nullptr) {
    for (const discovery::Backend& backend : list->backends.backends()) {
      backends.push_back(JsonQuote(backend.ToString()));
      tags.push_back(
          absl::StrCat(JsonQuote(backend.ToString()), ":", JsonQuote(grpclb::BackendTag(backend))));
    }
  }
  const std::vector<std::string> clients = ClientsJson(AllClients());
  const std::string health = HealthJson(view_.health);
  return absl::StrCat(
      "{\"ready\":", reason.empty() ? "true" : "false", ",\"not_ready_reason\":", JsonQuote(reason),
      ",\"source\":", JsonQuote(view_.source), ",\"kubernetes\":", kubernetes,
      ",\"health\":", health, ",\"services\":", view_.services ? view_.services() : "null",
      ",\"lb_tokens\":{\"replica\":", JsonQuote(view_.replica), ",\"backend_tags\":{",
      absl::StrJoin(tags, ","), "}}", ",\"endpoints\":[", absl::StrJoin(endpoints, ","),
      "],\"list\":",
      list == nullptr ? "null"
                      : absl::StrCat("{\"version\":", list->version, ",\"backends\":[",
                                     absl::StrJoin(backends, ","), "]}"),
      ",\"clients\":[", absl::StrJoin(clients, ","), "]}\n");
}

std::string AdminServer::StatePage() const {
  const std::string reason = view_.not_ready_reason();
  const grpclb::SnapshotPtr list = LatestList();
  std::string page = absl::StrCat(
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>jawlb</title>"
      "<style>body{font-family:sans-serif;margin:2em}td,th{padding:0 1em 0 0;text-align:left}"
      "</style></head><body><h1>jawlb</h1><p>",
      reason.empty() ? "<b>ready</b>" : "<b>not ready</b>: " + HtmlEscape(reason),
      "</p><p>source: ", HtmlEscape(view_.source), "</p><h2>list");
  if (list == nullptr) {
    absl::StrAppend(&page, "</h2><p>none yet</p>");
  } else {
    absl::StrAppend(&page, " version ", list->version, " (", list->backends.size(),
                    " backends)</h2><p>",
                    list->backends.empty() ? "no backends: clients get a drop entry"
                                           : HtmlEscape(list->backends.ToString()),
                    "</p>");
  }
  if (view_.kubernetes != nullptr) {
    const k8s::ApiMonitor::Progress progress = view_.kubernetes->progress();
    absl::StrAppend(&page, "<p>resourceVersion ", HtmlEscape(progress.resource_version),
                    progress.last_sync == absl::InfinitePast()
                        ? ""
                        : absl::StrCat(", up to date at ", Time(progress.last_sync)),
                    "</p>");
  }
  const std::vector<discovery::EndpointState> endpoints = Endpoints();
  if (!endpoints.empty()) {
    absl::StrAppend(
        &page, "<h2>", endpoints.size(),
        " endpoints</h2><table><tr><th>address</th><th>pod</th><th>zone</th><th>object</th>"
        "<th>ready</th><th>serving</th><th>terminating</th><th>sent</th></tr>");
    for (const discovery::EndpointState& e : endpoints) {
      absl::StrAppend(&page, "<tr><td>", HtmlEscape(e.address), "</td><td>", HtmlEscape(e.pod),
                      "</td><td>", HtmlEscape(e.zone), "</td><td>", HtmlEscape(e.object),
                      "</td><td>", e.ready ? "yes" : "no", "</td><td>", e.serving ? "yes" : "no",
                      "</td><td>", e.terminating ? "yes" : "no", "</td><td>",
                      e.used ? "<b>yes</b>" : "no", "</td></tr>");
    }
    absl::StrAppend(&page, "</table>");
  }
  absl::StrAppend(&page, HealthHtml(view_.health));
  const std::vector<grpclb::ClientInfo> clients = AllClients();
  absl::StrAppend(&page, "<h2>", clients.size(),
                  " clients</h2><table><tr><th>peer</th><th>protocol</th><th>asked for</th>"
                  "<th>connected</th><th>list version</th><th>calls/s</th></tr>");
  for (const grpclb::ClientInfo& client : clients) {
    absl::StrAppend(&page, "<tr><td>", HtmlEscape(client.peer), "</td><td>", ProtocolHtml(client),
                    "</td><td>", HtmlEscape(client.name), "</td><td>", Time(client.connected),
                    "</td><td>", ListVersionHtml(client), "</td><td>",
                    absl::StrFormat("%.1f", client.rates.started), "</td></tr>");
  }
  absl::StrAppend(&page,
                  "</table><p><a href=\"/debug/state\">/debug/state</a> · "
                  "<a href=\"/readyz\">/readyz</a> · <a href=\"/healthz\">/healthz</a> · "
                  "<a href=\"/metrics\">/metrics</a>"
                  "</p></body></html>\n");
  return page;
}

}  // namespace jawlb::admin
