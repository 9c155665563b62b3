#include "k8s/curl_transport.h"

#include <deque>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include <curl/curl.h>

namespace jawlb::k8s {

// One transfer. The I/O thread fills it (under mu); the caller's thread waits
// on it and takes the streamed data out.
struct CurlIo::Request {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string url;
  std::string authorization;
  bool streaming = false;  // a watch (for the monitor: WATCH, else GET)

  absl::Mutex mu;
  HttpResponse response ABSL_GUARDED_BY(mu);
  std::deque<std::string> chunks ABSL_GUARDED_BY(mu);  // a 200 stream's body, as it comes
  absl::Time last_data ABSL_GUARDED_BY(mu) = absl::Now();
  bool done ABSL_GUARDED_BY(mu) = false;
  bool aborted ABSL_GUARDED_BY(mu) = false;
  CURLcode code ABSL_GUARDED_BY(mu) = CURLE_OK;
};

namespace {

using Request = CurlIo::Request;

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* request = static_cast<Request*>(user);
  absl::string_view line(data, size * count);
  absl::MutexLock lock(&request->mu);
  if (absl::StartsWithIgnoreCase(line, "HTTP/")) {
    // A new response (a 100 or a redirect may come first). Its status is known
    // before the body, so OnBody can decide whether to stream.
    request->response.retry_after.reset();
    const size_t space = line.find(' ');
    int status = 0;
    if (space != absl::string_view::npos && absl::SimpleAtoi(line.substr(space + 1, 3), &status)) {
      request->response.status = status;
    }
  } else if (absl::StartsWithIgnoreCase(line, "retry-after:")) {
    line.remove_prefix(sizeof("retry-after:") - 1);
    int seconds = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &seconds) && seconds >= 0) {
      request->response.retry_after = absl::Seconds(seconds);
    }
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* request = static_cast<Request*>(user);
  const size_t bytes = size * count;
  absl::MutexLock lock(&request->mu);
  request->last_data = absl::Now();
  if (!request->streaming || request->response.status != 200) {
    request->response.body.append(data, bytes);
  } else {
    request->chunks.emplace_back(data, bytes);
  }
  return bytes;
}

// Sets `blob_option` to `pem` when there is one, else `file_option` to `file`.
void SetPemOrFile(CURL* curl, CURLoption blob_option, const std::string& pem,
                  CURLoption file_option, const std::string& file) {
  if (!pem.empty()) {
    curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(curl, blob_option, &blob);
  } else if (!file.empty()) {
    curl_easy_setopt(curl, file_option, file.c_str());
  }
}

void SetTls(CURL* curl, const ClusterAccess& access) {
  SetPemOrFile(curl, CURLOPT_CAINFO_BLOB, access.ca_pem, CURLOPT_CAINFO, access.ca_file);
  SetPemOrFile(curl, CURLOPT_SSLCERT_BLOB, access.client_cert_pem, CURLOPT_SSLCERT,
               access.client_cert_file);
  SetPemOrFile(curl, CURLOPT_SSLKEY_BLOB, access.client_key_pem, CURLOPT_SSLKEY,
               access.client_key_file);
  if (access.insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
}

}  // namespace

// --- CurlIo -------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<CurlIo>> CurlIo::Start(const ClusterAccess& access,
                                                      ApiMonitor* monitor) {
  if (!absl::StartsWith(access.server, "https://") && !absl::StartsWith(access.server, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(access.origin, ": server \"", access.server, "\" is not an http(s) URL"));
  }
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) return absl::InternalError("curl_global_init failed");
  std::unique_ptr<CurlIo> io(new CurlIo(access, monitor));
  if (io->multi_ == nullptr) return absl::InternalError("curl_multi_init failed");
  curl_multi_setopt(static_cast<CURLM*>(io->multi_), CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  io->thread_ = std::thread([raw = io.get()] { raw->Run(); });
  return io;
}

CurlIo::CurlIo(const ClusterAccess& access, ApiMonitor* monitor)
    : access_(access), monitor_(monitor), multi_(curl_multi_init()) {}

CurlIo::~CurlIo() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
  if (thread_.joinable()) thread_.join();
  for (auto& [easy, request] : running_) Complete(*request, CURLE_ABORTED_BY_CALLBACK);
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

std::unique_ptr<HttpTransport> CurlIo::NewTransport() {
  return std::unique_ptr<HttpTransport>(new CurlTransport(*this));
}

void CurlIo::Submit(std::shared_ptr<Request> request) {
  {
    absl::MutexLock lock(&mu_);
    to_add_.push_back(std::move(request));
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void CurlIo::Abort(std::shared_ptr<Request> request) {
  {
    absl::MutexLock lock(&mu_);
    to_abort_.push_back(std::move(request));
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void CurlIo::TakeCommands() {
  std::vector<std::shared_ptr<Request>> add;
  std::vector<std::shared_ptr<Request>> abort;
  {
    absl::MutexLock lock(&mu_);
    add.swap(to_add_);
    abort.swap(to_abort_);
  }
  auto* multi = static_cast<CURLM*>(multi_);
  for (auto& request : add) {
    running_[request->easy] = request;
    curl_multi_add_handle(multi, request->easy);
  }
  for (auto& request : abort) {
    if (running_.contains(request->easy)) Complete(*request, CURLE_ABORTED_BY_CALLBACK);
  }
}

void CurlIo::Run() {
  auto* multi = static_cast<CURLM*>(multi_);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    TakeCommands();
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      auto it = running_.find(message->easy_handle);
      if (it != running_.end()) Complete(*it->second, message->data.result);
    }
    if (monitor_ != nullptr) monitor_->heartbeat().Beat();
    // Woken by traffic, a submission, or after a second (the heartbeat).
    curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
}

void CurlIo::Complete(Request& request, int code) {
  auto it = running_.find(request.easy);
  if (it == running_.end()) return;
  std::shared_ptr<Request> keep = std::move(it->second);
  running_.erase(it);
  long status = 0;
  curl_easy_getinfo(request.easy, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t micros = 0;
  curl_easy_getinfo(request.easy,
                    request.streaming ? CURLINFO_STARTTRANSFER_TIME_T : CURLINFO_TOTAL_TIME_T, &micros);
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), request.easy);
  curl_easy_cleanup(request.easy);
  curl_slist_free_all(request.headers);
  request.easy = nullptr;
  request.headers = nullptr;
  if (monitor_ != nullptr) {
    monitor_->Request(request.streaming ? "WATCH" : "GET", static_cast<int>(status),
                      absl::Microseconds(micros));
  }
  absl::MutexLock lock(&request.mu);
  request.done = true;
  request.code = static_cast<CURLcode>(code);
  request.aborted = code == CURLE_ABORTED_BY_CALLBACK;
  if (status != 0) request.response.status = static_cast<int>(status);
}

// --- CurlTransport ------------------------------------------------------------

CurlTransport::CurlTransport(CurlIo& io) : io_(io), tokens_(io.access_) {}

CurlTransport::~CurlTransport() { Cancel(); }

void CurlTransport::Cancel() {
  std::shared_ptr<CurlIo::Request> active;
  {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    active = active_;
  }
  if (active != nullptr) io_.Abort(std::move(active));
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
  if (response.ok() && response->status == 401 && !io_.access_.token_file.empty()) {
    // The token may have rotated since it was read: read the file and retry once.
    tokens_.Invalidate();
    response = PerformOnce(path, stall_timeout, on_data);
  }
  return response;
}

std::shared_ptr<CurlIo::Request> CurlTransport::MakeRequest(const std::string& path,
                                                           absl::Duration timeout,
                                                           bool streaming) {
  const ClusterAccess& access = io_.access_;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return nullptr;
  auto request = std::make_shared<CurlIo::Request>();
  request->easy = curl;
  request->url = access.server + path;
  request->streaming = streaming;
  request->headers = curl_slist_append(nullptr, "Accept: application/json");
  const std::string token = tokens_.Current();
  if (!token.empty()) {
    request->authorization = "Authorization: Bearer " + token;
    request->headers = curl_slist_append(request->headers, request->authorization.c_str());
  }
  curl_easy_setopt(curl, CURLOPT_URL, request->url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, request->headers);
  curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  curl_easy_setopt(curl, CURLOPT_PIPEWAIT, 1L);  // share a connection rather than open one
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "jawlb");
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, request.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, request.get());
  if (!streaming) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
  }
  SetTls(curl, access);
  return request;
}

CurlTransport::Ending CurlTransport::Deliver(CurlIo::Request& request,
                                             absl::Duration stall_timeout,
                                             const OnData* on_data) {
  while (true) {
    std::deque<std::string> chunks;
    bool done = false;
    bool stalled = false;
    {
      absl::MutexLock lock(&request.mu);
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(request.mu) {
        return request.done || !request.chunks.empty();
      };
      const bool streaming_body = on_data != nullptr && request.response.status == 200;
      request.mu.AwaitWithDeadline(absl::Condition(&ready),
                                   streaming_body ? request.last_data + stall_timeout
                                                  : absl::Now() + absl::Seconds(1));
      chunks.swap(request.chunks);
      done = request.done;
      // Not a byte, not even a bookmark: the stream is dead.
      stalled = !done && chunks.empty() && streaming_body &&
                absl::Now() - request.last_data >= stall_timeout;
    }
    for (const std::string& chunk : chunks) {
      if (!(*on_data)(chunk)) return Ending::kStoppedByReader;
    }
    if (done) return Ending::kDone;
    if (stalled) return Ending::kStalled;
    absl::MutexLock lock(&mu_);
    if (cancelled_) return Ending::kDone;  // Cancel() aborted it: wait for that below
  }
}

absl::StatusOr<HttpResponse> CurlTransport::PerformOnce(const std::string& path,
                                                        absl::Duration stall_timeout,
                                                        const OnData* on_data) {
  std::shared_ptr<CurlIo::Request> request = MakeRequest(path, stall_timeout, on_data != nullptr);
  if (request == nullptr) return absl::InternalError("curl_easy_init failed");
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_) {
      curl_easy_cleanup(request->easy);
      curl_slist_free_all(request->headers);
      return absl::CancelledError("transport cancelled");
    }
    active_ = request;  // from now on Cancel() aborts it
  }
  io_.Submit(request);
  const Ending ending = Deliver(*request, stall_timeout, on_data);
  // Whatever ended the wait, the transfer ends before we return (it writes
  // into `request`): aborting one already done changes nothing.
  io_.Abort(request);
  {
    absl::MutexLock lock(&request->mu);
    auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(request->mu) { return request->done; };
    request->mu.Await(absl::Condition(&done));
  }
  bool cancelled = false;
  {
    absl::MutexLock lock(&mu_);
    active_.reset();
    cancelled = cancelled_;
  }
  absl::MutexLock lock(&request->mu);
  if (ending == Ending::kStoppedByReader) return request->response;
  if (ending == Ending::kStalled) {
    return absl::DeadlineExceededError(
        absl::StrCat("stream silent for ", absl::FormatDuration(stall_timeout)));
  }
  if (request->aborted || cancelled) return absl::CancelledError("transport cancelled");
  if (request->code != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat("GET ", io_.access_.server,
                                               path.substr(0, path.find('?')), ": ",
                                               curl_easy_strerror(request->code)));
  }
  return request->response;
}

}  // namespace jawlb::k8s
