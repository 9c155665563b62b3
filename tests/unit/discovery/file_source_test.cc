#include "discovery/file_source.h"

#include <cstdio>
#include <fstream>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

#include "testbed/subprocess.h"
#include "tests/common/log_capture.h"
#include "tests/common/status_matchers.h"

namespace jawlb::discovery {
namespace {

using ::jawlb::testing::IsOk;
using ::jawlb::testing::StatusIs;
using ::testing::HasSubstr;

// Collects what a source delivers; waits for it with a generous deadline.
class Updates {
 public:
  Source::OnUpdate Callback() {
    return [this](Update update) {
      absl::MutexLock lock(&mu_);
      sets_.push_back(std::move(update.backends));
    };
  }
  // The sets delivered, once there are at least `count` (or what there is after
  // the deadline).
  std::vector<std::string> WaitFor(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [this, count]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return sets_.size() >= count; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(30));
    std::vector<std::string> texts;
    for (const BackendSet& set : sets_) texts.push_back(set.ToString());
    return texts;
  }

 private:
  absl::Mutex mu_;
  std::vector<BackendSet> sets_ ABSL_GUARDED_BY(mu_);
};

class FileSourceTest : public ::testing::Test {
 protected:
  void Write(const std::string& text) {
    const std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << text;
    std::rename(tmp.c_str(), path_.c_str());
  }

  const std::string path_ = testbed::MakeTempDir("file_source_test.") + "/endpoints";
  Updates updates_;
};

TEST_F(FileSourceTest, DeliversTheFileAtStartAndEveryChange) {
  Write("10.0.0.1:80\n10.0.0.2:80\n");
  FileSource source(path_, absl::Milliseconds(5));
  ASSERT_THAT(source.Start(updates_.Callback()), IsOk());
  EXPECT_THAT(updates_.WaitFor(1), ::testing::ElementsAre("10.0.0.1:80,10.0.0.2:80"));
  Write("10.0.0.3:80\n");
  EXPECT_THAT(updates_.WaitFor(2),
              ::testing::ElementsAre("10.0.0.1:80,10.0.0.2:80", "10.0.0.3:80"));
  // An in-place edit (no rename) is seen too.
  std::ofstream(path_, std::ios::app) << "10.0.0.4:80\n";
  EXPECT_THAT(updates_.WaitFor(3).back(), "10.0.0.3:80,10.0.0.4:80");
  source.Stop();
}

TEST_F(FileSourceTest, KeepsTheLastGoodSetThroughBadAndMissingFiles) {
  Write("10.0.0.1:80\n");
  FileSource source(path_, absl::Milliseconds(5));
  ASSERT_THAT(source.Start(updates_.Callback()), IsOk());
  Write("10.0.0.2:80\nnot-an-endpoint\n");
  std::remove(path_.c_str());
  // The same content as the last good set is not delivered again either.
  Write("10.0.0.1:80\n");
  Write("10.0.0.5:80\n");
  // Only good, changed sets arrive: no empty list for the missing file, no
  // partial one for the malformed file.
  EXPECT_THAT(updates_.WaitFor(2), ::testing::ElementsAre("10.0.0.1:80", "10.0.0.5:80"));
  source.Stop();
}

TEST_F(FileSourceTest, ACommentAloneMeansNoBackends) {
  Write("10.0.0.1:80\n");
  FileSource source(path_, absl::Milliseconds(5));
  ASSERT_THAT(source.Start(updates_.Callback()), IsOk());
  Write("# drained\n");
  EXPECT_THAT(updates_.WaitFor(2), ::testing::ElementsAre("10.0.0.1:80", "(none)"));
}

// `cmd > file` truncates, then writes as fast as cmd produces: neither the
// empty file nor a line cut short is a list (issue 13, item 8: clients got the
// "no backends" drop, and once 127.0.0.12:500 as 127.0.0.12:5).
TEST_F(FileSourceTest, AWriterCaughtHalfWayIsNeverRead) {
  testing::LogCapture log;
  Write("10.0.0.1:80\n");
  FileSource source(path_, absl::Milliseconds(5));
  ASSERT_THAT(source.Start(updates_.Callback()), IsOk());
  { std::ofstream truncate(path_); }  // in place, as the shell does
  ASSERT_TRUE(log.WaitFor("is empty: taken for a write in progress"));
  std::ofstream(path_) << "10.0.0.1:80\n127.0.0.12:5";
  ASSERT_TRUE(log.WaitFor("does not end with a newline"));
  std::ofstream(path_) << "10.0.0.1:80\n127.0.0.12:500\n";
  EXPECT_THAT(updates_.WaitFor(2),
              ::testing::ElementsAre("10.0.0.1:80", "10.0.0.1:80,127.0.0.12:500"));
  EXPECT_EQ(log.Count("is readable and complete again"), 1);
}

// A file written without a final newline (some ConfigMaps) counts once it has
// stood still for the settle time.
TEST_F(FileSourceTest, ContentWithoutAFinalNewlineCountsOnceItStandsStill) {
  testing::LogCapture log;
  std::ofstream(path_) << "10.0.0.1:80";
  FileSource source(path_, absl::Milliseconds(5), absl::Milliseconds(200));
  ASSERT_THAT(source.Start(updates_.Callback()), IsOk());  // waits, not ready
  ASSERT_TRUE(log.WaitFor("does not end with a newline"));
  EXPECT_THAT(updates_.WaitFor(1), ::testing::ElementsAre("10.0.0.1:80"));
}

// A directory or a FIFO at the path keeps the last list; a FIFO never blocks
// the poller (Stop() returns), and the file coming back is read.
TEST_F(FileSourceTest, NotARegularFileKeepsTheLastList) {
  testing::LogCapture log;
  Write("10.0.0.1:80\n");
  FileSource source(path_, absl::Milliseconds(5));
  ASSERT_THAT(source.Start(updates_.Callback()), IsOk());
  ASSERT_EQ(std::remove(path_.c_str()), 0);
  ASSERT_EQ(mkdir(path_.c_str(), 0755), 0);
  ASSERT_TRUE(log.WaitFor("is a directory; keeping the last 1 backends"));
  ASSERT_EQ(rmdir(path_.c_str()), 0);
  ASSERT_EQ(mkfifo(path_.c_str(), 0644), 0);
  ASSERT_TRUE(log.WaitFor("is a FIFO; keeping the last 1 backends"));
  ASSERT_EQ(std::remove(path_.c_str()), 0);
  Write("10.0.0.2:80\n");
  EXPECT_THAT(updates_.WaitFor(2), ::testing::ElementsAre("10.0.0.1:80", "10.0.0.2:80"));
  source.Stop();
}

TEST_F(FileSourceTest, AFifoAtStartIsRefusedWithoutBlocking) {
  ASSERT_EQ(mkfifo(path_.c_str(), 0644), 0);
  FileSource source(path_, absl::Milliseconds(5));
  EXPECT_THAT(source.Start(updates_.Callback()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("is a FIFO")));
}

TEST_F(FileSourceTest, StartFailsOnAMissingOrMalformedFile) {
  FileSource missing(path_ + ".absent", absl::Milliseconds(5));
  EXPECT_THAT(missing.Start(updates_.Callback()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("JAWLB_ENDPOINTSFILE")));
  Write("10.0.0.1:80\n10.0.0.1\n");
  FileSource malformed(path_, absl::Milliseconds(5));
  EXPECT_THAT(malformed.Start(updates_.Callback()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2")));
}

}  // namespace
}  // namespace jawlb::discovery
