#include "transport/tls.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace jawlb::transport {
namespace {

// OpenSSL's queued errors, oldest first, as one line; the queue is emptied.
std::string OpenSslErrors() {
  std::string text;
  for (unsigned long code = ERR_get_error(); code != 0; code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof(buffer));
    absl::StrAppend(&text, text.empty() ? "" : "; ", buffer);
  }
  return text.empty() ? "no detail from OpenSSL" : text;
}

// Selects "h2" from the client's ALPN list; refuses a list without it.
int SelectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length,
               const unsigned char* in, unsigned int in_length, void* /*arg*/) {
  static const unsigned char kH2[] = {'h', '2'};
  for (unsigned int i = 0; i < in_length;) {
    const unsigned int length = in[i];
    if (i + 1 + length > in_length) break;
    if (length == sizeof(kH2) && in[i + 1] == 'h' && in[i + 2] == '2') {
      *out = in + i + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + length;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

std::string Subject(X509* certificate) {
  char* line = X509_NAME_oneline(X509_get_subject_name(certificate), nullptr, 0);
  std::string subject = line != nullptr ? line : "";
  OPENSSL_free(line);
  return subject;
}

absl::Time NotAfter(X509* certificate) {
  tm time{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate), &time) != 1) return absl::InfiniteFuture();
  return absl::FromTM(time, absl::UTCTimeZone());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerTls>> ServerTls::Load(Files files, const Clock& clock,
                                                           absl::Duration check_every) {
  std::unique_ptr<ServerTls> tls(new ServerTls(std::move(files), clock, check_every));
  absl::MutexLock lock(&tls->mu_);
  tls->stamps_ = tls->Stamps();
  absl::StatusOr<Loaded> loaded = Build(tls->files_);
  if (!loaded.ok()) return loaded.status();
  tls->current_ = *std::move(loaded);
  tls->checked_ = clock.Now();
  return tls;
}

ServerTls::ServerTls(Files files, const Clock& clock, absl::Duration check_every)
    : files_(std::move(files)), clock_(clock), check_every_(check_every) {}

ServerTls::~ServerTls() = default;

absl::StatusOr<ServerTls::Loaded> ServerTls::Build(const Files& files) {
  ERR_clear_error();
  std::shared_ptr<SSL_CTX> context(SSL_CTX_new(TLS_server_method()), SSL_CTX_free);
  if (context == nullptr) return absl::InternalError(OpenSslErrors());
  SSL_CTX* ctx = context.get();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
                            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_alpn_select_cb(ctx, SelectAlpn, nullptr);
  if (SSL_CTX_use_certificate_chain_file(ctx, files.cert.c_str()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("TLS certificate ", files.cert,
                                                   ": cannot load a PEM certificate chain (",
                                                   OpenSslErrors(), ")"));
  }
  EVP_PKEY* key = nullptr;
  if (FILE* file = fopen(files.key.c_str(), "r"); file != nullptr) {
    key = PEM_read_PrivateKey(file, nullptr, nullptr, nullptr);
    fclose(file);
  }
  if (key == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TLS key ", files.key, ": cannot load a PEM private key (", OpenSslErrors(), ")"));
  }
  const std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> owned_key(key, EVP_PKEY_free);
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx), key) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("TLS key ", files.key, " does not match the certificate ", files.cert));
  }
  if (!files.client_ca.empty()) {
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.client_ca.c_str());
    if (names == nullptr ||
        SSL_CTX_load_verify_locations(ctx, files.client_ca.c_str(), nullptr) != 1) {
      if (names != nullptr) sk_X509_NAME_pop_free(names, X509_NAME_free);
      return absl::InvalidArgumentError(absl::StrCat("TLS client CA ", files.client_ca,
                                                     ": cannot load PEM CA certificates (",
                                                     OpenSslErrors(), ")"));
    }
    SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  Loaded loaded;
  X509* certificate = SSL_CTX_get0_certificate(ctx);
  loaded.subject = Subject(certificate);
  loaded.not_after = NotAfter(certificate);
  loaded.context = std::move(context);
  return loaded;
}

std::vector<ServerTls::Stamp> ServerTls::Stamps() const {
  std::vector<Stamp> stamps;
  for (const std::string* path : {&files_.cert, &files_.key, &files_.client_ca}) {
    Stamp stamp;
    struct stat st {};
    if (!path->empty() && stat(path->c_str(), &st) == 0) {
      stamp = {st.st_dev, st.st_ino, st.st_size,
               static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
               static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec};
    }
    stamps.push_back(stamp);
  }
  return stamps;
}

std::shared_ptr<SSL_CTX> ServerTls::Current() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  if (now - checked_ < check_every_) return current_.context;
  checked_ = now;
  std::vector<Stamp> stamps = Stamps();
  if (stamps == stamps_) return current_.context;
  // A change: whatever comes of it, this state of the files is not tried again.
  stamps_ = std::move(stamps);
  absl::StatusOr<Loaded> loaded = Build(files_);
  if (!loaded.ok()) {
    reloads_.Add({"error"});
    spdlog::error("tls: the changed files do not load, keeping {}: {}", current_.subject,
                  std::string(loaded.status().message()));
    return current_.context;
  }
  reloads_.Add({"ok"});
  spdlog::info("tls: new certificate {} (expires {}), for new connections", loaded->subject,
               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", loaded->not_after, absl::UTCTimeZone()));
  current_ = *std::move(loaded);
  return current_.context;
}

std::string ServerTls::Describe() const {
  absl::MutexLock lock(&mu_);
  return absl::StrCat(
      current_.subject, ", expires ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", current_.not_after, absl::UTCTimeZone()),
      mutual() ? ", client certificates required" : "");
}

void ServerTls::WriteMetrics(metrics::TextWriter& out) {
  (void)Current();
  absl::Time not_after;
  {
    absl::MutexLock lock(&mu_);
    not_after = current_.not_after;
  }
  out.Gauge("jawlb_tls_certificate_expiry_timestamp_seconds",
            "When the gRPC port's certificate (the one new handshakes use) expires.",
            absl::ToDoubleSeconds(not_after - absl::UnixEpoch()));
  out.Counters("jawlb_tls_reloads_total",
               "Changes of the TLS files: loaded (ok), or refused with the old pair kept (error).",
               reloads_);
}

TlsSocket::TlsSocket(std::shared_ptr<SSL_CTX> context, int fd)
    : context_(std::move(context)), ssl_(SSL_new(context_.get())) {
  if (ssl_ != nullptr) {
    SSL_set_fd(ssl_, fd);
    SSL_set_accept_state(ssl_);
  }
}

TlsSocket::~TlsSocket() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

TlsSocket::Progress TlsSocket::Handshake() {
  if (handshaken_) return Progress::kDone;
  if (ssl_ == nullptr) {
    error_ = "cannot make a TLS session";
    return Progress::kFailed;
  }
  ERR_clear_error();
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) {
    handshaken_ = true;
    want_write_ = false;
    return Progress::kDone;
  }
  if (Result(result) < 0 && errno == EAGAIN) {
    return want_write_ ? Progress::kWantWrite : Progress::kWantRead;
  }
  if (error_.empty()) error_ = "the client closed the connection during the handshake";
  return Progress::kFailed;
}

ssize_t TlsSocket::Read(void* buffer, size_t size) {
  ERR_clear_error();
  return Result(SSL_read(ssl_, buffer, static_cast<int>(size)));
}

ssize_t TlsSocket::Write(const void* data, size_t size) {
  ERR_clear_error();
  return Result(SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 30))));
}

ssize_t TlsSocket::Writev(const struct iovec* iov, int count) {
  // One buffer per thread: a retried write gathers the same bytes again (the
  // caller's pieces are unchanged until written), maybe more after them.
  constexpr size_t kMost = size_t{64} * 1024;
  thread_local std::string gathered;
  gathered.clear();
  for (int i = 0; i < count && gathered.size() < kMost; ++i) {
    const size_t take = std::min(iov[i].iov_len, kMost - gathered.size());
    gathered.append(static_cast<const char*>(iov[i].iov_base), take);
  }
  return Write(gathered.data(), gathered.size());
}

bool TlsSocket::pending() const { return ssl_ != nullptr && SSL_has_pending(ssl_) == 1; }

ssize_t TlsSocket::Result(int result) {
  want_write_ = false;
  if (result > 0) return result;
  const int error = SSL_get_error(ssl_, result);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_WANT_WRITE:
      want_write_ = true;
      errno = EAGAIN;
      return -1;
    case SSL_ERROR_ZERO_RETURN:
      return 0;  // close_notify
    case SSL_ERROR_SYSCALL:
      if (errno == 0) errno = ECONNRESET;  // EOF without close_notify
      error_ = ERR_peek_error() != 0 ? OpenSslErrors() : std::string("the connection was cut");
      return -1;
    default:
      error_ = OpenSslErrors();
      errno = EPROTO;
      return -1;
  }
}

std::string TlsSocket::Describe() const {
  std::string text = absl::StrCat(SSL_get_version(ssl_), " ", SSL_get_cipher_name(ssl_));
  if (X509* client = SSL_get1_peer_certificate(ssl_); client != nullptr) {
    absl::StrAppend(&text, ", client ", Subject(client));
    X509_free(client);
  }
  return text;
}

absl::Status TlsHandshakeAnswers(const std::string& ip, int port, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("not an IP address: ", ip));
  }
  const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("socket: ", std::strerror(errno)));
  const std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> context(SSL_CTX_new(TLS_client_method()),
                                                             SSL_CTX_free);
  SSL* ssl = context != nullptr ? SSL_new(context.get()) : nullptr;
  const auto done = [&](absl::Status status) {
    if (ssl != nullptr) SSL_free(ssl);
    close(fd);
    ERR_clear_error();
    return status;
  };
  if (ssl == nullptr) return done(absl::InternalError("cannot make a TLS session"));
  static const unsigned char kAlpn[] = {2, 'h', '2'};
  SSL_set_alpn_protos(ssl, kAlpn, sizeof(kAlpn));
  SSL_set_fd(ssl, fd);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 && errno != EINPROGRESS) {
    return done(absl::UnavailableError(absl::StrCat("connect: ", std::strerror(errno))));
  }
  for (;;) {
    ERR_clear_error();
    const int result = SSL_connect(ssl);
    if (result == 1) return done(absl::OkStatus());
    const int error = SSL_get_error(ssl, result);
    if (error == SSL_ERROR_SSL && (ERR_peek_error() != 0 || SSL_get_state(ssl) != TLS_ST_BEFORE)) {
      return done(absl::OkStatus());  // the server answered, with a refusal
    }
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      return done(absl::UnavailableError("the connection ended without a TLS answer"));
    }
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      return done(absl::UnavailableError("no TLS answer in time"));
    }
    pollfd wait{fd, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
    (void)poll(&wait, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  }
}

}  // namespace jawlb::transport
