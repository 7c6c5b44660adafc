// How aictl shows SDK results: JSON documents (--json) and human text, and
// how it words errors. Pure functions over SDK values; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "aikernel/client.h"

namespace aikernel::cli {

nlohmann::ordered_json WhoamiJson(const WhoamiResult& r);
std::string WhoamiText(const WhoamiResult& r);

nlohmann::ordered_json StatusJson(const NodeStatus& s);
std::string StatusText(const NodeStatus& s);

nlohmann::ordered_json ReloadJson(const ReloadResult& r);
std::string ReloadText(const ReloadResult& r);

// Every field; hashes and digest as lower-case hex; time RFC 3339 with ns.
nlohmann::ordered_json RecordJson(const AuditRecord& r);
// Table columns for records (tail, query).
const std::vector<std::string>& RecordHeader();
std::vector<std::string> RecordRow(const AuditRecord& r);
// Column widths for rows printed as they stream in (tail -f).
const std::vector<size_t>& RecordStreamWidths();

// "aictl: <command>: permission denied: <message> (audit record #12)" etc.
std::string DescribeError(std::string_view command, const Status& s);
// "aictl: cannot connect to <path>: <why> — is aikerneld running? (see --socket)"
std::string DescribeConnectError(const Status& s);
// exit code for a failed SDK status (format.h).
int ExitCodeFor(const Status& s);

}  // namespace aikernel::cli
