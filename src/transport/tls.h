// TLS for the gRPC port's own HTTP/2 server (OpenSSL).
//
// ServerTls: the port's identity — a certificate chain and its key, and
// optionally the CA client certificates must chain to (mutual TLS) — loaded
// from files and re-read when they change: cert-manager and the kubelet
// rotate them in place (a Secret volume swaps a symlink), so the next
// handshake uses the new pair and open connections keep the one they began
// with. A change that does not load (a key that does not match its
// certificate, a file half-written) is logged once and counted, and the last
// good identity stays.
//
// What a handshake offers: TLS 1.2 and 1.3 only, ALPN "h2" (a client that
// offers ALPN without h2 is refused, as gRPC's servers do), no
// renegotiation. With a client CA, a client without a certificate it signed
// is refused in the handshake.
//
// Threading: ServerTls is thread-safe (the current context behind a mutex;
// the files looked at no more than once a second, by whichever thread asks).
// TlsSocket is confined to its connection's loop thread.
#ifndef JAWLB_TRANSPORT_TLS_H_
#define JAWLB_TRANSPORT_TLS_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>
#include <sys/uio.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

#include "common/clock.h"
#include "common/metrics.h"

using SSL_CTX = struct ssl_ctx_st;
using SSL = struct ssl_st;

namespace jawlb::transport {

class ServerTls {
 public:
  struct Files {
    std::string cert;       // PEM: the certificate, then its intermediates
    std::string key;        // PEM: the private key of `cert`
    std::string client_ca;  // PEM: CA certificates; "" = no client certificates asked
  };

  // Loads the files. InvalidArgument naming the file and what is wrong with
  // it (unreadable, not PEM, a key that does not match the certificate, a CA
  // file without a certificate).
  static absl::StatusOr<std::unique_ptr<ServerTls>> Load(
      Files files, const Clock& clock = Clock::Real(),
      absl::Duration check_every = absl::Seconds(1));
  ~ServerTls();
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;

  // The context for a new connection's handshake; first re-reads the files
  // if one changed since the last look (at most once per `check_every`).
  std::shared_ptr<SSL_CTX> Current() ABSL_LOCKS_EXCLUDED(mu_);

  // The current certificate's subject and notAfter, for logs and metrics.
  std::string Describe() const ABSL_LOCKS_EXCLUDED(mu_);
  bool mutual() const { return !files_.client_ca.empty(); }
  const Files& files() const { return files_; }

  // Reloads (ok, error), the certificate's expiry (jawlb_tls_*); looks at
  // the files first, as Current() does, so the figures are fresh.
  void WriteMetrics(metrics::TextWriter& out) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // What a file looked like: a change in any field is a change.
  struct Stamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    friend bool operator==(const Stamp&, const Stamp&) = default;
  };
  struct Loaded {
    std::shared_ptr<SSL_CTX> context;
    std::string subject;
    absl::Time not_after;
  };
  ServerTls(Files files, const Clock& clock, absl::Duration check_every);
  static absl::StatusOr<Loaded> Build(const Files& files);
  std::vector<Stamp> Stamps() const;

  // Constant after construction.
  const Files files_;
  const Clock& clock_;
  const absl::Duration check_every_;

  mutable absl::Mutex mu_;
  Loaded current_ ABSL_GUARDED_BY(mu_);
  std::vector<Stamp> stamps_ ABSL_GUARDED_BY(mu_);  // of the files `current_` came from,
                                                    // or of a failed change (not retried)
  absl::Time checked_ ABSL_GUARDED_BY(mu_);
  metrics::CounterMap reloads_{{"result"}};
};

// One connection's TLS, over its non-blocking socket (OpenSSL reads and
// writes the descriptor itself). Buffers are released while idle
// (SSL_MODE_RELEASE_BUFFERS): an idle TLS connection costs a few KiB.
class TlsSocket {
 public:
  enum class Progress { kDone, kWantRead, kWantWrite, kFailed };

  TlsSocket(std::shared_ptr<SSL_CTX> context, int fd);
  ~TlsSocket();
  TlsSocket(const TlsSocket&) = delete;
  TlsSocket& operator=(const TlsSocket&) = delete;

  // Advances the server's handshake; kFailed: error() says why.
  Progress Handshake();
  bool handshaken() const { return handshaken_; }
  // As recv(): > 0 bytes read, 0 when the client closed, -1 with errno:
  // EAGAIN (the socket must become readable, or writable if want_write()),
  // EPROTO (error() says why), or the system's.
  ssize_t Read(void* buffer, size_t size);
  // As send() of `size` bytes (partial writes happen): > 0 written, -1 with
  // errno as Read(). A write that returned EAGAIN must be retried with at
  // least the same bytes (more may follow them).
  ssize_t Write(const void* data, size_t size);
  // As writev(): the pieces gathered (up to 64 KiB) into one write.
  ssize_t Writev(const struct iovec* iov, int count);
  // Decrypted bytes are waiting (read them before waiting on the socket).
  bool pending() const;
  // The last operation needs the socket writable (not readable).
  bool want_write() const { return want_write_; }
  const std::string& error() const { return error_; }
  // "TLSv1.3 TLS_AES_256_GCM_SHA384", and the client's subject if it sent one.
  std::string Describe() const;

 private:
  // Maps OpenSSL's result of an I/O call to recv()'s convention.
  ssize_t Result(int result);

  std::shared_ptr<SSL_CTX> context_;  // kept while `ssl_` uses it
  SSL* ssl_ = nullptr;
  bool handshaken_ = false;
  bool want_write_ = false;
  std::string error_;
};

// Whether a TLS server at `ip`:`port` answers a new connection's handshake
// within `timeout`: OK when the handshake completes, or when the server
// refuses it with a TLS alert (with mutual TLS a client without a
// certificate is refused: the server still answered). Unavailable when the
// connection is refused, cut without an answer, or nothing comes in time.
// The server's certificate is not checked (this asks "is it there?", not
// "is it who it says?"). Blocks the caller for up to `timeout`.
absl::Status TlsHandshakeAnswers(const std::string& ip, int port, absl::Duration timeout);

}  // namespace jawlb::transport

#endif  // JAWLB_TRANSPORT_TLS_H_
