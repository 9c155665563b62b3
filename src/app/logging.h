// Logging set-up: level and format of the process-wide spdlog logger, one line
// per event on stderr. "text" is spdlog's usual line; "json" is one object per
// line, {"time":..., "level":..., "msg":...}, with the message JSON-escaped.
//
// Threading: call once from main before any thread starts.
#ifndef JAWLB_APP_LOGGING_H_
#define JAWLB_APP_LOGGING_H_

#include <string>

namespace jawlb::app {

// `level` and `format` are validated by Config.
void ConfigureLogging(const std::string& level, const std::string& format);

}  // namespace jawlb::app

#endif  // JAWLB_APP_LOGGING_H_
