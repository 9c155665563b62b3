#include "k8s/reflector.h"

#include <memory>
#include <random>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace jawlb::k8s {
namespace {

using simdjson::dom::element;

absl::string_view View(std::string_view view) { return {view.data(), view.size()}; }

std::string UrlEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string StringField(element object, const char* a, const char* b) {
  std::string_view value;
  if (object[a][b].get(value) != simdjson::SUCCESS) return "";
  return std::string(value);
}

}  // namespace

absl::Status HttpError(absl::string_view what, const HttpResponse& response) {
  std::string message = absl::StrCat(what, ": HTTP ", response.status);
  simdjson::dom::parser parser;
  element body;
  std::string_view text;
  if (parser.parse(response.body).get(body) == simdjson::SUCCESS &&
      body["message"].get(text) == simdjson::SUCCESS) {
    absl::StrAppend(&message, ": ", View(text));
  }
  switch (response.status) {
    case 400:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 403:
      return absl::PermissionDeniedError(message);
    case 404:
      return absl::NotFoundError(message);
    case 409:
      return absl::AlreadyExistsError(message);
    case 410:
      return absl::AbortedError(message);
    case 429:
      return absl::ResourceExhaustedError(message);
    default:
      return response.status >= 500 ? absl::UnavailableError(message) : absl::UnknownError(message);
  }
}

Reflector::Reflector(HttpTransport& transport, ObjectStore& store, Options options)
    : transport_(transport),
      store_(store),
      options_(std::move(options)),
      monitor_(options_.monitor != nullptr ? *options_.monitor : own_monitor_),
      backoff_(options_.initial_backoff, options_.max_backoff) {}

void Reflector::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  transport_.Cancel();
}

bool Reflector::Stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool Reflector::Wait(absl::Duration delay) {
  monitor_.heartbeat().ExpectSilence(delay);
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
}

absl::Duration Reflector::RetryDelay() {
  const absl::Duration backoff = backoff_.Next();
  if (!retry_after_.has_value()) return backoff;
  const absl::Duration asked = std::min(*retry_after_, absl::Minutes(5));
  retry_after_.reset();
  return asked;
}

std::string Reflector::Query(absl::string_view first) const {
  std::string query = absl::StrCat("?", first);
  if (!options_.label_selector.empty()) {
    absl::StrAppend(&query, "&labelSelector=", UrlEncode(options_.label_selector));
  }
  if (!options_.field_selector.empty()) {
    absl::StrAppend(&query, "&fieldSelector=", UrlEncode(options_.field_selector));
  }
  return query;
}

void Reflector::Run() {
  while (!Stopping()) {
    monitor_.heartbeat().Beat();
    absl::StatusOr<std::string> rv = List();
    if (Stopping()) return;
    if (!rv.ok()) {
      monitor_.Failed("list", rv.status());
      const absl::Duration delay = RetryDelay();
      spdlog::warn("kubernetes: list failed: {}; retrying in {}", rv.status().ToString(),
                   absl::FormatDuration(delay));
      if (Wait(delay)) return;
      continue;
    }
    backoff_.Reset();
    while (!Stopping()) {
      monitor_.heartbeat().Beat();
      const absl::Status status = Watch(*rv);
      if (Stopping()) return;
      if (absl::IsAborted(status)) {
        monitor_.WatchRestarted("expired");
        spdlog::info("kubernetes: {}; re-listing", std::string(status.message()));
        break;
      }
      if (status.ok()) {  // the watch ended as asked: renew it
        monitor_.WatchRestarted("timeout");
        continue;
      }
      monitor_.Failed("watch", status);
      monitor_.WatchRestarted(absl::IsDeadlineExceeded(status) ? "stalled" : "error");
      const absl::Duration delay = RetryDelay();
      spdlog::warn("kubernetes: watch: {}; resuming from resourceVersion {} in {}",
                   status.ToString(), *rv, absl::FormatDuration(delay));
      if (Wait(delay)) return;
    }
  }
}

absl::StatusOr<std::string> Reflector::List() {
  // Every page stays parsed until Replace(): the elements point into the parsers.
  std::vector<std::unique_ptr<simdjson::dom::parser>> parsers;
  std::vector<element> items;
  std::string rv;
  std::string next;
  int restarts = 0;
  const absl::Time start = absl::Now();
  while (true) {
    std::string query = absl::StrCat("limit=", options_.page_size);
    if (!next.empty()) absl::StrAppend(&query, "&continue=", UrlEncode(next));
    const std::string path = options_.path + Query(query);
    absl::StatusOr<HttpResponse> response = transport_.Get(path);
    if (!response.ok()) return response.status();
    if (response->status == 410 && !next.empty() && restarts++ < 3) {
      // The continue token expired between pages: the list starts over.
      parsers.clear();
      items.clear();
      next.clear();
      continue;
    }
    if (response->status != 200) {
      retry_after_ = response->retry_after;
      return HttpError(absl::StrCat("list ", options_.path), *response);
    }
    parsers.push_back(std::make_unique<simdjson::dom::parser>());
    element list;
    simdjson::dom::array page;
    if (parsers.back()->parse(response->body).get(list) != simdjson::SUCCESS ||
        list["items"].get(page) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("list ", options_.path, ": the response is not a Kubernetes list"));
    }
    for (element item : page) items.push_back(item);
    rv = StringField(list, "metadata", "resourceVersion");
    next = StringField(list, "metadata", "continue");
    if (next.empty()) break;
  }
  if (rv.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("list ", options_.path, ": the response has no resourceVersion"));
  }
  const absl::Time arrived = absl::Now();
  store_.Replace(items);
  store_.Sync(arrived);
  monitor_.Listed(arrived - start, items.size(), rv);
  spdlog::debug("kubernetes: listed {} objects at resourceVersion {}", items.size(), rv);
  return rv;
}

absl::Status Reflector::Watch(std::string& rv) {
  static thread_local std::mt19937_64 random(std::random_device{}());
  const absl::Duration timeout =
      options_.min_watch_timeout * std::uniform_real_distribution<double>(1.0, 2.0)(random);
  const std::string path =
      options_.path +
      Query(absl::StrCat("watch=1&allowWatchBookmarks=true&resourceVersion=", UrlEncode(rv),
                         "&timeoutSeconds=", std::max<int64_t>(1, absl::ToInt64Seconds(timeout))));
  simdjson::dom::parser parser;
  std::string pending;
  absl::Status stream_error;
  bool gone = false;
  bool received = false;
  const HttpTransport::OnData on_data = [&](absl::string_view chunk) {
    const absl::Time arrived = absl::Now();
    if (!received) backoff_.Reset();  // the watch is up: a later failure starts small again
    received = true;
    pending.append(chunk.data(), chunk.size());
    size_t start = 0;
    bool changed = false;
    for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
      const absl::string_view line(pending.data() + start, end - start);
      if (line.empty()) continue;
      stream_error = HandleEvent(parser, line, rv, gone);
      if (!stream_error.ok() || gone) break;
      changed = true;
    }
    pending.erase(0, start);
    if (changed) {  // each batch of whole events is a consistent state
      store_.Sync(arrived);
      monitor_.Synced(rv);
    }
    return stream_error.ok() && !gone;
  };
  absl::StatusOr<HttpResponse> response = transport_.Stream(path, options_.stall_timeout, on_data);
  if (gone) return absl::AbortedError(absl::StrCat("resourceVersion ", rv, " expired"));
  if (!stream_error.ok()) return stream_error;
  if (!response.ok()) return response.status();
  if (response->status == 410) {
    return absl::AbortedError(absl::StrCat("resourceVersion ", rv, " expired"));
  }
  if (response->status != 200) {
    retry_after_ = response->retry_after;
    return HttpError(absl::StrCat("watch ", options_.path), *response);
  }
  if (!received) return absl::UnavailableError("the watch ended before sending anything");
  return absl::OkStatus();
}

absl::Status Reflector::HandleEvent(simdjson::dom::parser& parser, absl::string_view line,
                                    std::string& rv, bool& gone) {
  element event;
  std::string_view type;
  element object;
  if (parser.parse(line.data(), line.size()).get(event) != simdjson::SUCCESS ||
      event["type"].get(type) != simdjson::SUCCESS ||
      event["object"].get(object) != simdjson::SUCCESS) {
    return absl::DataLossError(absl::StrCat("malformed watch event (", line.size(), " bytes: \"",
                                            line.substr(0, 60), "\")"));
  }
  if (type == "ERROR") {
    monitor_.Event("ERROR");
    int64_t code = 0;
    std::string_view message;
    if (object["code"].get(code) == simdjson::SUCCESS && code == 410) {
      gone = true;
      return absl::OkStatus();
    }
    if (object["message"].get(message) != simdjson::SUCCESS) message = "(no message)";
    return absl::UnavailableError(absl::StrCat("watch ERROR ", code, ": ", View(message)));
  }
  monitor_.Event(View(type));
  const std::string version = StringField(object, "metadata", "resourceVersion");
  if (type == "ADDED" || type == "MODIFIED") {
    store_.Upsert(object);
  } else if (type == "DELETED") {
    store_.Delete(object);
  } else if (type != "BOOKMARK") {
    spdlog::warn("kubernetes: ignoring watch event of unknown type {}", std::string(type));
  }
  if (!version.empty()) rv = version;
  return absl::OkStatus();
}

}  // namespace jawlb::k8s
