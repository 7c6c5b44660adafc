#include "tools/mcp/sse.h"

namespace aikernel::tools::mcp {

Status SseParser::Feed(std::string_view bytes, std::vector<SseEvent>* events) {
  for (char ch : bytes) {
    if (ch == '\n' && after_cr_) {  // the LF of a CRLF
      after_cr_ = false;
      continue;
    }
    after_cr_ = ch == '\r';
    if (ch == '\r' || ch == '\n') {
      Line(events);
      continue;
    }
    line_.push_back(ch);
    if (line_.size() + data_.size() > max_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("event stream: message larger than ", max_, " bytes"));
    }
  }
  return absl::OkStatus();
}

void SseParser::Line(std::vector<SseEvent>* events) {
  std::string line;
  line.swap(line_);
  if (line.empty()) {  // end of an event
    if (has_data_ && !data_.empty() && (type_.empty() || type_ == "message")) {
      events->push_back(SseEvent{last_id_, std::move(data_), id_field_});
    } else if (id_changed_) {
      events->push_back(SseEvent{last_id_, "", true});
    }
    data_.clear();
    type_.clear();
    has_data_ = false;
    id_changed_ = false;
    id_field_ = false;
    return;
  }
  if (line[0] == ':') return;  // comment (keep-alive)
  size_t colon = line.find(':');
  std::string_view field(line.data(), colon == std::string::npos ? line.size() : colon);
  std::string_view value;
  if (colon != std::string::npos) {
    value = std::string_view(line).substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      id_changed_ |= value != last_id_;
      id_field_ = true;
      last_id_ = std::string(value);
    }
  } else if (field == "retry") {
    int64_t ms = 0;
    bool digits = !value.empty() && value.size() <= 9;
    for (char ch : value) {
      digits &= ch >= '0' && ch <= '9';
      ms = ms * 10 + (ch - '0');
    }
    if (digits) retry_ms_ = ms;
  }
}

}  // namespace aikernel::tools::mcp
