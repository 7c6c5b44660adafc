#include "tools/mcp/protocol.h"

namespace aikernel::tools::mcp {

using nlohmann::json;

bool SupportedProtocolVersion(std::string_view v) {
  for (const char* s : kProtocolVersions) {
    if (v == s) return true;
  }
  return false;
}

Status LineFramer::Feed(std::string_view data, std::vector<std::string>* lines) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view chunk = data.substr(0, nl);
    if (partial_.size() + chunk.size() > max_bytes_) {
      partial_.clear();
      return absl::ResourceExhaustedError(
          absl::StrCat("message larger than ", max_bytes_, " bytes"));
    }
    partial_.append(chunk);
    if (nl == std::string_view::npos) break;
    data.remove_prefix(nl + 1);
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    if (!partial_.empty()) lines->push_back(std::move(partial_));
    partial_.clear();
  }
  return absl::OkStatus();
}

namespace {

std::string Excerpt(std::string_view line) {
  constexpr size_t kMax = 80;
  std::string out(line.substr(0, kMax));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  if (line.size() > kMax) out += "...";
  return out;
}

Status Malformed(std::string_view why, std::string_view line) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed JSON-RPC: ", std::string(why), " (got: ", Excerpt(line), ")"));
}

}  // namespace

StatusOr<Incoming> ParseIncoming(std::string_view line) {
  json j = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Malformed("not JSON", line);
  if (!j.is_object()) return Malformed("not a JSON object", line);
  auto v = j.find("jsonrpc");
  if (v == j.end() || *v != "2.0") return Malformed("\"jsonrpc\" is not \"2.0\"", line);
  Incoming in;
  auto id = j.find("id");
  auto method = j.find("method");
  bool has_id = id != j.end();
  if (has_id && !id->is_string() && !id->is_number_integer()) {
    return Malformed("\"id\" is neither a string nor an integer", line);
  }
  if (method != j.end()) {
    if (!method->is_string()) return Malformed("\"method\" is not a string", line);
    in.method = method->get<std::string>();
    in.kind = has_id ? Incoming::Kind::kRequest : Incoming::Kind::kNotification;
    if (has_id) in.id = *id;
    auto p = j.find("params");
    if (p != j.end()) in.params = *p;
    return in;
  }
  if (!has_id) return Malformed("neither \"method\" nor \"id\"", line);
  in.kind = Incoming::Kind::kResponse;
  in.id = *id;
  auto err = j.find("error");
  auto res = j.find("result");
  if (err != j.end()) {
    if (!err->is_object()) return Malformed("\"error\" is not an object", line);
    in.error = *err;
  } else if (res != j.end()) {
    in.result = *res;
  } else {
    return Malformed("a response with neither \"result\" nor \"error\"", line);
  }
  return in;
}

std::string DescribeError(const json& error) {
  std::string code = "?";
  std::string message;
  if (auto c = error.find("code"); c != error.end() && c->is_number_integer()) {
    code = std::to_string(c->get<int64_t>());
  }
  if (auto m = error.find("message"); m != error.end() && m->is_string()) {
    message = m->get<std::string>();
  }
  return absl::StrCat(code, ": ", message);
}

std::string MakeRequest(int64_t id, std::string_view method, const json& params) {
  json j = {{"jsonrpc", "2.0"}, {"id", id}, {"method", std::string(method)}};
  if (!params.is_null()) j["params"] = params;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string MakeNotification(std::string_view method, const json& params) {
  json j = {{"jsonrpc", "2.0"}, {"method", std::string(method)}};
  if (!params.is_null()) j["params"] = params;
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string MakeResult(const json& id, const json& result) {
  json j = {{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string MakeErrorReply(const json& id, int code, std::string_view message) {
  json j = {{"jsonrpc", "2.0"},
            {"id", id},
            {"error", {{"code", code}, {"message", std::string(message)}}}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

json InitializeParams(std::string_view client_version) {
  // No client capabilities: aikernel offers no roots, sampling or
  // elicitation to servers, so they must not ask for them.
  return {{"protocolVersion", kProtocolVersions[0]},
          {"capabilities", json::object()},
          {"clientInfo", {{"name", "aikerneld"}, {"version", std::string(client_version)}}}};
}

bool ValidToolName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

StatusOr<ToolsPage> ParseToolsList(const json& result) {
  if (!result.is_object()) {
    return absl::InvalidArgumentError("tools/list: result is not an object");
  }
  auto tools = result.find("tools");
  if (tools == result.end() || !tools->is_array()) {
    return absl::InvalidArgumentError("tools/list: result has no \"tools\" array");
  }
  ToolsPage page;
  for (const json& t : *tools) {
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string()) {
      page.skipped.push_back("(unnamed): no string \"name\"");
      continue;
    }
    ToolDef d;
    d.name = t["name"].get<std::string>();
    if (!ValidToolName(d.name)) {
      page.skipped.push_back(absl::StrCat(d.name.substr(0, 64),
                                          ": name is not 1-128 of [A-Za-z0-9_.-]"));
      continue;
    }
    if (auto s = t.find("inputSchema"); s != t.end()) {
      if (!s->is_object()) {
        page.skipped.push_back(d.name + ": inputSchema is not an object");
        continue;
      }
      d.input_schema = *s;
    }
    if (auto s = t.find("description"); s != t.end() && s->is_string()) {
      d.description = s->get<std::string>();
    }
    if (auto s = t.find("title"); s != t.end() && s->is_string()) {
      d.title = s->get<std::string>();
    }
    page.tools.push_back(std::move(d));
  }
  if (auto c = result.find("nextCursor"); c != result.end() && c->is_string()) {
    page.next_cursor = c->get<std::string>();
  }
  return page;
}

}  // namespace aikernel::tools::mcp
