// identity::NodeKey: the node's Ed25519 signing key.
//
// Made on first start under <state-dir>/keys/ (node.key, PEM PKCS#8, mode
// 0600, in a 0700 directory) with the public half beside it (node.pub, PEM,
// 0644). Signs audit checkpoints now; later issues hang the node CA on it.
// Immutable after load; Sign() is thread-safe.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace aikernel::identity {

class NodeKey {
 public:
  // Loads keys/node.key under `keys_dir`, creating the dir (0700) and a new
  // key (0600) if absent. Refuses a key file that is group- or
  // world-accessible, naming the file and its mode.
  static StatusOr<std::unique_ptr<NodeKey>> LoadOrCreate(
      const std::string& keys_dir);
  ~NodeKey();

  // Ed25519 signature (64 bytes) over `message`.
  StatusOr<std::string> Sign(const std::string& message) const;
  std::string PublicKeyRaw() const;  // 32 bytes
  std::string PublicKeyPem() const;
  // First 16 hex chars of SHA-256 of the raw public key.
  std::string KeyId() const;

  class Impl;

 private:
  explicit NodeKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True if `signature` is a valid Ed25519 signature of `message` under the
// public key in `public_key_pem`. Errors (bad PEM) are INVALID_ARGUMENT.
StatusOr<bool> VerifyEd25519(const std::string& public_key_pem,
                             const std::string& message,
                             const std::string& signature);
// Key id (as NodeKey::KeyId) of a PEM public key.
StatusOr<std::string> KeyIdOfPem(const std::string& public_key_pem);

}  // namespace aikernel::identity
