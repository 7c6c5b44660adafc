// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with all its
// contents on destruction. For tests.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace aikernel::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string templ =
        std::string(base && *base ? base : "/tmp") + "/aik-test-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) abort();
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace aikernel::testing
