#include "k8s/curl_transport.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include <curl/curl.h>

#include "common/clock.h"

namespace jawlb::k8s {

struct CurlIo::User {
  bool cancelled = false;
};

struct CurlIo::Request {
  // What was asked.
  CurlIo* io = nullptr;
  std::shared_ptr<User> user;
  std::string path;
  bool streaming = false;  // a watch (for the monitor: WATCH, else GET)
  absl::Duration stall_timeout;
  HttpTransport::OnData on_data;
  HttpTransport::OnDone done;
  bool retried = false;  // after a 401

  // The transfer.
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string url;
  std::string authorization;
  HttpResponse response;
  absl::Time last_data;
  bool stopped_by_reader = false;
  bool body_too_large = false;

  // Bytes came in (a header line or body).
  void Received() {
    last_data = Clock::Real().Now();
    io->received_ = true;
  }
};

namespace {

using Request = CurlIo::Request;

constexpr long kStreamBufferBytes = 2048;

// The largest response body kept (a page of a list, an error). A page of 500
// EndpointSlices of 100 endpoints each is about 15 MB; etcd keeps no object
// over 1.5 MiB.
constexpr size_t kMaxBodyBytes = 64 << 20;

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* request = static_cast<Request*>(user);
  absl::string_view line(data, size * count);
  request->Received();
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
  request->Received();
  if (request->user->cancelled) return 0;  // ends the transfer
  if (!request->streaming || request->response.status != 200) {
    if (request->response.body.size() + bytes > kMaxBodyBytes) {
      request->body_too_large = true;
      return 0;  // ends the transfer; Finish() says why
    }
    request->response.body.append(data, bytes);
    return bytes;
  }
  if (!request->on_data(absl::string_view(data, bytes))) {
    request->stopped_by_reader = true;
    return 0;
  }
  return request->user->cancelled ? 0 : bytes;
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
    : access_(access), tokens_(access_), monitor_(monitor), multi_(curl_multi_init()) {}

CurlIo::~CurlIo() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (multi_ != nullptr) curl_multi_wakeup(static_cast<CURLM*>(multi_));
  if (thread_.joinable()) thread_.join();
  for (auto& [easy, request] : running_) Cleanup(*request);
  running_.clear();
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

std::unique_ptr<HttpTransport> CurlIo::NewTransport() {
  return std::unique_ptr<HttpTransport>(new CurlTransport(*this));
}

bool CurlIo::Post(std::function<void()> command) {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    commands_.push_back(std::move(command));
  }
  curl_multi_wakeup(static_cast<CURLM*>(multi_));
  return true;
}

bool CurlIo::RunCommands() {
  std::vector<std::function<void()>> commands;
  {
    absl::MutexLock lock(&mu_);
    commands.swap(commands_);
  }
  for (auto& command : commands) command();
  return !commands.empty();
}

absl::Time CurlIo::RunTimers(absl::Time now) {
  while (!timers_.empty() && timers_.begin()->first <= now) {
    Timer timer = std::move(timers_.begin()->second);
    timers_.erase(timers_.begin());
    if (!timer.user->cancelled) timer.task();
  }
  return timers_.empty() ? absl::InfiniteFuture() : timers_.begin()->first;
}

void CurlIo::EndStalled(absl::Time now) {
  std::vector<Request*> stalled;
  for (auto& [easy, request] : running_) {
    if (request->streaming && now - request->last_data >= request->stall_timeout) {
      stalled.push_back(request.get());
    }
  }
  for (Request* request : stalled) Finish(*request, kStalled);
}

void CurlIo::Run() {
  auto* multi = static_cast<CURLM*>(multi_);
  absl::Time next_stall_check = Clock::Real().Now() + absl::Seconds(1);
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    const bool had_commands = RunCommands();
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      auto it = running_.find(message->easy_handle);
      if (it != running_.end()) Finish(*it->second, message->data.result);
    }
    absl::Time now = Clock::Real().Now();
    if (now >= next_stall_check) {
      EndStalled(now);
      next_stall_check = now + absl::Seconds(1);
    }
    const absl::Time next_timer = RunTimers(now);
    if (monitor_ != nullptr) monitor_->heartbeat().Beat(now);
    // Commands may have queued more or started transfers. A transfer that got
    // data may have more already read from the socket, waiting in curl (a
    // large event through a small receive buffer): the socket will not wake
    // the poll for it, so perform again at once.
    if (had_commands || std::exchange(received_, false)) continue;
    // Woken by traffic, a command, the next timer, or after a second (the
    // heartbeat and stall checks).
    now = Clock::Real().Now();
    const absl::Duration wait = std::clamp(next_timer - now + absl::Milliseconds(1),
                                           absl::ZeroDuration(), absl::Seconds(1));
    const int64_t wait_ms = absl::ToInt64Milliseconds(wait);
    curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait_ms), nullptr);
  }
}

void CurlIo::StartRequest(const std::shared_ptr<Request>& request) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    request->done(absl::InternalError("curl_easy_init failed"));
    return;
  }
  request->easy = curl;
  request->io = this;
  request->url = access_.server + request->path;
  request->response = HttpResponse{};
  request->last_data = Clock::Real().Now();
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
  if (request->streaming) {
    // A watch lives for minutes, mostly idle: its receive buffer (curl's default
    // 16 KiB) would be most of what a watched service costs. Events larger than
    // this arrive in more pieces.
    curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, kStreamBufferBytes);
  } else {
    // A page of a huge service on a slow link may take minutes: what ends a
    // GET is no progress (under 1 KiB/s for 30 s), and at the latest 10 min.
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 600000L);
  }
  SetTls(curl, access_);
  running_[curl] = request;
  curl_multi_add_handle(static_cast<CURLM*>(multi_), curl);
}

void CurlIo::Cleanup(Request& request) {
  if (request.easy == nullptr) return;
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), request.easy);
  curl_easy_cleanup(request.easy);
  curl_slist_free_all(request.headers);
  request.easy = nullptr;
  request.headers = nullptr;
}

void CurlIo::Finish(Request& finished, int code) {
  auto it = running_.find(finished.easy);
  if (it == running_.end()) return;
  std::shared_ptr<Request> request = std::move(it->second);
  running_.erase(it);
  long status = 0;
  curl_easy_getinfo(request->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t micros = 0;
  curl_easy_getinfo(request->easy,
                    request->streaming ? CURLINFO_STARTTRANSFER_TIME_T : CURLINFO_TOTAL_TIME_T,
                    &micros);
  Cleanup(*request);
  if (monitor_ != nullptr) {
    monitor_->Request(request->streaming ? "WATCH" : "GET", static_cast<int>(status),
                      absl::Microseconds(micros));
  }
  if (request->user->cancelled) return;
  if (status != 0) request->response.status = static_cast<int>(status);
  if (request->stopped_by_reader) {
    request->done(std::move(request->response));
    return;
  }
  if (code == kStalled) {
    request->done(absl::DeadlineExceededError(
        absl::StrCat("stream silent for ", absl::FormatDuration(request->stall_timeout))));
    return;
  }
  if (request->body_too_large) {
    request->done(absl::ResourceExhaustedError(
        absl::StrCat("GET ", access_.server, request->path.substr(0, request->path.find('?')),
                     ": response body over ", kMaxBodyBytes >> 20, " MiB")));
    return;
  }
  if (code != CURLE_OK) {
    request->done(absl::UnavailableError(
        absl::StrCat("GET ", access_.server, request->path.substr(0, request->path.find('?')), ": ",
                     curl_easy_strerror(static_cast<CURLcode>(code)))));
    return;
  }
  if (request->response.status == 401 && !access_.token_file.empty() && !request->retried) {
    // The token may have rotated since it was read: read the file and retry once.
    tokens_.Invalidate();
    request->retried = true;
    Post([this, request = std::move(request)] {
      if (!request->user->cancelled) StartRequest(request);
    });
    return;
  }
  request->done(std::move(request->response));
}

void CurlIo::Drop(const User& user) {
  std::vector<std::shared_ptr<Request>> dropped;
  for (auto it = running_.begin(); it != running_.end();) {
    if (it->second->user.get() == &user) {
      dropped.push_back(std::move(it->second));
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& request : dropped) Cleanup(*request);
  std::erase_if(timers_, [&](const auto& entry) { return entry.second.user.get() == &user; });
}

// --- CurlTransport ------------------------------------------------------------

CurlTransport::CurlTransport(CurlIo& io) : io_(io), user_(std::make_shared<CurlIo::User>()) {}

CurlTransport::~CurlTransport() { Cancel(); }

void CurlTransport::Get(std::string path, OnDone done) {
  auto request = std::make_shared<CurlIo::Request>();
  request->path = std::move(path);
  request->done = std::move(done);
  Submit(std::move(request));
}

void CurlTransport::Stream(std::string path, absl::Duration stall_timeout, OnData on_data,
                           OnDone done) {
  auto request = std::make_shared<CurlIo::Request>();
  request->path = std::move(path);
  request->streaming = true;
  request->stall_timeout = stall_timeout;
  request->on_data = std::move(on_data);
  request->done = std::move(done);
  Submit(std::move(request));
}

void CurlTransport::Submit(std::shared_ptr<CurlIo::Request> request) {
  used_.store(true, std::memory_order_release);
  request->user = user_;
  io_.Post([io = &io_, request = std::move(request)] {
    if (!request->user->cancelled) io->StartRequest(request);
  });
}

void CurlTransport::After(absl::Duration delay, Task task) {
  used_.store(true, std::memory_order_release);
  io_.Post([io = &io_, user = user_, delay, task = std::move(task)]() mutable {
    if (!user->cancelled) {
      io->timers_.emplace(Clock::Real().Now() + delay, CurlIo::Timer{user, std::move(task)});
    }
  });
}

void CurlTransport::Cancel() {
  if (!used_.load(std::memory_order_acquire)) return;
  if (io_.OnIoThread()) {
    // From one of our callbacks (maybe inside curl's): none of ours runs
    // again; the transfers go once curl is out of the way.
    user_->cancelled = true;
    io_.Post([io = &io_, user = user_] { io->Drop(*user); });
    return;
  }
  absl::Notification dropped;
  if (!io_.Post([&] {
        user_->cancelled = true;
        io_.Drop(*user_);
        dropped.Notify();
      })) {
    return;  // the loop has stopped: nothing runs any more
  }
  dropped.WaitForNotification();
}

}  // namespace jawlb::k8s
