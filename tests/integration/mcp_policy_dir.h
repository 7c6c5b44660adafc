// The shipped policies (config/policies/default.cedar and the schema) plus a
// test's own Cedar text (`extra`, as policies/zz-test.cedar), written under
// `root`/policy and made `d`'s policy dir. Shared by the MCP daemon tests.
#pragma once

#include <filesystem>
#include <string>

#include "integration/daemon_process.h"
#include "integration/helpers.h"

namespace aikernel::testing {

inline void UseShippedPoliciesPlus(DaemonProcess& d, const std::string& root,
                                   const std::string& extra) {
  namespace fs = std::filesystem;
  const std::string pdir = root + "/policy";
  fs::create_directories(pdir + "/policies");
  fs::copy_file(std::string(AIK_SOURCE_DIR) + "/config/policies/default.cedar",
                pdir + "/policies/default.cedar");
  fs::copy_file(std::string(AIK_SOURCE_DIR) + "/config/aikernel.cedarschema",
                pdir + "/aikernel.cedarschema");
  WriteFile(pdir + "/policies/zz-test.cedar", extra);
  d.set_policy_dir(pdir);
}

}  // namespace aikernel::testing
