#include "identity/ossl.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <vector>

namespace aikernel::identity::ossl {
namespace {

TEST(OsslTest, Base64UrlRoundTripsAndIsStrict) {
  for (const std::string& s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar",
                                std::string("\xff\xfe\x00\x01", 4)}) {
    auto back = Base64UrlDecode(Base64UrlEncode(s));
    ASSERT_TRUE(back.ok()) << s;
    EXPECT_EQ(*back, s);
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_FALSE(Base64UrlDecode("Zm9v=").ok());  // padding
  EXPECT_FALSE(Base64UrlDecode("Zm+v").ok());   // standard alphabet
  EXPECT_FALSE(Base64UrlDecode("Z").ok());      // impossible length
  EXPECT_FALSE(Base64UrlDecode("Zh").ok());     // non-canonical bits
  EXPECT_FALSE(Base64UrlDecode("Zm9 v").ok());
}

TEST(OsslTest, EcdsaRawDerRoundTrip) {
  auto key = GenerateP256();
  ASSERT_TRUE(key.ok());
  auto sig = SignEs256(key->get(), "data");
  ASSERT_TRUE(sig.ok());
  ASSERT_EQ(sig->size(), 64u);
  auto der = EcdsaRawToDer(*sig);
  ASSERT_TRUE(der.ok());
  EXPECT_EQ(*EcdsaDerToRaw(*der), *sig);
  EXPECT_TRUE(VerifyEs256(key->get(), "data", *sig));
  EXPECT_FALSE(VerifyEs256(key->get(), "datA", *sig));
  EXPECT_FALSE(VerifyEs256(key->get(), "data", sig->substr(1)));
}

TEST(OsslTest, FastPrivateKeyPemMatchesOpenSsl) {
  for (int i = 0; i < 50; ++i) {
    auto key = GenerateP256();
    ASSERT_TRUE(key.ok());
    auto fast = P256PrivateKeyPem(key->get());
    auto slow = PrivateKeyPem(key->get());
    ASSERT_TRUE(fast.ok() && slow.ok());
    EXPECT_EQ(*fast, *slow);
  }
}

TEST(OsslTest, FastPublicKeyMatchesX509SetPubkey) {
  for (int i = 0; i < 20; ++i) {
    auto key = GenerateP256();
    ASSERT_TRUE(key.ok());
    X509Ptr a(X509_new()), b(X509_new());
    ASSERT_EQ(X509_set_pubkey(a.get(), key->get()), 1);
    ASSERT_TRUE(SetP256PublicKey(b.get(), key->get()).ok());
    unsigned char* da = nullptr;
    unsigned char* db = nullptr;
    int la = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(a.get()), &da);
    int lb = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(b.get()), &db);
    ASSERT_GT(la, 0);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(da), la),
              std::string(reinterpret_cast<char*>(db), lb));
    const unsigned char* p = db;
    PkeyPtr parsed(d2i_PUBKEY(nullptr, &p, lb));
    ASSERT_NE(parsed, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(parsed.get(), key->get()), 1);
    OPENSSL_free(da);
    OPENSSL_free(db);
  }
}

}  // namespace
}  // namespace aikernel::identity::ossl
