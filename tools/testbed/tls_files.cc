#include "testbed/tls_files.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "testbed/subprocess.h"

namespace jawlb::testbed {
namespace {

absl::Status Run(const std::string& dir, std::vector<std::string> argv) {
  argv.insert(argv.begin(), "/usr/bin/openssl");
  const std::string log = absl::StrCat(dir, "/openssl.log");
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Spawn(argv, {}, log);
  if (!process.ok()) return process.status();
  // The process ends by itself; the timeout only bounds a hang.
  const std::optional<int> status = (*process)->Stop(0, absl::Seconds(60));
  if (!ExitedWith(status, 0)) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(argv, " "), " failed: ", (*process)->Output()));
  }
  return absl::OkStatus();
}

// A CA named `name`: name.crt, name.key.
absl::Status MakeCa(const std::string& dir, const std::string& name) {
  return Run(dir,
             {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-days", "2", "-subj", "/CN=jawlb test " + name, "-keyout", dir + "/" + name + ".key",
              "-out", dir + "/" + name + ".crt", "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"});
}

// A leaf `name` signed by CA `ca`, with `extensions` (an openssl -extfile line).
absl::Status MakeLeaf(const std::string& dir, const std::string& ca, const std::string& name,
                      const std::string& subject, const std::string& extensions) {
  const std::string base = dir + "/" + name;
  if (absl::Status made =
          Run(dir, {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-subj", subject, "-keyout", base + ".key", "-out", base + ".csr"});
      !made.ok()) {
    return made;
  }
  std::ofstream(base + ".ext") << extensions << "\n";
  return Run(dir, {"x509", "-req", "-in", base + ".csr", "-CA", dir + "/" + ca + ".crt", "-CAkey",
                   dir + "/" + ca + ".key", "-CAcreateserial", "-days", "2", "-extfile",
                   base + ".ext", "-out", base + ".crt"});
}

}  // namespace

absl::StatusOr<TlsFiles> MakeTlsFiles(const std::string& dir,
                                      const std::vector<std::string>& dns_names) {
  std::vector<std::string> sans = {"IP:127.0.0.1"};
  for (const std::string& name : dns_names) sans.push_back("DNS:" + name);
  const std::string server_ext =
      absl::StrCat("subjectAltName=", absl::StrJoin(sans, ","), "\nextendedKeyUsage=serverAuth");
  const std::string client_ext = "extendedKeyUsage=clientAuth";
  for (const char* ca : {"ca", "other-ca"}) {
    if (absl::Status made = MakeCa(dir, ca); !made.ok()) return made;
  }
  for (const auto& [ca, name, subject, ext] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"ca", "server", "/CN=jawlb", server_ext},
           {"ca", "rotated", "/CN=jawlb rotated", server_ext},
           {"ca", "client", "/CN=client", client_ext},
           {"other-ca", "other-server", "/CN=jawlb rotated", server_ext},
           {"other-ca", "other-client", "/CN=stranger", client_ext}}) {
    if (absl::Status made = MakeLeaf(dir, ca, name, subject, ext); !made.ok()) return made;
  }
  TlsFiles files;
  files.ca = dir + "/ca.crt";
  files.cert = dir + "/server.crt";
  files.key = dir + "/server.key";
  files.rotated_cert = dir + "/rotated.crt";
  files.rotated_key = dir + "/rotated.key";
  files.client_cert = dir + "/client.crt";
  files.client_key = dir + "/client.key";
  files.other_ca = dir + "/other-ca.crt";
  files.other_cert = dir + "/other-server.crt";
  files.other_key = dir + "/other-server.key";
  files.other_client_cert = dir + "/other-client.crt";
  files.other_client_key = dir + "/other-client.key";
  return files;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace jawlb::testbed
