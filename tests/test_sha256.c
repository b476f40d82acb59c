/* SHA-256 against the FIPS 180-4 example vectors, whole and fed in pieces. */
#define TEST_FILE "test_sha256"
#include "test.h"

#include "clvae/io/sha256.h"

static void hex_of(const void *data, size_t n, char hex[65])
{
    uint8_t d[32];
    clvae_sha256(data, n, d);
    clvae_sha256_hex(d, hex);
}

static void t_known_vectors(void)
{
    static const struct { const char *in, *want; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[65];
        hex_of(v[i].in, strlen(v[i].in), hex);
        CHECK(strcmp(hex, v[i].want) == 0, "sha256(\"%s\") = %s, want %s", v[i].in, hex,
              v[i].want);
    }
}

static void t_million_a_in_pieces(void)
{
    /* One million 'a' fed in pieces of awkward sizes crosses every block edge. */
    static char chunk[997];
    memset(chunk, 'a', sizeof chunk);
    clvae_sha256_t s;
    clvae_sha256_init(&s);
    size_t left = 1000000, step = 1;
    while (left > 0) {
        size_t n = step < left ? step : left;
        if (n > sizeof chunk) n = sizeof chunk;
        clvae_sha256_update(&s, chunk, n);
        left -= n;
        step = step * 3 + 1;
        if (step > sizeof chunk) step = 1;
    }
    uint8_t d[32];
    char hex[65];
    clvae_sha256_final(&s, d);
    clvae_sha256_hex(d, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0,
          "sha256(a * 1e6) = %s", hex);
}

static void t_padding_edges(void)
{
    /* Lengths 55, 56 and 64 take the three padding paths; pieces must agree. */
    char buf[130];
    memset(buf, 'x', sizeof buf);
    size_t lens[] = {55, 56, 63, 64, 65, 119, 128};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        char whole[65], parts[65];
        hex_of(buf, lens[i], whole);
        clvae_sha256_t s;
        uint8_t d[32];
        clvae_sha256_init(&s);
        for (size_t j = 0; j < lens[i]; j++) clvae_sha256_update(&s, buf + j, 1);
        clvae_sha256_final(&s, d);
        clvae_sha256_hex(d, parts);
        CHECK(strcmp(whole, parts) == 0, "length %zu: whole %s, bytewise %s", lens[i], whole,
              parts);
    }
    char h55[65], h56[65];
    hex_of(buf, 55, h55);
    hex_of(buf, 56, h56);
    CHECK(strcmp(h55, h56) != 0, "lengths 55 and 56 hash the same");
}

int main(void)
{
    RUN(t_known_vectors);
    RUN(t_million_a_in_pieces);
    RUN(t_padding_edges);
    return TEST_EXIT();
}
