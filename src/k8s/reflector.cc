#include "k8s/reflector.h"

#include <memory>
#include <random>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

#include "common/clock.h"

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

// For logs: the collection and its selectors.
std::string Describe(const Reflector::Options& options) {
  std::string what = options.path;
  for (const std::string* selector : {&options.label_selector, &options.field_selector}) {
    if (!selector->empty()) absl::StrAppend(&what, " [", *selector, "]");
  }
  return what;
}

// Watch events are parsed on the I/O thread, one at a time: one parser serves
// every reflector there. It keeps the capacity of the largest event seen, so
// one that grew past this is let go.
simdjson::dom::parser& EventParser() {
  static constexpr size_t kKeepCapacity = 256 << 10;
  thread_local simdjson::dom::parser parser;
  if (parser.capacity() > kKeepCapacity) parser = simdjson::dom::parser();
  return parser;
}

// The longest watch event taken (a line of the stream): etcd stores no object
// over 1.5 MiB, so a longer line is garbage, and waiting for its end would
// buffer without bound.
constexpr size_t kMaxEventBytes = 16 << 20;

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
      what_(Describe(options_)),
      own_monitor_(options_.monitor != nullptr ? nullptr : std::make_unique<ApiMonitor>()),
      monitor_(options_.monitor != nullptr ? *options_.monitor : *own_monitor_),
      backoff_(options_.initial_backoff, options_.max_backoff) {}

void Reflector::Start() {
  transport_.After(absl::ZeroDuration(), [this] { List(); });
}

void Reflector::Stop() { transport_.Cancel(); }

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

void Reflector::Failed(absl::string_view operation, const absl::Status& status) {
  monitor_.Failed(operation, status);
  if (options_.stats != nullptr) options_.stats->Failed(operation, status);
}

void Reflector::WatchRestarted(absl::string_view reason) {
  monitor_.WatchRestarted(reason);
  if (options_.stats != nullptr) options_.stats->WatchRestarted(reason);
}

void Reflector::Event(absl::string_view type) {
  monitor_.Event(type);
  if (options_.stats != nullptr) options_.stats->Event();
}

void Reflector::List() {
  listing_ = std::make_unique<Listing>();
  listing_->start = Clock::Real().Now();
  RequestPage();
}

void Reflector::RequestPage() {
  std::string query = absl::StrCat("limit=", options_.page_size);
  if (!listing_->next.empty()) absl::StrAppend(&query, "&continue=", UrlEncode(listing_->next));
  transport_.Get(options_.path + Query(query),
                 [this](const absl::StatusOr<HttpResponse>& response) { OnPage(response); });
}

void Reflector::OnPage(const absl::StatusOr<HttpResponse>& response) {
  if (response.ok() && response->status == 410 && !listing_->next.empty() &&
      listing_->restarts < 3) {
    // The continue token expired between pages: the list starts over.
    const int restarts = listing_->restarts + 1;
    listing_ = std::make_unique<Listing>();
    listing_->start = Clock::Real().Now();
    listing_->restarts = restarts;
    return RequestPage();
  }
  if (const absl::Status status = TakePage(response); !status.ok()) return ListFailed(status);
  if (!listing_->next.empty()) return RequestPage();
  if (listing_->resource_version.empty()) {
    return ListFailed(absl::InvalidArgumentError(
        absl::StrCat("list ", options_.path, ": the response has no resourceVersion")));
  }
  const absl::Time arrived = Clock::Real().Now();
  store_.Replace(listing_->items);
  store_.Sync(arrived);
  const size_t objects = listing_->items.size();
  resource_version_ = std::move(listing_->resource_version);
  monitor_.Listed(arrived - listing_->start, objects, resource_version_);
  if (options_.stats != nullptr) options_.stats->Listed();
  spdlog::debug("kubernetes: listed {} objects of {} at resourceVersion {}", objects, what_,
                resource_version_);
  listing_.reset();
  backoff_.Reset();
  if (objects == 0 && options_.stop_if_first_list_empty && !listed_once_) {
    spdlog::debug("kubernetes: {} has no objects: not watching it", what_);
    return;
  }
  listed_once_ = true;
  Watch();
}

absl::Status Reflector::TakePage(const absl::StatusOr<HttpResponse>& response) {
  if (!response.ok()) return response.status();
  Listing& listing = *listing_;
  if (response->status != 200) {
    retry_after_ = response->retry_after;
    return HttpError(absl::StrCat("list ", options_.path), *response);
  }
  listing.parsers.push_back(std::make_unique<simdjson::dom::parser>());
  element list;
  simdjson::dom::array page;
  if (listing.parsers.back()->parse(response->body).get(list) != simdjson::SUCCESS ||
      list["items"].get(page) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        absl::StrCat("list ", options_.path, ": the response is not a Kubernetes list"));
  }
  for (element item : page) listing.items.push_back(item);
  listing.resource_version = StringField(list, "metadata", "resourceVersion");
  listing.next = StringField(list, "metadata", "continue");
  return absl::OkStatus();
}

void Reflector::ListFailed(const absl::Status& status) {
  listing_.reset();
  Failed("list", status);
  const absl::Duration delay = RetryDelay();
  spdlog::warn("kubernetes: list of {} failed: {}; retrying in {}", what_, status.ToString(),
               absl::FormatDuration(delay));
  transport_.After(delay, [this] { List(); });
}

void Reflector::Watch() {
  static thread_local std::mt19937_64 random(std::random_device{}());
  const absl::Duration timeout =
      options_.min_watch_timeout * std::uniform_real_distribution<double>(1.0, 2.0)(random);
  const std::string path =
      options_.path +
      Query(absl::StrCat(
          "watch=1&allowWatchBookmarks=true&resourceVersion=", UrlEncode(resource_version_),
          "&timeoutSeconds=", std::max<int64_t>(1, absl::ToInt64Seconds(timeout))));
  watching_ = Watching{};
  transport_.Stream(
      path, options_.stall_timeout, [this](absl::string_view chunk) { return OnWatchData(chunk); },
      [this](const absl::StatusOr<HttpResponse>& response) { OnWatchEnd(response); });
}

bool Reflector::OnWatchData(absl::string_view chunk) {
  const absl::Time arrived = Clock::Real().Now();
  if (!watching_.received) backoff_.Reset();  // the watch is up: a later failure starts small
  watching_.received = true;
  std::string& pending = watching_.pending;
  pending.append(chunk.data(), chunk.size());
  simdjson::dom::parser& parser = EventParser();
  size_t start = 0;
  bool changed = false;
  for (size_t end; (end = pending.find('\n', start)) != std::string::npos; start = end + 1) {
    const absl::string_view line(pending.data() + start, end - start);
    if (line.empty()) continue;
    watching_.error = HandleEvent(parser, line);
    if (!watching_.error.ok() || watching_.gone) break;
    changed = true;
  }
  pending.erase(0, start);
  if (pending.size() > kMaxEventBytes && watching_.error.ok()) {
    // No object etcd stores comes near this: the stream is garbage.
    watching_.error = absl::DataLossError(
        absl::StrCat("watch event over ", kMaxEventBytes >> 20, " MiB without its end"));
  }
  if (pending.empty() && pending.capacity() > 4096) pending.shrink_to_fit();
  if (changed) {  // each batch of whole events is a consistent state
    store_.Sync(arrived);
    monitor_.Synced(resource_version_);
    if (options_.stats != nullptr) options_.stats->Synced();
  }
  return watching_.error.ok() && !watching_.gone;
}

absl::Status Reflector::WatchResult(const absl::StatusOr<HttpResponse>& response) {
  const auto expired = [this] {
    return absl::AbortedError(absl::StrCat("resourceVersion ", resource_version_, " expired"));
  };
  if (watching_.gone) return expired();
  if (!watching_.error.ok()) return watching_.error;
  if (!response.ok()) return response.status();
  if (response->status == 410) return expired();
  if (response->status != 200) {
    retry_after_ = response->retry_after;
    return HttpError(absl::StrCat("watch ", options_.path), *response);
  }
  if (!watching_.received) return absl::UnavailableError("the watch ended before sending anything");
  return absl::OkStatus();
}

void Reflector::OnWatchEnd(const absl::StatusOr<HttpResponse>& response) {
  const absl::Status status = WatchResult(response);
  watching_ = Watching{};
  if (absl::IsAborted(status)) {
    WatchRestarted("expired");
    spdlog::info("kubernetes: watch of {}: {}; re-listing", what_, std::string(status.message()));
    return List();
  }
  if (status.ok()) {  // the watch ended as asked: renew it
    WatchRestarted("timeout");
    return Watch();
  }
  Failed("watch", status);
  WatchRestarted(absl::IsDeadlineExceeded(status) ? "stalled" : "error");
  const absl::Duration delay = RetryDelay();
  spdlog::warn("kubernetes: watch of {}: {}; resuming from resourceVersion {} in {}", what_,
               status.ToString(), resource_version_, absl::FormatDuration(delay));
  transport_.After(delay, [this] { Watch(); });
}

absl::Status Reflector::HandleEvent(simdjson::dom::parser& parser, absl::string_view line) {
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
    Event("ERROR");
    int64_t code = 0;
    std::string_view message;
    if (object["code"].get(code) == simdjson::SUCCESS && code == 410) {
      watching_.gone = true;
      return absl::OkStatus();
    }
    if (object["message"].get(message) != simdjson::SUCCESS) message = "(no message)";
    return absl::UnavailableError(absl::StrCat("watch ERROR ", code, ": ", View(message)));
  }
  Event(View(type));
  const std::string version = StringField(object, "metadata", "resourceVersion");
  if (type == "ADDED" || type == "MODIFIED") {
    store_.Upsert(object);
  } else if (type == "DELETED") {
    store_.Delete(object);
  } else if (type != "BOOKMARK") {
    spdlog::warn("kubernetes: ignoring watch event of unknown type {}", std::string(type));
  }
  if (!version.empty()) resource_version_ = version;
  return absl::OkStatus();
}

}  // namespace jawlb::k8s
