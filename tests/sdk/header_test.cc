// The public SDK headers are plain C++20: they must not pull in gRPC,
// protobuf, absl or anything from src/.
#include "aikernel/client.h"
#include "aikernel/status.h"

#include <gtest/gtest.h>

#if defined(GRPCPP_GRPCPP_H) || defined(GRPC_GRPC_H) || defined(GRPCPP_CHANNEL_H)
#error "include/aikernel/ pulls in gRPC"
#endif
#if defined(GOOGLE_PROTOBUF_VERSION)
#error "include/aikernel/ pulls in protobuf"
#endif
#if defined(ABSL_BASE_CONFIG_H_)
#error "include/aikernel/ pulls in absl"
#endif

TEST(PublicHeader, IsSelfContained) {
  aikernel::Status s;
  EXPECT_TRUE(s.ok());
  aikernel::ClientOptions o;
  EXPECT_EQ(o.fd, -1);
}
