/* SHA-256 (FIPS 180-4): kernel cache keys, data and checkpoint checksums. */
#ifndef CLVAE_SHA256_H
#define CLVAE_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Running SHA-256 state. */
typedef struct clvae_sha256 {
    uint32_t h[8];      /* chaining value */
    uint64_t len;       /* bytes hashed so far */
    uint8_t buf[64];    /* pending partial block */
    size_t fill;        /* bytes in buf */
} clvae_sha256_t;

/* Starts a new hash. */
void clvae_sha256_init(clvae_sha256_t *s);

/* Adds n bytes. */
void clvae_sha256_update(clvae_sha256_t *s, const void *data, size_t n);

/* Finishes the hash into out[32]. */
void clvae_sha256_final(clvae_sha256_t *s, uint8_t out[32]);

/* Hashes n bytes at once. */
void clvae_sha256(const void *data, size_t n, uint8_t out[32]);

/* Writes the 64 lower-case hex digits of a digest and a NUL into hex[65]. */
void clvae_sha256_hex(const uint8_t digest[32], char hex[65]);

#endif
