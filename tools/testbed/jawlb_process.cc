#include "testbed/jawlb_process.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace jawlb::testbed {

absl::StatusOr<std::unique_ptr<JawlbProcess>> JawlbProcess::Start(const std::string& binary,
                                                                  std::vector<std::string> env,
                                                                  const std::string& log_path) {
  env.push_back("JAWLB_HOST=127.0.0.1");
  env.push_back("JAWLB_PORT=0");
  env.push_back("JAWLB_DRAINDELAY=0s");  // tests of the drain pass their own
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Spawn({binary}, std::move(env), log_path);
  if (!process.ok()) return process.status();
  constexpr absl::string_view kListening = "listening on 127.0.0.1:";
  absl::StatusOr<std::string> line = (*process)->WaitForLine(kListening, absl::Seconds(60));
  if (!line.ok()) return line.status();
  int port = 0;
  absl::string_view text = *line;
  text = text.substr(text.find(kListening) + kListening.size());
  text = text.substr(0, text.find_first_not_of("0123456789"));  // text or JSON logs
  if (!absl::SimpleAtoi(text, &port)) {
    return absl::InternalError(absl::StrCat("jawlb: cannot read a port from \"", *line, "\""));
  }
  return std::unique_ptr<JawlbProcess>(new JawlbProcess(*std::move(process), port));
}

}  // namespace jawlb::testbed
