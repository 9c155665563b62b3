// Logging set-up: level and format of the process-wide spdlog logger, one line
// per event on stderr. "text" is spdlog's usual line; "json" is one object per
// line, {"time":..., "level":..., "msg":...}, with the message JSON-escaped.
// Either way a message can never forge a line: control characters, DEL and
// bytes that are not UTF-8 are escaped (EscapeLogMessage), and a message is
// cut at 4 KiB — names, file contents and API responses reach the log.
//
// Threading: call once from main before any thread starts.
#ifndef JAWLB_APP_LOGGING_H_
#define JAWLB_APP_LOGGING_H_

#include <string>

#include "absl/strings/string_view.h"

#include "config/config.h"

namespace jawlb::app {

// `message` as a log line shows it: \n, \r and \t as those two characters,
// other control characters, DEL and bytes that are not valid UTF-8 as \xNN,
// valid UTF-8 as it is; at most 4 KiB of it, then " ...(N bytes more)".
std::string EscapeLogMessage(absl::string_view message);

// `level` is validated by Config.
void ConfigureLogging(const std::string& level, config::LogFormat format);

}  // namespace jawlb::app

#endif  // JAWLB_APP_LOGGING_H_
