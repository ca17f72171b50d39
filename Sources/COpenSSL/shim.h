// SigV4 hashes with the low-level SHA256_* calls (no provider lookup per digest, which the
// EVP interface of OpenSSL 3 costs on every call); they are deprecated there but present, so
// their deprecation attributes are turned off for this module.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
