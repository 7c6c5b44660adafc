// mcp::headers: the operator's own HTTP headers for a streamable HTTP MCP
// server ([[mcp]] headers / headers_from_file), checked before the daemon
// uses them.
//
// Contract
// - ValidateHeaders: a name is an HTTP token (RFC 9110 tchar) and not one
//   the transport owns (Content-Type, Accept, Mcp-Session-Id,
//   MCP-Protocol-Version, Last-Event-ID, Host, Content-Length,
//   Transfer-Encoding, Connection, Expect; any case); no name twice; a value
//   has no CR, LF or NUL. Errors name the header ("headers.X-Team: ...") and
//   never quote a secret value.
// - ReadHeaderSecret: a headers_from_file file is opened without following
//   a symlink and must be a regular file owned by root or the daemon's euid
//   with no group/other permission bits (0600 or stricter), at most 8 KiB;
//   its content with trailing CR/LF trimmed. Errors name the path and the
//   reason, never the content.
// - ShownHeaders: "Name: value" per header for operators (aictl mcp ls),
//   "Name: <secret>" for a value read from a file.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "tools/mcp/server_config.h"

namespace aikernel::tools::mcp {

Status ValidateHeaders(const std::vector<HttpHeader>& headers);
StatusOr<std::string> ReadHeaderSecret(const std::string& path);
std::vector<std::string> ShownHeaders(const std::vector<HttpHeader>& headers);

}  // namespace aikernel::tools::mcp
