/* The context's counters: launches, GEMM calls, transfers and host waits of known ops, exactly. */
#define TEST_FILE "test_counters"
#include "test.h"
#include "testutil.h"

#include <inttypes.h>

#include "clvae/device/blas.h"
#include "clvae/device/tuning.h"
#include "clvae/ops/basic.h"

static clvae_ctx_t *ctx;

/* The context's counters now. */
static clvae_counters_t now(void)
{
    clvae_counters_t c;
    clvae_ctx_counters(ctx, &c);
    return c;
}

/* Checks every counter of c against want (a designated initializer leaves the rest 0). */
#define SAME(c, want)                                                                            \
    CHECK(c.launches == want.launches && c.gemm_calls == want.gemm_calls &&                      \
              c.uploads == want.uploads && c.upload_bytes == want.upload_bytes &&                \
              c.downloads == want.downloads && c.download_bytes == want.download_bytes &&        \
              c.copies == want.copies && c.copy_bytes == want.copy_bytes &&                      \
              c.waits == want.waits,                                                             \
          "launches %" PRIu64 " gemm %" PRIu64 " up %" PRIu64 "/%" PRIu64 " B down %" PRIu64    \
          "/%" PRIu64 " B copies %" PRIu64 "/%" PRIu64 " B waits %" PRIu64,                     \
          c.launches, c.gemm_calls, c.uploads, c.upload_bytes, c.downloads, c.download_bytes,    \
          c.copies, c.copy_bytes, c.waits)

static void t_reset_and_finish(void)
{
    clvae_error_t err = {0};
    clvae_ctx_counters_reset(ctx);
    clvae_counters_t zero = {0}, c = now();
    SAME(c, zero);
    REQUIRE(clvae_ctx_finish(ctx, &err) == CLVAE_OK, "%s", err.msg);
    clvae_counters_t want = {.waits = 1};
    c = now();
    SAME(c, want);
    REQUIRE(clvae_ctx_wait_events(ctx, 0, NULL, &err) == CLVAE_OK, "%s", err.msg);
    c = now();
    SAME(c, want); /* no events: no wait */
}

static void t_upload_download(void)
{
    clvae_error_t err = {0};
    enum { N = 100 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)i;
    clvae_buf_t b;
    REQUIRE(clvae_buf_alloc(ctx, N, &b, &err) == CLVAE_OK, "%s", err.msg);
    clvae_ctx_counters_reset(ctx);
    CHECK(clvae_buf_upload(ctx, b, x, N, &err) == CLVAE_OK, "%s", err.msg);
    clvae_counters_t c = now(), up = {.uploads = 1, .upload_bytes = 4 * N, .waits = 1};
    SAME(c, up);
    clvae_ctx_counters_reset(ctx);
    CHECK(clvae_buf_download(ctx, y, clvae_buf_at(b, 10), N - 10, &err) == CLVAE_OK, "%s",
          err.msg);
    clvae_counters_t down = {.downloads = 1, .download_bytes = 4 * (N - 10), .waits = 1};
    c = now();
    SAME(c, down);
    CHECK(y[0] == 10.0f && y[N - 11] == (float)(N - 1), "read back %g %g", (double)y[0],
          (double)y[N - 11]);
    clvae_ctx_counters_reset(ctx); /* nothing to move is no transfer */
    CHECK(clvae_buf_upload(ctx, b, x, 0, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_buf_download(ctx, y, b, 0, &err) == CLVAE_OK, "%s", err.msg);
    clvae_counters_t zero = {0};
    c = now();
    SAME(c, zero);
    clvae_buf_free(&b);
}

/* A read that does not block is a download but no wait, until its event is waited for. */
static void t_download_start(void)
{
    clvae_error_t err = {0};
    float x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, y[8] = {0};
    clvae_buf_t b;
    REQUIRE(clvae_buf_alloc(ctx, 8, &b, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_upload(ctx, b, x, 8, &err) == CLVAE_OK, "%s", err.msg);
    clvae_ctx_counters_reset(ctx);
    cl_event e = NULL;
    CHECK(clvae_buf_download_start(ctx, y, b, 8, &e, &err) == CLVAE_OK, "%s", err.msg);
    clvae_counters_t c = now(), want = {.downloads = 1, .download_bytes = 32};
    SAME(c, want);
    if (e) {
        CHECK(clvae_ctx_wait_events(ctx, 1, &e, &err) == CLVAE_OK, "%s", err.msg);
        clReleaseEvent(e);
    }
    want.waits = 1;
    c = now();
    SAME(c, want);
    CHECK(y[7] == 8.0f, "read back %g", (double)y[7]);
    clvae_buf_free(&b);
}

/* A buffer made from host data and a write of raw bytes are uploads. */
static void t_mem_writes(void)
{
    clvae_error_t err = {0};
    uint32_t idx[12] = {0};
    cl_mem m = NULL;
    clvae_ctx_counters_reset(ctx);
    REQUIRE(clvae_mem_from_host(ctx, CL_MEM_READ_ONLY, idx, sizeof idx, &m, &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_counters_t c = now(), want = {.uploads = 1, .upload_bytes = sizeof idx};
    SAME(c, want);
    CHECK(clvae_mem_write(ctx, m, 8, idx, 16, &err) == CLVAE_OK, "%s", err.msg);
    want.uploads = 2;
    want.upload_bytes += 16;
    want.waits = 1; /* a blocking write */
    c = now();
    SAME(c, want);
    clReleaseMemObject(m);
}

/* One elementwise op is one launch and nothing else; one GEMM is one GEMM call, whose kernels
 * are CLBlast's and not counted as launches (or, on clvae's own block kernel, one launch); a
 * copy between views is a copy. */
static void t_ops(void)
{
    clvae_error_t err = {0};
    enum { N = 64 };
    clvae_buf_t a, b, c;
    REQUIRE(clvae_buf_alloc(ctx, N, &a, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_alloc(ctx, N, &b, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_alloc(ctx, N, &c, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_fill_forward(ctx, a.mem, 0, 1.0f, N, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_ctx_finish(ctx, &err) == CLVAE_OK, "%s", err.msg); /* kernels built */
    clvae_ctx_counters_reset(ctx);
    CHECK(clvae_affine_forward(ctx, b, a, 2.0f, 1.0f, N, &err) == CLVAE_OK, "%s", err.msg);
    clvae_counters_t n = now(), one = {.launches = 1};
    SAME(n, one);

    REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 0, &err) == CLVAE_OK, "%s", err.msg);
    clvae_ctx_counters_reset(ctx);
    CHECK(clvae_gemm(ctx, 0, 0, 8, 8, 8, 1.0f, a, 8, b, 8, 0.0f, c, 8, &err) == CLVAE_OK, "%s",
          err.msg);
    clvae_counters_t gemm = {.gemm_calls = 1};
    n = now();
    SAME(n, gemm);
    /* the same call on clvae's own block kernel: a GEMM call and its launch */
    REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 64, &err) == CLVAE_OK, "%s", err.msg);
    clvae_ctx_counters_reset(ctx);
    CHECK(clvae_gemm(ctx, 0, 0, 8, 8, 8, 1.0f, a, 8, b, 8, 0.0f, c, 8, &err) == CLVAE_OK, "%s",
          err.msg);
    clvae_counters_t own = {.gemm_calls = 1, .launches = 1};
    n = now();
    SAME(n, own);
    clvae_tuning_unset(ctx, "gemm_block.");

    clvae_ctx_counters_reset(ctx);
    CHECK(clvae_buf_copy(ctx, clvae_buf_at(c, 4), a, 10, &err) == CLVAE_OK, "%s", err.msg);
    clvae_counters_t copy = {.copies = 1, .copy_bytes = 40};
    n = now();
    SAME(n, copy);

    /* a refused op asks nothing of the device */
    clvae_ctx_counters_reset(ctx);
    CHECK(clvae_affine_forward(ctx, b, a, 2.0f, 1.0f, N + 1, &err) != CLVAE_OK,
          "a view past the end accepted");
    clvae_counters_t zero = {0};
    n = now();
    SAME(n, zero);
    float y[N];
    REQUIRE(clvae_buf_download(ctx, y, c, N, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(y[0] == 24.0f && y[4] == 1.0f, "gemm %g, copy %g", (double)y[0], (double)y[4]);
    clvae_buf_free(&a);
    clvae_buf_free(&b);
    clvae_buf_free(&c);
    clvae_error_clear(&err);
}

/* Device time by kernel: a launch of each kind recorded under its kernel's name, a CLBlast call
 * as one entry, the launches as the counters count them; refused without a profiling queue. */
static void t_kernel_times(void)
{
    clvae_error_t err = {0};
    CHECK(clvae_ctx_kernel_profile(ctx, 1, &err) == CLVAE_ERR_INVALID,
          "kernel times accepted on a queue without profiling");
    clvae_error_clear(&err);
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    o.profiling = 1;
    clvae_ctx_t *pc = NULL;
    REQUIRE(clvae_ctx_init(&pc, &o, &err) == CLVAE_OK, "%s", err.msg);
    enum { N = 64 };
    clvae_buf_t a, b, c;
    REQUIRE(clvae_buf_alloc(pc, N, &a, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_alloc(pc, N, &b, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_alloc(pc, N, &c, &err) == CLVAE_OK, "%s", err.msg);
    clvae_kernel_time_t *t = NULL;
    int n = 0;
    CHECK(clvae_ctx_kernel_times(pc, &t, &n, &err) == CLVAE_ERR_INVALID && n == 0,
          "kernel times read while not recording");
    clvae_error_clear(&err);
    REQUIRE(clvae_fill_forward(pc, a.mem, 0, 1.0f, N, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_ctx_kernel_profile(pc, 1, &err) == CLVAE_OK, "%s", err.msg);
    clvae_ctx_counters_reset(pc);
    for (int i = 0; i < 3; i++)
        CHECK(clvae_affine_forward(pc, b, a, 2.0f, 1.0f, N, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_fill_forward(pc, c.mem, 0, 0.0f, N, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_tuning_set(pc, "gemm_block.max_k", 0, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_gemm(pc, 0, 0, 8, 8, 8, 1.0f, a, 8, b, 8, 0.0f, c, 8, &err) == CLVAE_OK, "%s",
          err.msg);
    clvae_counters_t cnt;
    clvae_ctx_counters(pc, &cnt);
    CHECK(clvae_ctx_kernel_times(pc, &t, &n, &err) == CLVAE_OK, "%s", err.msg);
    uint64_t own = 0;
    int affine = -1, blas = -1;
    for (int i = 0; i < n; i++) {
        CHECK(t[i].name[0] && t[i].launches > 0 && t[i].ns >= 0, "entry %d: '%s' %" PRIu64, i,
              t[i].name, t[i].launches);
        if (strcmp(t[i].name, "CLBlast gemm") == 0) blas = i;
        else own += t[i].launches;
        if (strstr(t[i].name, "affine")) affine = i;
    }
    CHECK(own == cnt.launches, "%" PRIu64 " launches timed, %" PRIu64 " counted", own,
          cnt.launches);
    CHECK(affine >= 0 && t[affine].launches == 3, "the affine kernel: %" PRIu64 " launches",
          affine >= 0 ? t[affine].launches : 0);
    CHECK(blas >= 0 && t[blas].launches == 1 && t[blas].ns > 0, "the CLBlast call not timed");
    /* read again: the launches were forgotten, the entries add up */
    CHECK(clvae_affine_forward(pc, b, a, 2.0f, 1.0f, N, &err) == CLVAE_OK, "%s", err.msg);
    int n1 = n;
    CHECK(clvae_ctx_kernel_times(pc, &t, &n, &err) == CLVAE_OK && n == n1, "%s", err.msg);
    CHECK(affine >= 0 && t[affine].launches == 4, "the affine kernel: %" PRIu64 " launches",
          affine >= 0 ? t[affine].launches : 0);
    CHECK(clvae_ctx_kernel_profile(pc, 0, &err) == CLVAE_OK, "%s", err.msg);
    free(t);
    clvae_buf_free(&a);
    clvae_buf_free(&b);
    clvae_buf_free(&c);
    clvae_ctx_free(pc);
    clvae_error_clear(&err);
}

int main(void)
{
    /* the counts below are those of the plain transfers, not of Oclgrind's kernel copies */
    setenv("CLVAE_KERNEL_COPIES", "0", 1);
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_reset_and_finish);
    RUN(t_upload_download);
    RUN(t_download_start);
    RUN(t_mem_writes);
    RUN(t_ops);
    RUN(t_kernel_times);
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
