// Internals of the sandbox library shared between its .cc files. Not part of
// the API; nothing outside src/sandbox includes this.
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "sandbox/sandbox.h"

namespace aikernel::sandbox::internal {

// Landlock UAPI, defined here because Debian 12's <linux/landlock.h> stops at
// ABI 2 while the kernels we run on offer ABI 7.
inline constexpr uint64_t kLlExecute = 1ULL << 0;
inline constexpr uint64_t kLlWriteFile = 1ULL << 1;
inline constexpr uint64_t kLlReadFile = 1ULL << 2;
inline constexpr uint64_t kLlReadDir = 1ULL << 3;
inline constexpr uint64_t kLlAbi1Fs = (1ULL << 13) - 1;  // bits 0..12
inline constexpr uint64_t kLlRefer = 1ULL << 13;         // ABI 2
inline constexpr uint64_t kLlTruncate = 1ULL << 14;      // ABI 3
inline constexpr uint64_t kLlIoctlDev = 1ULL << 15;      // ABI 5
inline constexpr uint64_t kLlNetBindTcp = 1ULL << 0;     // ABI 4
inline constexpr uint64_t kLlNetConnectTcp = 1ULL << 1;  // ABI 4
inline constexpr uint64_t kLlScopeAbstractUnix = 1ULL << 0;  // ABI 6
inline constexpr uint64_t kLlScopeSignal = 1ULL << 1;        // ABI 6
inline constexpr uint64_t kLlFileRights =
    kLlExecute | kLlWriteFile | kLlReadFile | kLlTruncate | kLlIoctlDev;

struct LandlockRulesetAttr {
  uint64_t handled_access_fs = 0;
  uint64_t handled_access_net = 0;
  uint64_t scoped = 0;
};
struct __attribute__((packed)) LandlockPathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};
inline constexpr int kLandlockRulePathBeneath = 1;

// All fs access rights the given ABI knows.
uint64_t LandlockFsMask(int abi);

// The seccomp deny list as a BPF program, built once with libseccomp.
StatusOr<const std::vector<sock_filter>*> SeccompProgram();
// The syscalls the filter denies (names), for docs and in_force.
const std::vector<const char*>& SeccompDenied();

// Highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap).
int CapLast();

// Writes memory.max (+ memory.swap.max 0), pids.max, cpu.max under the cgroup
// directory `path` for the non-zero limits whose files exist; returns the
// controllers it limited ("memory", "pids", "cpu").
StatusOr<std::vector<std::string>> ApplyCgroupLimits(const std::string& path, const Limits& limits);

// INTERNAL "<what>: <strerror(err)>".
Status ErrnoError(const std::string& what, int err);

// Reads a whole small file; "" on error.
std::string ReadSmallFile(const std::string& path);
// Writes `data` to an existing file (no O_CREAT).
Status WriteFile(const std::string& path, const std::string& data);

}  // namespace aikernel::sandbox::internal
