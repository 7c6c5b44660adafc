// aikernel::Status and aikernel::Result<T>: errors as values for the client SDK.
//
// A Status is a code (gRPC's status code numbers, so a code read here means
// exactly what the daemon sent) plus a message naming the cause. A default
// Status is OK and costs one empty string. Result<T> holds either a T or a
// non-OK Status. Both are plain values: copy them, move them, keep them; they
// are thread-compatible (const use from many threads is safe, mutation needs
// external synchronization), like std::string.
//
// This header is part of the public SDK (include/aikernel/): plain C++20, no
// gRPC, protobuf or absl. The SDK's names live in the inline namespace
// aikernel::sdk, so callers write aikernel::Status. The inline namespace lets
// this header be included together with the daemon's internal
// src/common/status.h (whose aikernel::Status is absl::Status); code that does
// so must then spell aikernel::sdk::Status or absl::Status.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace aikernel {
inline namespace sdk {

// gRPC's status codes, same numbers (grpc/status.h).
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// The canonical upper-case name, e.g. "PERMISSION_DENIED". Codes outside
// 0..16 are "UNKNOWN".
const char* StatusCodeName(StatusCode code);
// Maps a raw code number to a StatusCode; numbers outside 0..16 become kUnknown.
StatusCode StatusCodeFromInt(int code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  // `code` kOk with a message is still OK (the message is kept).
  Status(StatusCode code, std::string message, uint64_t audit_sequence = 0)
      : code_(code), message_(std::move(message)), audit_sequence_(audit_sequence) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The sequence number of the audit record the daemon wrote for the failed
  // call (a denied call is audited too); 0 if the daemon sent none, e.g. when
  // the call never reached it.
  uint64_t audit_sequence() const { return audit_sequence_; }

  // True for PERMISSION_DENIED and UNAUTHENTICATED: the daemon refused the
  // caller, as opposed to failing.
  bool denied() const {
    return code_ == StatusCode::kPermissionDenied || code_ == StatusCode::kUnauthenticated;
  }

  // "OK", or "PERMISSION_DENIED: <message>".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  uint64_t audit_sequence_ = 0;
};

// Either a T (ok()) or a non-OK Status. Constructing a Result from an OK
// Status is a programming error; it yields INTERNAL instead of a value.
// value() on a Result that is not ok() aborts the process.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status(StatusCode::kInternal, "Result built from an OK Status");
  }

  bool ok() const { return value_.has_value(); }
  // OK if ok(), else the error.
  const Status& status() const { return status_; }

  T& value() & { Check(); return *value_; }
  const T& value() const& { Check(); return *value_; }
  T&& value() && { Check(); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  void Check() const {
    if (!value_) std::abort();
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace sdk
}  // namespace aikernel
