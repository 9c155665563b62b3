// MakeTlsFiles: a test PKI made with the openssl command — a CA, a server
// certificate for the names a test needs, and a client certificate — as
// PEM files in a directory, the way cert-manager would mount them.
//
// Threading: a free function.
#ifndef JAWLB_TOOLS_TESTBED_TLS_FILES_H_
#define JAWLB_TOOLS_TESTBED_TLS_FILES_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace jawlb::testbed {

struct TlsFiles {
  std::string ca;            // the CA's certificate (clients trust it; mTLS: jawlb does too)
  std::string cert;          // the server's chain, signed by `ca`
  std::string key;           // its key
  std::string rotated_cert;  // another server certificate for the same names, signed by `ca`
  std::string rotated_key;   //   (CN "jawlb rotated"): what a rotation puts in place
  std::string client_cert;   // a client's certificate, signed by `ca`
  std::string client_key;
  std::string other_ca;    // a second CA: what it signs, `ca` does not
  std::string other_cert;  // a server certificate for the same names, signed by `other_ca`
  std::string other_key;
  std::string other_client_cert;  // a client certificate signed by `other_ca`
  std::string other_client_key;
};

// Files in `dir`; the server certificates carry `dns_names` as SANs (and
// IP:127.0.0.1). The error carries openssl's output.
absl::StatusOr<TlsFiles> MakeTlsFiles(const std::string& dir,
                                      const std::vector<std::string>& dns_names);

// A file's whole content ("" if unreadable).
std::string ReadWholeFile(const std::string& path);

}  // namespace jawlb::testbed

#endif  // JAWLB_TOOLS_TESTBED_TLS_FILES_H_
