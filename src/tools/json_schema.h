// tools::ValidateArgs: tool arguments checked against their JSON Schema
// before policy sees them.
//
// The subset real tool schemas use (MCP servers, zod-generated ones
// included): type (a name or a list; "integer" accepts 3 and 3.0), enum,
// const, properties, required, additionalProperties (false or a schema),
// items (a schema), minItems/maxItems, minLength/maxLength (code points),
// pattern (ECMAScript regex, searched anywhere in the string), minimum,
// maximum, exclusiveMinimum, exclusiveMaximum (numbers), anyOf, oneOf,
// allOf, not. Anything else ($ref, format, default, descriptions, ...) is
// ignored, so an unknown keyword never refuses a call; a keyword of the
// wrong shape (e.g. "required": 3) is ignored the same way.
//
// Errors are INVALID_ARGUMENT "<path>: <what>", where path starts at
// `root` ("args") and names the field: "args.headers.Accept: expected
// string, got number", "args: missing required field 'path'". Pure;
// thread-safe; never throws.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace aikernel::tools {

Status ValidateArgs(const nlohmann::json& schema, const nlohmann::json& value,
                    const std::string& root = "args");

}  // namespace aikernel::tools
