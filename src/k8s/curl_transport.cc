#include "k8s/curl_transport.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <curl/curl.h>

namespace jawlb::k8s {
namespace {

// What one request collects while curl runs it.
struct Exchange {
  const HttpTransport::OnData* on_data = nullptr;
  const std::atomic<bool>* cancelled = nullptr;
  Heartbeat* heartbeat = nullptr;
  absl::Duration stall_timeout;
  absl::Time last_data = absl::Now();
  HttpResponse response;
  bool stopped_by_reader = false;
  bool stalled = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  absl::string_view line(data, size * count);
  if (absl::StartsWithIgnoreCase(line, "HTTP/")) {
    // A new response (a 100 or a redirect may come first). Its status is known
    // before the body, so OnBody can decide whether to stream.
    exchange->response.retry_after.reset();
    const size_t space = line.find(' ');
    int status = 0;
    if (space != absl::string_view::npos && absl::SimpleAtoi(line.substr(space + 1, 3), &status)) {
      exchange->response.status = status;
    }
  } else if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    line.remove_prefix(sizeof("retry-after:") - 1);
    int seconds = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &seconds) && seconds >= 0) {
      exchange->response.retry_after = absl::Seconds(seconds);
    }
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* exchange = static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  exchange->last_data = absl::Now();
  if (exchange->on_data == nullptr || exchange->response.status != 200) {
    exchange->response.body.append(data, bytes);
    return bytes;
  }
  if (!(*exchange->on_data)(absl::string_view(data, bytes))) {
    exchange->stopped_by_reader = true;
    return 0;  // makes curl stop with CURLE_WRITE_ERROR
  }
  return bytes;
}

// Called at least once a second while a transfer runs.
int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* exchange = static_cast<Exchange*>(user);
  if (exchange->heartbeat != nullptr) exchange->heartbeat->Beat();
  if (exchange->cancelled->load()) return 1;
  if (exchange->on_data != nullptr && exchange->response.status == 200 &&
      absl::Now() - exchange->last_data > exchange->stall_timeout) {
    exchange->stalled = true;  // not a byte, not even a bookmark: the stream is dead
    return 1;
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CurlTransport>> CurlTransport::Create(const ClusterAccess& access,
                                                                     ApiMonitor* monitor) {
  if (!absl::StartsWith(access.server, "https://") && !absl::StartsWith(access.server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(access.origin, ": server \"", access.server, "\" is not an http(s) URL"));
  }
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) return absl::InternalError("curl_global_init failed");
  std::unique_ptr<CurlTransport> transport(new CurlTransport(access, monitor));
  if (transport->curl_ == nullptr) return absl::InternalError("curl_easy_init failed");
  return transport;
}

CurlTransport::CurlTransport(const ClusterAccess& access, ApiMonitor* monitor)
    : access_(access), monitor_(monitor), tokens_(access_), curl_(curl_easy_init()) {}

CurlTransport::~CurlTransport() {
  if (curl_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

absl::StatusOr<HttpResponse> CurlTransport::Get(const std::string& path) {
  return Perform(path, absl::Seconds(60), nullptr);
}

absl::StatusOr<HttpResponse> CurlTransport::Stream(const std::string& path,
                                                   absl::Duration stall_timeout,
                                                   const OnData& on_data) {
  return Perform(path, stall_timeout, &on_data);
}

absl::StatusOr<HttpResponse> CurlTransport::Perform(const std::string& path,
                                                    absl::Duration stall_timeout,
                                                    const OnData* on_data) {
  absl::StatusOr<HttpResponse> response = PerformOnce(path, stall_timeout, on_data);
  if (response.ok() && response->status == 401 && !access_.token_file.empty()) {
    // The token may have rotated since it was read: read the file and retry once.
    tokens_.Invalidate();
    response = PerformOnce(path, stall_timeout, on_data);
  }
  return response;
}

absl::StatusOr<HttpResponse> CurlTransport::PerformOnce(const std::string& path,
                                                        absl::Duration stall_timeout,
                                                        const OnData* on_data) {
  if (cancelled_.load()) return absl::CancelledError("transport cancelled");
  CURL* curl = static_cast<CURL*>(curl_);
  curl_easy_reset(curl);  // keeps the connection cache
  const std::string url = access_.server + path;
  Exchange exchange;
  exchange.on_data = on_data;
  exchange.cancelled = &cancelled_;
  exchange.heartbeat = monitor_ != nullptr ? &monitor_->heartbeat() : nullptr;
  exchange.stall_timeout = stall_timeout;

  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  const std::string token = tokens_.Current();
  std::string authorization;
  if (!token.empty()) {
    authorization = "Authorization: Bearer " + token;
    headers = curl_slist_append(headers, authorization.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "jawlb");
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &exchange);
  if (on_data == nullptr) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(stall_timeout)));
  }
  if (!access_.ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(access_.ca_pem.data()), access_.ca_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
  } else if (!access_.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, access_.ca_file.c_str());
  }
  if (!access_.client_cert_pem.empty()) {
    curl_blob cert{const_cast<char*>(access_.client_cert_pem.data()),
                   access_.client_cert_pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_SSLCERT_BLOB, &cert);
  } else if (!access_.client_cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, access_.client_cert_file.c_str());
  }
  if (!access_.client_key_pem.empty()) {
    curl_blob key{const_cast<char*>(access_.client_key_pem.data()), access_.client_key_pem.size(),
                  CURL_BLOB_COPY};
    curl_easy_setopt(curl, CURLOPT_SSLKEY_BLOB, &key);
  } else if (!access_.client_key_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLKEY, access_.client_key_file.c_str());
  }
  if (access_.insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (monitor_ != nullptr) {
    monitor_->heartbeat().Beat();
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t micros = 0;
    curl_easy_getinfo(
        curl, on_data != nullptr ? CURLINFO_STARTTRANSFER_TIME_T : CURLINFO_TOTAL_TIME_T, &micros);
    monitor_->Request(on_data != nullptr ? "WATCH" : "GET", static_cast<int>(status),
                      absl::Microseconds(micros));
  }
  if (exchange.stopped_by_reader) return exchange.response;
  if (exchange.stalled) {
    return absl::DeadlineExceededError(
        absl::StrCat("stream silent for ", absl::FormatDuration(stall_timeout)));
  }
  if (code == CURLE_ABORTED_BY_CALLBACK || cancelled_.load()) {
    return absl::CancelledError("transport cancelled");
  }
  if (code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "GET ", access_.server, path.substr(0, path.find('?')), ": ", curl_easy_strerror(code)));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  exchange.response.status = static_cast<int>(status);
  return exchange.response;
}

}  // namespace jawlb::k8s
