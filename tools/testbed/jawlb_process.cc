#include "testbed/jawlb_process.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jawlb::testbed {

bool OnH2Transport() {
  const char* transport = std::getenv("JAWLB_TEST_TRANSPORT");
  return transport == nullptr || std::string(transport) != "grpc";
}

absl::StatusOr<std::unique_ptr<JawlbProcess>> JawlbProcess::Start(
    const std::string& binary, std::vector<std::string> env, const std::string& log_path,
    std::vector<std::string> wrapper) {
  // The transport under test (tests/CMakeLists.txt runs the integration tests
  // on each), unless the test chose one.
  const char* transport = std::getenv("JAWLB_TEST_TRANSPORT");
  const bool chosen = std::any_of(env.begin(), env.end(), [](const std::string& entry) {
    return absl::StartsWith(entry, "JAWLB_TRANSPORT=");
  });
  if (transport != nullptr && *transport != '\0' && !chosen) {
    env.push_back(absl::StrCat("JAWLB_TRANSPORT=", transport));
  }
  env.push_back("JAWLB_HOST=127.0.0.1");
  env.push_back("JAWLB_PORT=0");
  env.push_back("JAWLB_DRAINDELAY=0s");  // tests of the drain pass their own
  env.push_back("JAWLB_ADMINHOST=127.0.0.1");
  env.push_back("JAWLB_ADMINPORT=0");
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Spawn((wrapper.push_back(binary), wrapper), std::move(env), log_path);
  if (!process.ok()) return process.status();
  // "listening on HOST:PORT" (text or JSON logs: the digits end the port).
  auto port_after = [&](absl::string_view needle) -> absl::StatusOr<int> {
    absl::StatusOr<std::string> line = (*process)->WaitForLine(needle, absl::Seconds(60));
    if (!line.ok()) return line.status();
    absl::string_view text = *line;
    text = text.substr(text.find(needle) + needle.size());
    text = text.substr(0, text.find('"'));    // a JSON line's end
    text = text.substr(text.rfind(':') + 1);  // after the host (*, 127.0.0.1, ::1)
    text = text.substr(0, text.find_first_not_of("0123456789"));
    int port = 0;
    if (!absl::SimpleAtoi(text, &port)) {
      return absl::InternalError(absl::StrCat("jawlb: cannot read a port from \"", *line, "\""));
    }
    return port;
  };
  // The gRPC line comes first, so its "listening on" is found before the admin one.
  absl::StatusOr<int> port = port_after("listening on ");
  if (!port.ok()) return port.status();
  absl::StatusOr<int> admin_port = port_after("admin listening on ");
  if (!admin_port.ok()) return admin_port.status();
  return std::unique_ptr<JawlbProcess>(new JawlbProcess(*std::move(process), *port, *admin_port));
}

absl::StatusOr<std::string> XdsBootstrap(const std::string& binary, int port,
                                         const std::string& node, const std::string& zone) {
  FILE* pipe = popen(absl::StrCat(binary, " bootstrap --server=127.0.0.1:", port, " --node=", node,
                                  " --zone=", zone)
                         .c_str(),
                     "r");
  if (pipe == nullptr) return absl::InternalError("popen failed for jawlb bootstrap");
  std::string bootstrap;
  char buffer[4096];
  while (fgets(buffer, sizeof(buffer), pipe) != nullptr) bootstrap += buffer;
  if (pclose(pipe) != 0) {
    return absl::InternalError(absl::StrCat("jawlb bootstrap failed: ", bootstrap));
  }
  return bootstrap;
}

}  // namespace jawlb::testbed
