/* The tuning cache: round trip, tuned GEMM parameters against the reference, every kind of bad
 * cache ignored with one warning, CLVAE_TUNING=0, conv_direct values from the cache used by
 * the convs, the tuner refusing to time defaults that CLBlast no longer has. */
#define TEST_FILE "test_tuning"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clvae/device/blas.h"
#include "clvae/ops/conv.h"
#include "clvae/io/sha256.h"
#include "clvae/device/tuning.h"

static char dir[256];
static int warnings;    /* warnings logged by the last context opened with open_ctx */
static char last_warning[1024];

static void on_log(void *user, int level, const char *msg)
{
    (void)user;
    if (level == CLVAE_LOG_WARN) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

static clvae_ctx_t *open_ctx(void)
{
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    o.log = on_log;
    o.log_level = CLVAE_LOG_WARN;
    warnings = 0;
    last_warning[0] = 0;
    clvae_ctx_t *ctx = NULL;
    clvae_error_t err = {0};
    if (clvae_ctx_init(&ctx, &o, &err)) fprintf(stderr, "context: %s\n", err.msg);
    clvae_error_clear(&err);
    return ctx;
}

/* Xgemm parameters unlike both the built-in ones and CLBlast's: small tiles, local memory. */
static const char *xk[16] = {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
                             "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"};
static const int xv[16] = {0, 1, 16, 2, 4, 4, 32, 4, 4, 32, 1, 1, 0, 0, 4, 4};

static int set_tuned(clvae_ctx_t *ctx)
{
    clvae_error_t err = {0};
    int bad = 0;
    for (int i = 0; i < 16; i++) {
        char key[64];
        snprintf(key, sizeof key, "xgemm.%s", xk[i]);
        bad |= clvae_tuning_set(ctx, key, xv[i], &err) != CLVAE_OK;
    }
    bad |= clvae_tuning_set(ctx, "conv_direct.wg", 32, &err) != CLVAE_OK;
    bad |= clvae_tuning_set(ctx, "gemm.XGEMM_MIN_INDIRECT_SIZE", 0, &err) != CLVAE_OK;
    clvae_error_clear(&err);
    return bad ? -1 : 0;
}

static void cache_path(char *buf, size_t size)
{
    clvae_ctx_t *ctx = open_ctx();
    buf[0] = 0;
    if (ctx) clvae_tuning_path(ctx, buf, size);
    clvae_ctx_free(ctx);
}

/* Writes a good cache file for this device (the parameters above). */
static int write_good(void)
{
    clvae_ctx_t *ctx = open_ctx();
    if (!ctx || set_tuned(ctx)) return -1;
    clvae_tuning_figure_t fig = {0, 1, 64, 288, 25088, 2, 10.5, 20.25};
    clvae_error_t err = {0};
    clvae_status_t s = clvae_tuning_save(ctx, &fig, 1, &err);
    if (s) fprintf(stderr, "save: %s\n", err.msg);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    return s ? -1 : 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[*len] = 0;
    return buf;
}

static int spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int bad = fwrite(data, 1, len, f) != len;
    return (fclose(f) || bad) ? -1 : 0;
}

/* Replaces the first `from` with `to` in text and writes it with a fresh, valid checksum (so
 * that only the change itself is wrong). */
static int rewrite_signed(const char *path, const char *text, const char *from, const char *to)
{
    const char *mark = ",\n  \"checksum\": \"";
    const char *m = strstr(text, mark), *at = strstr(text, from);
    if (!m || !at || at > m) return -1;
    size_t n = strlen(text) + strlen(to) + 256;
    char *out = malloc(n);
    if (!out) return -1;
    size_t pre = (size_t)(at - text);
    memcpy(out, text, pre);
    size_t len = pre;
    len += (size_t)snprintf(out + len, n - len, "%s", to);
    memcpy(out + len, at + strlen(from), (size_t)(m - at) - strlen(from));
    len += (size_t)(m - at) - strlen(from);
    uint8_t h[32];
    char hex[65];
    clvae_sha256(out, len, h);
    clvae_sha256_hex(h, hex);
    len += (size_t)snprintf(out + len, n - len, "%s%s\"\n}\n", mark, hex);
    int r = spit(path, out, len);
    free(out);
    return r;
}

static void test_round_trip(void)
{
    REQUIRE(write_good() == 0, "cache written");
    char path[4096];
    cache_path(path, sizeof path);
    REQUIRE(*path && access(path, R_OK) == 0, "cache file %s exists", path);
    CHECK(strncmp(path, dir, strlen(dir)) == 0, "cache in CLVAE_TUNING_DIR: %s", path);
    size_t len;
    char *text = slurp(path, &len);
    REQUIRE(text, "read back");
    CHECK(strstr(text, "\"xgemm.MWG\": 32") && strstr(text, "\"checksum\": \"") &&
              strstr(text, "\"tuned_gflop_s\": 20.25"),
          "content:\n%s", text);
    free(text);
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    CHECK(clvae_tuning_state(ctx) == CLVAE_TUNING_TUNED, "state %d", clvae_tuning_state(ctx));
    CHECK(clvae_tuning_int(ctx, "conv_direct.wg", 7) == 32, "tuned value read back");
    CHECK(clvae_tuning_int(ctx, "xgemm.VWN", 7) == 4, "xgemm value read back");
    CHECK(clvae_tuning_int(ctx, "conv_direct.nosuch", 7) == 7, "a missing key gives the default");
    CHECK(warnings == 0, "no warning for a good cache: %s", last_warning);
    clvae_ctx_free(ctx);
    /* nothing left behind but the cache file itself (the writer's temp file is renamed) */
    DIR *d = opendir(dir);
    REQUIRE(d, "open %s", dir);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    struct dirent *e;
    int others = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, base)) {
            fprintf(stderr, "  left in %s: %s\n", dir, e->d_name);
            others++;
        }
    closedir(d);
    CHECK(others == 0, "%d files beside the cache", others);
}

/* C = op(A) op(B) on the device with the given context against a double reference, for every
 * pair of transposes and sizes that are not multiples of any tile. */
static int gemm_matches(clvae_ctx_t *ctx)
{
    const size_t M = 37, N = 53, K = 29;
    int ok = 1;
    uint64_t seed = 5;
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    double *want = malloc(M * N * sizeof *want);
    if (!a || !b || !want) return 0;
    tu_rand(a, M * K, -1, 1, &seed);
    tu_rand(b, K * N, -1, 1, &seed);
    for (int t = 0; t < 4 && ok; t++) {
        int ta = t & 1, tb = t >> 1;
        size_t lda = ta ? M : K, ldb = tb ? K : N;
        clvae_gemm_ref(want, a, b, NULL, ta, tb, M, N, K, lda, ldb, N, 1.0, 0.0);
        clvae_buf_t da = tu_upload(ctx, a, M * K), db = tu_upload(ctx, b, K * N),
                    dc = tu_zeros(ctx, M * N);
        clvae_error_t err = {0};
        float *got = NULL;
        if (da.mem && db.mem && dc.mem &&
            clvae_gemm(ctx, ta, tb, M, N, K, 1.0f, da, lda, db, ldb, 0.0f, dc, N, &err) ==
                CLVAE_OK)
            got = tu_download(ctx, dc, M * N);
        else
            fprintf(stderr, "gemm: %s\n", err.msg);
        char what[32];
        snprintf(what, sizeof what, "gemm ta=%d tb=%d", ta, tb);
        ok = got && tu_close(what, got, want, M * N, 1e-4, 1e-4, NULL);
        free(got);
        clvae_error_clear(&err);
        clvae_buf_free(&da);
        clvae_buf_free(&db);
        clvae_buf_free(&dc);
    }
    free(a);
    free(b);
    free(want);
    return ok;
}

static void test_tuned_gemm(void)
{
    /* from the cache of the round trip: small tiles with local memory, every GEMM indirect */
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    CHECK(clvae_tuning_state(ctx) == CLVAE_TUNING_TUNED, "tuned");
    CHECK(gemm_matches(ctx), "GEMM with tuned parameters");
    clvae_ctx_free(ctx);
}

/* Writes a cache holding the conv_direct values given (NULL-terminated keys). */
static int write_conv_cache(const char *const *keys, const int *values)
{
    clvae_ctx_t *ctx = open_ctx();
    if (!ctx) return -1;
    clvae_error_t err = {0};
    clvae_status_t s = CLVAE_OK;
    for (int i = 0; keys[i] && !s; i++) s = clvae_tuning_set(ctx, keys[i], values[i], &err);
    clvae_tuning_figure_t fig = {0, 1, 64, 288, 25088, 2, 10.5, 20.25};
    if (!s) s = clvae_tuning_save(ctx, &fig, 1, &err);
    if (s) fprintf(stderr, "conv cache: %s\n", err.msg);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    return s ? -1 : 0;
}

/* The thesis VAE's first conv (1 -> 32, 28x28, 3x3 same) forward and weight gradient in a
 * fresh context (which reads the cache) with CLVAE_CONV_PATH as given (NULL: the rule);
 * y and dw are malloc'ed, NULL on failure. */
static void conv_run(const char *path, float **y, float **dw)
{
    const size_t N = 3;
    *y = *dw = NULL;
    if (path) setenv("CLVAE_CONV_PATH", path, 1);
    else unsetenv("CLVAE_CONV_PATH");
    clvae_ctx_t *ctx = open_ctx();
    clvae_conv_params_t p = {3, 3, 1, 1, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0};
    clvae_conv_geom_t g;
    clvae_error_t err = {0};
    if (ctx && clvae_conv2d_geom(&g, N, 1, 28, 28, 32, &p, &err) == CLVAE_OK) {
        size_t nx = N * 28 * 28, ny = N * 32 * 28 * 28, nw = 32 * 9;
        float *hx = malloc(nx * sizeof *hx), *hy = malloc(ny * sizeof *hy);
        float *hw = malloc(nw * sizeof *hw);
        uint64_t seed = 99;
        tu_rand(hx, nx, -1, 1, &seed);
        tu_rand(hy, ny, -1, 1, &seed);
        tu_rand(hw, nw, -1, 1, &seed);
        clvae_buf_t x = tu_upload(ctx, hx, nx), w = tu_upload(ctx, hw, nw);
        clvae_buf_t dy = tu_upload(ctx, hy, ny), by = tu_zeros(ctx, ny), bdw = tu_zeros(ctx, nw);
        clvae_buf_t b = tu_upload(ctx, hw, 32), none = {0};
        if (clvae_conv2d_forward(ctx, by, x, w, b, &g, &err) == CLVAE_OK &&
            clvae_conv2d_backward(ctx, none, bdw, none, dy, x, w, &g, &err) == CLVAE_OK) {
            *y = tu_download(ctx, by, ny);
            *dw = tu_download(ctx, bdw, nw);
        } else {
            fprintf(stderr, "conv: %s\n", err.msg);
        }
        free(hx), free(hy), free(hw);
        clvae_buf_free(&x), clvae_buf_free(&w), clvae_buf_free(&dy), clvae_buf_free(&by);
        clvae_buf_free(&bdw), clvae_buf_free(&b);
    }
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    unsetenv("CLVAE_CONV_PATH");
}

/* conv_direct values from the cache reach src/conv.c: max_ckk = 0 sends the thesis conv to
 * im2col + GEMM (its bits are the GEMM path's, unlike the direct path's: the two add the bias
 * at different points), max_ckk = 27 with other tile values keeps it direct. */
static void test_tuned_conv(void)
{
    static const char *const keys[] = {"conv_direct.max_ckk", "conv_direct.vw",
                                       "conv_direct.dw_vw",   "conv_direct.kb",
                                       "conv_direct.wg",      "conv_direct.dw_pixels", NULL};
    const size_t ny = 3 * 32 * 28 * 28, nw = 32 * 9;
    float *yg, *dwg, *yd, *dwd, *ya, *dwa;
    conv_run("gemm", &yg, &dwg);
    conv_run("direct", &yd, &dwd);
    REQUIRE(yg && yd && dwg && dwd, "conv on both paths");
    CHECK(memcmp(yg, yd, ny * sizeof *yg) != 0, "the two paths differ in bits");
    for (int c = 0; c < 2; c++) {
        static const int vals[2][6] = {{0, 16, 8, 2, 16, 1024}, {27, 16, 16, 1, 64, 1024}};
        REQUIRE(write_conv_cache(keys, vals[c]) == 0, "cache %d written", c);
        clvae_ctx_t *ctx = open_ctx();
        REQUIRE(ctx, "context");
        CHECK(clvae_tuning_state(ctx) == CLVAE_TUNING_TUNED, "tuned");
        for (int i = 0; keys[i]; i++)
            CHECK(clvae_tuning_int(ctx, keys[i], -1) == vals[c][i], "%s read back", keys[i]);
        clvae_ctx_free(ctx);
        conv_run(NULL, &ya, &dwa);
        REQUIRE(ya && dwa, "conv with the cache's values");
        const float *want = c == 0 ? yg : yd;
        CHECK(memcmp(ya, want, ny * sizeof *ya) == 0,
              "max_ckk=%d from the cache: forward has the %s path's bits", vals[c][0],
              c == 0 ? "GEMM" : "direct");
        if (c == 0) CHECK(memcmp(dwa, dwg, nw * sizeof *dwa) == 0, "dw has the GEMM path's bits");
        /* with other tile values the weight gradient is the direct path's, up to the order
         * of its sums */
        if (c == 1) {
            double worst = 0;
            for (size_t i = 0; i < nw; i++) {
                double d = fabs((double)dwa[i] - (double)dwd[i]);
                if (d > worst) worst = d;
            }
            CHECK(worst < 1e-3, "dw with tuned tiles off the direct path's by %g", worst);
        }
        free(ya), free(dwa);
    }
    free(yg), free(dwg), free(yd), free(dwd);
    REQUIRE(write_good() == 0, "the usual cache back");
}

static void test_set_rejects_bad_keys(void)
{
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    clvae_error_t err = {0};
    CHECK(clvae_tuning_set(ctx, "", 1, &err) == CLVAE_ERR_INVALID, "empty key");
    CHECK(clvae_tuning_set(ctx, "has space", 1, &err) == CLVAE_ERR_INVALID, "space");
    CHECK(clvae_tuning_set(ctx, "a\"b", 1, &err) == CLVAE_ERR_INVALID, "quote");
    char longkey[80];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = 0;
    CHECK(clvae_tuning_set(ctx, longkey, 1, &err) == CLVAE_ERR_INVALID, "too long");
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
}

/* Opens a context over the (bad) cache file in place: defaults, one warning however often
 * parameters are asked for, and GEMM still right. */
static void expect_rejected(const char *kind)
{
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    CHECK(clvae_tuning_state(ctx) == CLVAE_TUNING_REJECTED, "%s: state %d", kind,
          clvae_tuning_state(ctx));
    for (int i = 0; i < 3; i++)
        CHECK(clvae_tuning_int(ctx, "conv_direct.wg", 7) == 7, "%s: default used", kind);
    CHECK(gemm_matches(ctx), "%s: GEMM with the defaults", kind);
    CHECK(warnings == 1, "%s: %d warnings (want one)", kind, warnings);
    CHECK(strstr(last_warning, "tuning cache") != NULL, "%s: warning names the cache: %s", kind,
          last_warning);
    fprintf(stderr, "  (%s: \"%s\")\n", kind, last_warning);
    clvae_ctx_free(ctx);
}

static void test_corrupt_caches(void)
{
    char path[4096];
    REQUIRE(write_good() == 0, "cache written");
    cache_path(path, sizeof path);
    size_t len;
    char *good = slurp(path, &len);
    REQUIRE(good && len > 100, "good cache read");

    REQUIRE(spit(path, good, len / 2) == 0, "truncated");
    expect_rejected("truncated");

    char *flip = malloc(len);
    REQUIRE(flip, "memory");
    memcpy(flip, good, len);
    char *v = strstr(flip, "\"xgemm.MWG\": 32");
    REQUIRE(v, "value found");
    v[strlen("\"xgemm.MWG\": 3")] ^= 0x01; /* 32 -> 33 */
    REQUIRE(spit(path, flip, len) == 0, "flipped");
    expect_rejected("flipped byte");
    free(flip);

    REQUIRE(rewrite_signed(path, good, "\"device\": \"", "\"device\": \"another ") == 0, "key");
    expect_rejected("wrong key");

    REQUIRE(rewrite_signed(path, good, "\"version\": 1", "\"version\": 99") == 0, "version");
    expect_rejected("wrong version");

    REQUIRE(rewrite_signed(path, good, "\"xgemm.MWG\": 32", "\"xgemm.MWG\": -32") == 0, "neg");
    expect_rejected("negative value");

    char garbage[512];
    uint64_t seed = 9;
    float r[128];
    tu_rand(r, 128, 0, 256, &seed);
    for (int i = 0; i < 512; i++) garbage[i] = (char)(int)r[i % 128] ^ (char)i;
    REQUIRE(spit(path, garbage, sizeof garbage) == 0, "garbage");
    expect_rejected("garbage");

    REQUIRE(spit(path, "", 0) == 0, "empty");
    expect_rejected("empty");

    REQUIRE(remove(path) == 0 && mkdir(path, 0700) == 0, "directory");
    expect_rejected("directory instead of a file");
    rmdir(path);

    /* and a good one again is used */
    REQUIRE(spit(path, good, len) == 0, "restored");
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    CHECK(clvae_tuning_state(ctx) == CLVAE_TUNING_TUNED && warnings == 0, "restored cache used");
    clvae_ctx_free(ctx);
    free(good);
}

static void test_tuning_off(void)
{
    REQUIRE(write_good() == 0, "cache written");
    setenv("CLVAE_TUNING", "0", 1);
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    CHECK(clvae_tuning_state(ctx) == CLVAE_TUNING_OFF, "off");
    CHECK(clvae_tuning_int(ctx, "conv_direct.wg", 7) == 7, "default with CLVAE_TUNING=0");
    CHECK(gemm_matches(ctx), "GEMM with the defaults");
    CHECK(warnings == 0, "no warning: %s", last_warning);
    clvae_ctx_free(ctx);
    unsetenv("CLVAE_TUNING");
}

static void test_untuned(void)
{
    char path[4096];
    cache_path(path, sizeof path);
    remove(path);
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    CHECK(clvae_tuning_state(ctx) == CLVAE_TUNING_UNTUNED, "untuned");
    CHECK(clvae_tuning_int(ctx, "conv_direct.wg", 7) == 7, "default");
    CHECK(warnings == 0, "no warning for a missing cache: %s", last_warning);
    clvae_ctx_free(ctx);
    /* a folder that cannot be created: saving fails with an error, nothing else */
    setenv("CLVAE_TUNING_DIR", "/dev/null/nope", 1);
    ctx = open_ctx();
    REQUIRE(ctx, "context");
    clvae_error_t err = {0};
    CHECK(clvae_tuning_save(ctx, NULL, 0, &err) == CLVAE_ERR_IO, "unwritable folder: %s",
          err.msg);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    setenv("CLVAE_TUNING_DIR", dir, 1);
}

/* CLBlast keeps GEMM parameters once given, for the rest of the process: a context that gave
 * it a tuned switch has no defaults left to time, and the tuner says so rather than time the
 * tuned values as the defaults (it did: its "default" column was the tuned speed). Run last:
 * the switch stays for the process. */
static void test_tune_refuses_lost_defaults(void)
{
    clvae_ctx_t *ctx = open_ctx();
    REQUIRE(ctx, "context");
    clvae_error_t err = {0};
    /* XgemmDirect has no built-in set (Xgemm and, on pocl's CPU device, the switch between
     * them do: a context can always go back to those); CLBlast's own values, given as tuned */
    static const char *const keys[10] = {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA",
                                         "PADB", "VWMD", "VWND", "WGD"};
    static const int vals[10] = {1, 8, 8, 8, 8, 1, 1, 1, 1, 8};
    for (int i = 0; i < 10; i++) {
        char key[64];
        snprintf(key, sizeof key, "xgemmdirect.%s", keys[i]);
        CHECK(clvae_tuning_set(ctx, key, vals[i], &err) == CLVAE_OK, "set %s: %s", key, err.msg);
    }
    CHECK(gemm_matches(ctx), "GEMM with tuned direct parameters");
    clvae_gemm_shape_t sh = clvae_gemm_shape_packed(0, 0, 32, 32, 32, 1);
    clvae_tune_opts_t o = {1, 1, &sh, 1, NULL, NULL};
    clvae_tune_result_t r;
    clvae_status_t s = clvae_tune(ctx, &o, &r, &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "defaults cannot be timed"),
          "refused (status %d): %s", (int)s, err.msg);
    CHECK(r.figs == NULL, "no figures");
    clvae_tune_result_free(&r);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/clvae_test_tuning_%ld", (long)getpid());
    setenv("CLVAE_TUNING_DIR", dir, 1);
    unsetenv("CLVAE_TUNING");
    unsetenv("CLVAE_GEMM_DEFAULTS");
    RUN(test_round_trip);
    RUN(test_tuned_gemm);
    RUN(test_tuned_conv);
    RUN(test_set_rejects_bad_keys);
    RUN(test_corrupt_caches);
    RUN(test_tuning_off);
    RUN(test_untuned);
    RUN(test_tune_refuses_lost_defaults);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return TEST_EXIT();
}
