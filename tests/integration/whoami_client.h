// The grpc-js xDS client (tests/xds/node/whoami.js, grpc-js with grpc-js-xds)
// as a child process, for the integration tests: it calls Echo/Whoami on
// `target` through the bootstrap in `bootstrap_file` and prints one line per
// window of 30 calls naming the backends that answered.
#ifndef JAWLB_TESTS_INTEGRATION_WHOAMI_CLIENT_H_
#define JAWLB_TESTS_INTEGRATION_WHOAMI_CLIENT_H_

#include <map>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"

#include "testbed/subprocess.h"
#include "tests/common/status_matchers.h"

namespace jawlb::testbed {

inline absl::StatusOr<std::unique_ptr<Subprocess>> SpawnWhoami(const std::string& target,
                                                               const std::string& bootstrap_file,
                                                               const std::string& log_path) {
  return Subprocess::Spawn(
      {NODE_BINARY, XDS_NODE_DIR "/whoami.js", target, PROTO_DIR, "30", "600"},
      {"GRPC_XDS_BOOTSTRAP=" + bootstrap_file, "NODE_PATH=" XDS_NODE_DIR "/node_modules"},
      log_path);
}

// The number of the first window after `after` in which exactly `names`
// answered ("a,b", sorted; "" when every call failed), within `timeout`; -1
// (with a test failure) when none came.
inline int WaitForWindow(Subprocess& node, const std::string& names, int after,
                         absl::Duration timeout) {
  for (int nth = 1;; ++nth) {
    absl::StatusOr<std::string> line =
        node.WaitForLine(absl::StrCat(": ", names, " failed="), timeout, nth);
    EXPECT_THAT(line, ::jawlb::testing::IsOk()) << "waiting for \"" << names << "\"";
    if (!line.ok()) return -1;
    absl::string_view text = *line;
    text.remove_prefix(std::string("window ").size());
    int window = -1;
    EXPECT_TRUE(absl::SimpleAtoi(text.substr(0, text.find(':')), &window)) << *line;
    if (window > after) return window;
  }
}

// The calls each backend answered in windows `first` to `last` (waiting up to
// `timeout` for the last), summed; "(failed)" counts the failures.
inline std::map<std::string, int> CallsInWindows(Subprocess& node, int first, int last,
                                                 absl::Duration timeout) {
  std::map<std::string, int> calls;
  EXPECT_THAT(node.WaitForLine(absl::StrCat("window ", last, ":"), timeout),
              ::jawlb::testing::IsOk());
  for (absl::string_view line : absl::StrSplit(node.Output(), '\n')) {
    int window = 0;
    if (!absl::ConsumePrefix(&line, "window ") ||
        !absl::SimpleAtoi(line.substr(0, line.find(':')), &window) || window < first ||
        window > last) {
      continue;
    }
    for (absl::string_view field : absl::StrSplit(line, ' ')) {
      int count = 0;
      if (absl::ConsumePrefix(&field, "failed=") && absl::SimpleAtoi(field, &count)) {
        calls["(failed)"] += count;
      } else if (absl::ConsumePrefix(&field, "calls=")) {
        for (absl::string_view entry : absl::StrSplit(field, ',', absl::SkipEmpty())) {
          const size_t colon = entry.rfind(':');
          if (colon != absl::string_view::npos &&
              absl::SimpleAtoi(entry.substr(colon + 1), &count)) {
            calls[std::string(entry.substr(0, colon))] += count;
          }
        }
      }
    }
  }
  return calls;
}

}  // namespace jawlb::testbed

#endif  // JAWLB_TESTS_INTEGRATION_WHOAMI_CLIENT_H_
