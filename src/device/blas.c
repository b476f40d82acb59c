/* The CLBlast wrapper: row-major SGEMM with checked arguments and named errors. */
#include "clvae/device/blas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clblast_c.h>

#include "device/ctx_internal.h"
#include "device/tuning_internal.h"

/* The workspace slot of CLBlast's temporary buffer (conv uses 0 and 1). */
#define WS_GEMM 4

const char *clvae_clblast_status_name(int code)
{
    switch (code) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInvalidDimension: return "CLBlastInvalidDimension";
    case CLBlastInvalidLeadDimA: return "CLBlastInvalidLeadDimA";
    case CLBlastInvalidLeadDimB: return "CLBlastInvalidLeadDimB";
    case CLBlastInvalidLeadDimC: return "CLBlastInvalidLeadDimC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInsufficientMemoryTemp: return "CLBlastInsufficientMemoryTemp";
    case CLBlastInvalidOverrideKernel: return "CLBlastInvalidOverrideKernel";
    case CLBlastMissingOverrideParameter: return "CLBlastMissingOverrideParameter";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastDatabaseError: return "CLBlastDatabaseError";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    case CLBlastUnexpectedError: return "CLBlastUnexpectedError";
    default: return clvae_cl_error_name(code);
    }
}

const clvae_clblast_kernel_t clvae_clblast_kernels[3] = {
    {"Xgemm", "xgemm.", 16,
     {"GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB", "NDIMC", "NWG", "SA",
      "SB", "STRM", "STRN", "VWM", "VWN"}},
    {"XgemmDirect", "xgemmdirect.", 10,
     {"KWID", "MDIMAD", "MDIMCD", "NDIMBD", "NDIMCD", "PADA", "PADB", "VWMD", "VWND", "WGD"}},
    {"GemmRoutine", "gemm.", 1, {"XGEMM_MIN_INDIRECT_SIZE"}},
};

/* 64x64 tiles, 4x4 work groups, vectors of 16: about 120 GFLOP/s at 1024^3 on pocl's CPU
 * device where CLBlast's own database (no entry for it) gives 12-20 (shared/DESIGN.md). */
const int clvae_xgemm_pocl_defaults[16] = {0, 1, 32, 8, 4, 4, 64, 4, 4, 64, 0, 0, 0, 0, 16, 16};

/* On pocl's CPU device CLBlast's own switch sends GEMMs below a large size to its direct
 * kernel, which runs the convolutions' skinny GEMMs (64 x 25088 x 288) at 6-20 GFLOP/s where
 * Xgemm with the parameters above runs them at 60-160: from 320^3 multiply-adds on, Xgemm. */
#define CLVAE_POCL_MIN_INDIRECT 320

int clvae_device_is_pocl_cpu(const clvae_ctx_t *ctx)
{
    return (ctx->dev.type & CL_DEVICE_TYPE_CPU) &&
           strstr(ctx->dev.platform_name, "Portable Computing") != NULL;
}

/* Overrides kernel k's parameters with vals; 0 on success. */
static int override(cl_device_id d, const clvae_clblast_kernel_t *k, const size_t *vals)
{
    return CLBlastOverrideParameters(d, k->kernel, CLBlastPrecisionSingle, (size_t)k->n,
                                     (const char **)k->names, vals) == CLBlastSuccess
               ? 0
               : -1;
}

/* CLBlast's parameters for a device may need work groups larger than the device allows (on
 * pocl's CPU device its Copy takes 512 items, its Xgemm 128, and POCL_MAX_WORK_GROUP_SIZE=64
 * allows 64): the launch fails with CL_INVALID_WORK_GROUP_SIZE. Level 1 gives the padding and
 * copy kernels work groups of 64 items; level 2 also Xgemm (which replaces tuned Xgemm
 * parameters for the rest of the process). 0 on success. */
static int gemm_small_work_groups(cl_command_queue q, int level)
{
    cl_device_id d;
    if (clGetCommandQueueInfo(q, CL_QUEUE_DEVICE, sizeof d, &d, NULL) != CL_SUCCESS) return -1;
    static const size_t xv[16] = {0, 1, 32, 2, 8, 8, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4};
    static const char *cn[4] = {"COPY_DIMX", "COPY_DIMY", "COPY_VW", "COPY_WPT"};
    static const size_t cv[4] = {8, 8, 4, 2};
    static const char *pn[4] = {"PAD_DIMX", "PAD_DIMY", "PAD_WPTX", "PAD_WPTY"};
    static const size_t pv[4] = {8, 8, 4, 2};
    if (CLBlastOverrideParameters(d, "Copy", CLBlastPrecisionSingle, 4, cn, cv) ||
        CLBlastOverrideParameters(d, "Pad", CLBlastPrecisionSingle, 4, pn, pv))
        return -1;
    if (level >= 2 && override(d, &clvae_clblast_kernels[0], xv)) return -1;
    return 0;
}

/* Applies the GEMM parameters of the context before its first GEMM and whenever the tuning
 * table changed: tuned values from the table (all of a kernel's, and for Xgemm only when its
 * work group fits the device), else for Xgemm on pocl's CPU device the built-in set, else
 * CLBlast's own database. CLVAE_GEMM_DEFAULTS=1 keeps CLBlast's database throughout.
 * CLBlast keeps parameters once given for the rest of the process (per device; its
 * CLBlastClearCache drops compiled programs, not them): a kernel whose values leave the table
 * keeps the old ones, not its database's. ctx->gemm_overridden notes which kernels this
 * context has moved off their defaults, so that the tuner knows whether it can time them. */
static void gemm_tune(clvae_ctx_t *ctx)
{
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    ctx->gemm_tuned = 1;
    ctx->gemm_generation = t ? t->generation : 0;
    const char *env = getenv("CLVAE_GEMM_DEFAULTS");
    if (env && strcmp(env, "1") == 0) return;
    for (int f = 0; f < 3; f++) {
        const clvae_clblast_kernel_t *k = &clvae_clblast_kernels[f];
        size_t vals[16];
        int have = 0;
        for (int i = 0; i < k->n; i++) {
            char key[64];
            int v;
            snprintf(key, sizeof key, "%s%s", k->prefix, k->names[i]);
            if (clvae_tuning_find(ctx, key, &v)) {
                vals[i] = (size_t)v;
                have++;
            }
        }
        if (f == 0 && have == k->n && vals[5] * vals[8] > ctx->dev.max_wg) {
            clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "gemm: tuned Xgemm work groups of %zu items "
                          "exceed the device's %zu: not used", vals[5] * vals[8], ctx->dev.max_wg);
            have = 0;
        }
        int builtin = 0;
        if (have != k->n && f == 0 && clvae_device_is_pocl_cpu(ctx)) {
            for (int i = 0; i < 16; i++) vals[i] = (size_t)clvae_xgemm_pocl_defaults[i];
            have = k->n;
            builtin = 1;
            clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "gemm: pocl CPU Xgemm parameters (64x64 tiles, "
                                                "4x4 work groups, vectors of 16)");
        } else if (have != k->n && f == 2 && clvae_device_is_pocl_cpu(ctx)) {
            vals[0] = CLVAE_POCL_MIN_INDIRECT;
            have = k->n;
            builtin = 1;
            clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "gemm: pocl CPU: GEMMs from %d^3 multiply-adds "
                          "on by Xgemm", CLVAE_POCL_MIN_INDIRECT);
        } else if (have == k->n) {
            clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "gemm: tuned %s parameters", k->kernel);
        } else if (ctx->gemm_overridden & (1u << f)) {
            clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "gemm: %s keeps the parameters given before "
                          "(CLBlast has no way back to its own)", k->kernel);
        }
        if (have == k->n && override(ctx->dev.device_id, k, vals))
            clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "gemm: CLBlast refused the %s parameters",
                          k->kernel);
        else if (have == k->n && builtin)
            ctx->gemm_overridden &= ~(1u << f);
        else if (have == k->n)
            ctx->gemm_overridden |= 1u << f;
    }
}

clvae_gemm_shape_t clvae_gemm_shape_packed(int trans_a, int trans_b, size_t m, size_t n, size_t k,
                                           int calls)
{
    clvae_gemm_shape_t s = {trans_a ? 1 : 0, trans_b ? 1 : 0, m, n, k, trans_a ? m : k,
                            trans_b ? k : n, n, 0, calls, -1, 0};
    return s;
}

int clvae_gemm_shape_same(const clvae_gemm_shape_t *a, const clvae_gemm_shape_t *b)
{
    return a->trans_a == b->trans_a && a->trans_b == b->trans_b && a->m == b->m &&
           a->n == b->n && a->k == b->k && a->lda == b->lda && a->ldb == b->ldb &&
           a->ldc == b->ldc && a->accumulate == b->accumulate;
}

void clvae_gemm_shape_name(const clvae_gemm_shape_t *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s %zux%zux%zu", s->trans_a ? "AT" : "A", s->trans_b ? "BT" : "B",
             s->m, s->n, s->k);
}

double clvae_gemm_shape_flops(const clvae_gemm_shape_t *s)
{
    return 2.0 * (double)s->m * (double)s->n * (double)s->k;
}

void clvae_gemm_shape_sizes(const clvae_gemm_shape_t *s, size_t *na, size_t *nb, size_t *nc)
{
    *na = (s->trans_a ? s->k : s->m) * s->lda;
    *nb = (s->trans_b ? s->n : s->k) * s->ldb;
    *nc = s->m * s->ldc;
}

clvae_status_t clvae_gemm_shape_run(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s, clvae_buf_t a,
                                    clvae_buf_t b, clvae_buf_t c, clvae_error_t *err)
{
    return clvae_gemm(ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, 1.0f, a, s->lda, b, s->ldb,
                      s->accumulate ? 1.0f : 0.0f, c, s->ldc, err);
}

/* Records a call while the tuning table records (`clvae tune`, `clvae bench --gemm`), as the
 * layer running now made it: equal calls of one layer and pass are counted together. */
static void note_call(clvae_tuning_t *t, const clvae_gemm_shape_t *sh)
{
    clvae_gemm_shape_t c = *sh;
    c.calls = 1;
    c.layer = t->layer;
    c.backward = t->layer >= 0 && t->backward;
    for (int i = 0; i < t->nshapes; i++) {
        clvae_gemm_shape_t *s = &t->shapes[i];
        if (clvae_gemm_shape_same(s, &c) && s->layer == c.layer && s->backward == c.backward) {
            s->calls++;
            return;
        }
    }
    if (t->nshapes == t->cap) {
        int cap = t->cap ? 2 * t->cap : 16;
        clvae_gemm_shape_t *p = realloc(t->shapes, (size_t)cap * sizeof *p);
        if (!p) {
            t->record_failed = 1;
            return;
        }
        t->shapes = p;
        t->cap = cap;
    }
    t->shapes[t->nshapes++] = c;
}

clvae_status_t clvae_gemm_record_start(clvae_ctx_t *ctx, clvae_error_t *err)
{
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    t->nshapes = 0;
    t->record_failed = 0;
    t->layer = -1;
    t->backward = 0;
    t->recording = 1;
    return CLVAE_OK;
}

clvae_status_t clvae_gemm_record_stop(clvae_ctx_t *ctx, clvae_gemm_shape_t **calls, int *n,
                                      clvae_error_t *err)
{
    *calls = NULL;
    *n = 0;
    clvae_tuning_t *t = ctx->tuning;
    if (!t) return CLVAE_OK;
    t->recording = 0;
    clvae_status_t s = CLVAE_OK;
    if (t->record_failed) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    } else if (t->nshapes > 0) {
        *calls = malloc((size_t)t->nshapes * sizeof **calls);
        if (!*calls) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        memcpy(*calls, t->shapes, (size_t)t->nshapes * sizeof **calls);
        *n = t->nshapes;
    }
    t->nshapes = 0;
    return s;
}

/* Whether a GEMM is thin enough for cl/gemm.cl's gemm_thin: 1 when m (rows of C) or k (the inner
 * dimension) is at most the tuning key gemm.thin_max (default 4; 0 sends every call to CLBlast),
 * 2 when only n is (the kernel then runs the transpose, C^T = op(B)^T op(A)^T, over n rows), 0
 * otherwise or when an index would leave uint. A one-filter conv's three GEMMs (m 1, or k 1) ran
 * 4-8x faster there than in CLBlast on pocl; an n of 2 (the latent and dense layers next to a
 * 2-d latent: ABT 128x2x3136, ATB 3136x2x128), which CLBlast pads to its tiles and ran at under
 * 2 GFLOP/s there, runs as an m of 2. */
static int dot_min_k(clvae_ctx_t *ctx);

static int thin_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                     clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb, clvae_buf_t c,
                     size_t ldc)
{
    int lim = clvae_tuning_int(ctx, "gemm.thin_max", 4);
    size_t least = m < k ? m : k;
    int how = lim <= 0 ? 0 : least <= (size_t)lim ? 1 : n <= (size_t)lim ? 2 : 0;
    if (!how) return 0;
    /* A B^T with a few rows, a wide n and a long k (a one-filter conv's weight gradient, ABT
     * 1x288x50176 in the U-Net) is a row of long dot products: gemm_dot reads B once along k,
     * where gemm_thin walks B's columns at a stride of ldb (2.4 GFLOP/s there) */
    int dk = dot_min_k(ctx);
    if (!trans_a && trans_b && k > (size_t)lim && n > (size_t)lim && dk > 0 && k >= (size_t)dk)
        return 0;
    double ends[3] = {(double)a.off + (double)(trans_a ? k : m) * (double)lda,
                      (double)b.off + (double)(trans_b ? n : k) * (double)ldb,
                      (double)c.off + (double)m * (double)ldc + CLVAE_ROW_CHUNK};
    for (int i = 0; i < 3; i++)
        if (ends[i] >= 4294967295.0) return 0;
    return how;
}

/* The arguments cl/gemm.cl's kernels share, in their order: c, c_off, ldc, a, a_off, lda, b, b_off,
 * ldb, m, n, k, ta (arguments 0-12). */
static clvae_status_t gemm_args(cl_kernel kr, clvae_buf_t c, size_t ldc, clvae_buf_t a,
                                size_t lda, clvae_buf_t b, size_t ldb, size_t m, size_t n,
                                size_t k, int trans_a, clvae_error_t *err)
{
    cl_uint u[10] = {(cl_uint)c.off, (cl_uint)ldc, (cl_uint)a.off, (cl_uint)lda,
                     (cl_uint)b.off, (cl_uint)ldb, (cl_uint)m,     (cl_uint)n,
                     (cl_uint)k,     (cl_uint)(trans_a != 0)};
    const cl_mem *mem[3] = {&c.mem, &a.mem, &b.mem};
    for (cl_uint i = 0; i < 3; i++) {
        CLVAE_CL_RET(err, clSetKernelArg(kr, 3 * i, sizeof(cl_mem), mem[i]));
        CLVAE_CL_RET(err, clSetKernelArg(kr, 3 * i + 1, sizeof(cl_uint), &u[2 * i]));
        CLVAE_CL_RET(err, clSetKernelArg(kr, 3 * i + 2, sizeof(cl_uint), &u[2 * i + 1]));
    }
    for (cl_uint i = 0; i < 4; i++)
        CLVAE_CL_RET(err, clSetKernelArg(kr, 9 + i, sizeof(cl_uint), &u[6 + i]));
    return CLVAE_OK;
}

/* C = alpha op(A) op(B) + beta C by cl/gemm.cl's gemm_thin; how 2 (thin_gemm's answer for a
 * small n alone): as C^T = op(B)^T op(A)^T, whose rows are C's columns. */
static clvae_status_t gemm_thin(clvae_ctx_t *ctx, int how, int trans_a, int trans_b, size_t m,
                                size_t n, size_t k, float alpha, clvae_buf_t a, size_t lda,
                                clvae_buf_t b, size_t ldb, float beta, clvae_buf_t c, size_t ldc,
                                clvae_error_t *err)
{
    cl_kernel kr;
    clvae_status_t s = clvae_kernel_get(ctx, "gemm", "gemm_thin", &kr, err);
    if (s) return s;
    cl_uint cs = 1;
    if (how == 2) { /* op(B)^T is B^T when B is not transposed, and the other way round */
        int t = trans_a;
        trans_a = !trans_b, trans_b = !t;
        size_t z = m;
        m = n, n = z;
        clvae_buf_t v = a;
        a = b, b = v;
        z = lda;
        lda = ldb, ldb = z;
        cs = (cl_uint)ldc, ldc = 1;
    }
    /* arguments: the shared 0-12, then tb, alpha, beta, cs */
    if ((s = gemm_args(kr, c, ldc, a, lda, b, ldb, m, n, k, trans_a, err))) return s;
    cl_uint tb = trans_b != 0;
    CLVAE_CL_RET(err, clSetKernelArg(kr, 13, sizeof tb, &tb));
    CLVAE_CL_RET(err, clSetKernelArg(kr, 14, sizeof alpha, &alpha));
    CLVAE_CL_RET(err, clSetKernelArg(kr, 15, sizeof beta, &beta));
    CLVAE_CL_RET(err, clSetKernelArg(kr, 16, sizeof cs, &cs));
    s = clvae_launch_rows(ctx, kr, n, m, err);
    if (!s) ctx->counters.gemm_calls++;
    return s;
}

/* clvae's own tiled GEMM (cl/gemm.cl's gemm_block) for B not transposed and an inner dimension k
 * of at most the tuning key gemm_block.max_k: on pocl's CPU device CLBlast ran the convs'
 * backward-data GEMMs (A transposed, k = 32 or 64: ATB 288x25088x64) at 25-42 GFLOP/s, a quarter
 * to a third of its 1024^3, and gemm_block at about three times that. With gemm_block.split it
 * also takes a small C with a long inner dimension (the convs' weight gradients, AB 64x288x25088:
 * CLBlast makes five 64x64 tiles of it, too few for the device), split over k into slices that
 * run side by side and are summed in a fixed order. Keys:
 *   gemm_block.max_k  the largest k sent to it whole (0: none). Default on pocl's CPU device
 *                     CLVAE_GEMM_BLOCK_ANY_K, every k: the convs' forward GEMMs with a long k ran there at
 *                     1.4-2.5x CLBlast's rate (AB 64x25088x288 101 -> 146 GFLOP/s, the
 *                     U-Net's 32-filter AB 32x50176x288 58 -> 104, AB 32x100352x96 43 -> 111;
 *                     1024^3 112 -> 126; three runs each); 0 elsewhere: untested on GPUs, where
 *                     CLBlast's tiles are tuned
 *   gemm_block.split  1: split a long k when C has fewer blocks than 4 work groups per compute
 *                     unit, whatever max_k (default 1 on pocl's CPU device, 0 elsewhere)
 *   gemm_block.m      rows of C per work item: 1, 2, 4, 8 (default) or 16
 *   gemm_block.n      columns of C per work item: 8, 16 (default) or 32 */
void clvae_gemm_block_defaults(const clvae_ctx_t *ctx, int *max_k, int *split, int *m, int *n)
{
    int pocl = clvae_device_is_pocl_cpu(ctx);
    *max_k = pocl ? CLVAE_GEMM_BLOCK_ANY_K : 0;
    *split = pocl ? 1 : 0;
    *m = 8;
    *n = 16;
}

/* The block's rows and columns per work item: the tuned values where allowed, else defaults. */
static void block_shape(clvae_ctx_t *ctx, size_t *bm, size_t *bn)
{
    int k0, s0, m0, n0;
    clvae_gemm_block_defaults(ctx, &k0, &s0, &m0, &n0);
    int m = clvae_tuning_int(ctx, "gemm_block.m", m0), n = clvae_tuning_int(ctx, "gemm_block.n", n0);
    *bm = (size_t)((m == 1 || m == 2 || m == 4 || m == 8 || m == 16) ? m : m0);
    *bn = (size_t)((n == 8 || n == 16 || n == 32) ? n : n0);
}

/* How many slices of k (at most k / 256, each at least 256 long) bring C's blocks up to 4 work
 * groups per compute unit: 0 or 1 when k is too short or C has blocks enough. */
static size_t split_slices(const clvae_ctx_t *ctx, size_t blocks, size_t k)
{
    size_t target = 4 * ctx->wgs * (ctx->dev.compute_units ? ctx->dev.compute_units : 1);
    size_t want = (target + blocks - 1) / blocks, most = k / 256;
    return want < most ? want : most;
}

/* How gemm_block would run C [m, n] with inner dimension k: 0 not at all, else the number of
 * slices of k (1: whole), *kc the length of each. A split comes first (a small C with a long k
 * is too few work items whole, whatever max_k): enough slices for 4 work groups per compute
 * unit, each at least 256 long; else whole if k <= max_k. */
static size_t block_slices(clvae_ctx_t *ctx, size_t m, size_t n, size_t k, size_t *kc)
{
    int k0, s0, m0, n0;
    clvae_gemm_block_defaults(ctx, &k0, &s0, &m0, &n0);
    int lim = clvae_tuning_int(ctx, "gemm_block.max_k", k0);
    *kc = k;
    if (clvae_tuning_int(ctx, "gemm_block.split", s0) == 1) {
        size_t bm, bn;
        block_shape(ctx, &bm, &bn);
        size_t sl = split_slices(ctx, ((m + bm - 1) / bm) * ((n + bn - 1) / bn), k);
        if (sl >= 2) {
            *kc = (k + sl - 1) / sl;
            return (k + *kc - 1) / *kc;
        }
    }
    return lim > 0 && k <= (size_t)lim ? 1 : 0;
}

/* Whether a GEMM goes to gemm_block (and in how many slices): B not transposed, block_slices
 * says so, and every index (the slices' workspace, the work items) within uint. */
static size_t block_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                         clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb, clvae_buf_t c,
                         size_t ldc, size_t *kc)
{
    if (trans_b) return 0;
    size_t sl = block_slices(ctx, m, n, k, kc);
    if (sl == 0) return 0;
    double ends[4] = {(double)a.off + (double)(trans_a ? k : m) * (double)lda,
                      (double)b.off + (double)k * (double)ldb,
                      (double)c.off + (double)m * (double)ldc,
                      (double)sl * (double)m * (double)(n + 32) /* slices, work items */};
    for (int i = 0; i < 4; i++)
        if (ends[i] >= 4294967295.0) return 0;
    return sl;
}

/* Runs kr (gemm_block or gemm_dot: the shared arguments 0-12, then alpha, beta, kc, cs) over
 * C's blocks of bm x bn in sl slices of k (kc each), summed in order by gemm_slices_sum when
 * sl > 1; arg12 is argument 12 (gemm_block's ta). */
static clvae_status_t gemm_sliced(clvae_ctx_t *ctx, cl_kernel kr, size_t bm, size_t bn,
                                  int arg12, size_t m, size_t n, size_t k, float alpha,
                                  clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb,
                                  float beta, clvae_buf_t c, size_t ldc, size_t sl, size_t kc,
                                  clvae_error_t *err)
{
    clvae_status_t s;
    clvae_buf_t out = c, ws = {0};
    size_t out_ld = ldc;
    float a1 = alpha, b1 = beta;
    if (sl > 1) { /* the slices go to the workspace, dense [sl, m, n] */
        if ((s = clvae_workspace(ctx, WS_GEMM, sl * m * n, &ws, err))) return s;
        out = ws, out_ld = n, a1 = 1.0f, b1 = 0.0f;
    }
    if ((s = gemm_args(kr, out, out_ld, a, lda, b, ldb, m, n, k, arg12, err))) return s;
    cl_uint kcs[2] = {(cl_uint)kc, (cl_uint)(m * n)};
    CLVAE_CL_RET(err, clSetKernelArg(kr, 13, sizeof a1, &a1));
    CLVAE_CL_RET(err, clSetKernelArg(kr, 14, sizeof b1, &b1));
    CLVAE_CL_RET(err, clSetKernelArg(kr, 15, sizeof(cl_uint), &kcs[0]));
    CLVAE_CL_RET(err, clSetKernelArg(kr, 16, sizeof(cl_uint), &kcs[1]));
    s = clvae_launch_1d(ctx, kr, sl * ((m + bm - 1) / bm) * ((n + bn - 1) / bn), err);
    if (!s && sl > 1) {
        cl_kernel ks;
        if ((s = clvae_kernel_get(ctx, "gemm", "gemm_slices_sum", &ks, err))) return s;
        cl_uint v[6] = {(cl_uint)c.off, (cl_uint)ldc, (cl_uint)ws.off, (cl_uint)sl, (cl_uint)m,
                        (cl_uint)n};
        /* arguments: c, c_off, ldc, w, w_off, slices, m, n, alpha, beta */
        CLVAE_CL_RET(err, clSetKernelArg(ks, 0, sizeof(cl_mem), &c.mem));
        CLVAE_CL_RET(err, clSetKernelArg(ks, 1, sizeof(cl_uint), &v[0]));
        CLVAE_CL_RET(err, clSetKernelArg(ks, 2, sizeof(cl_uint), &v[1]));
        CLVAE_CL_RET(err, clSetKernelArg(ks, 3, sizeof(cl_mem), &ws.mem));
        for (cl_uint i = 0; i < 4; i++)
            CLVAE_CL_RET(err, clSetKernelArg(ks, 4 + i, sizeof(cl_uint), &v[2 + i]));
        CLVAE_CL_RET(err, clSetKernelArg(ks, 8, sizeof alpha, &alpha));
        CLVAE_CL_RET(err, clSetKernelArg(ks, 9, sizeof beta, &beta));
        s = clvae_launch_rows(ctx, ks, n, m, err);
    }
    if (!s) ctx->counters.gemm_calls++;
    return s;
}

/* C = alpha op(A) B + beta C by gemm_block (one build per block shape), in sl slices of k (kc
 * each). */
static clvae_status_t gemm_block(clvae_ctx_t *ctx, int trans_a, size_t m, size_t n, size_t k,
                                 float alpha, clvae_buf_t a, size_t lda, clvae_buf_t b,
                                 size_t ldb, float beta, clvae_buf_t c, size_t ldc, size_t sl,
                                 size_t kc, clvae_error_t *err)
{
    size_t bm, bn;
    block_shape(ctx, &bm, &bn);
    char defs[48];
    snprintf(defs, sizeof defs, "-DGB_M=%zuu -DGB_N=%zuu", bm, bn);
    cl_kernel kr;
    clvae_status_t s = clvae_kernel_get_defs(ctx, "gemm", defs, "gemm_block", &kr, err);
    if (s) return s;
    return gemm_sliced(ctx, kr, bm, bn, trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                       sl, kc, err);
}

/* clvae's dot-product GEMM (cl/gemm.cl's gemm_dot, blocks of 4 x 4) for C = alpha A B^T +
 * beta C with a long inner dimension: A not transposed, B transposed and k at least the tuning
 * key gemm_dot.min_k (default 256 on pocl's CPU device, 0 (none) elsewhere: untested on GPUs).
 * The conv weight gradient rows col^T takes it (src/ops/conv.c), from im2col's matrix as it is,
 * where CLBlast ran that ABT at 12-35 GFLOP/s here. Split over k like gemm_block: enough slices
 * for 4 work groups per compute unit, each at least 256 long and a multiple of 8. Returns the
 * slices (0: not taken), *kc their length. */
#define DOT_BLOCK 4
static int dot_min_k(clvae_ctx_t *ctx)
{
    return clvae_tuning_int(ctx, "gemm_dot.min_k", clvae_device_is_pocl_cpu(ctx) ? 256 : 0);
}

static size_t dot_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                       clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb, clvae_buf_t c,
                       size_t ldc, size_t *kc)
{
    if (trans_a || !trans_b) return 0;
    int lim = dot_min_k(ctx);
    if (lim <= 0 || k < (size_t)lim) return 0;
    size_t blocks = ((m + DOT_BLOCK - 1) / DOT_BLOCK) * ((n + DOT_BLOCK - 1) / DOT_BLOCK);
    size_t sl = split_slices(ctx, blocks, k);
    if (sl < 1) sl = 1;
    *kc = ((k + sl - 1) / sl + 7) / 8 * 8;
    sl = (k + *kc - 1) / *kc;
    double ends[4] = {(double)a.off + (double)m * (double)lda,
                      (double)b.off + (double)n * (double)ldb,
                      (double)c.off + (double)m * (double)ldc,
                      (double)sl * (double)(m + DOT_BLOCK) * (double)(n + DOT_BLOCK)};
    for (int i = 0; i < 4; i++)
        if (ends[i] >= 4294967295.0) return 0;
    return sl;
}

static clvae_status_t gemm_dot(clvae_ctx_t *ctx, size_t m, size_t n, size_t k, float alpha,
                               clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb, float beta,
                               clvae_buf_t c, size_t ldc, size_t sl, size_t kc,
                               clvae_error_t *err)
{
    cl_kernel kr;
    clvae_status_t s = clvae_kernel_get(ctx, "gemm", "gemm_dot", &kr, err);
    if (s) return s;
    return gemm_sliced(ctx, kr, DOT_BLOCK, DOT_BLOCK, 1, m, n, k, alpha, a, lda, b, ldb, beta, c,
                       ldc, sl, kc, err);
}

int clvae_gemm_shape_own(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s)
{
    clvae_buf_t z = {0};
    size_t kc;
    if (thin_gemm(ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, z, s->lda, z, s->ldb, z, s->ldc))
        return 1;
    if (block_gemm(ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, z, s->lda, z, s->ldb, z,
                   s->ldc, &kc))
        return 2;
    if (dot_gemm(ctx, s->trans_a, s->trans_b, s->m, s->n, s->k, z, s->lda, z, s->ldb, z, s->ldc,
                 &kc))
        return 3;
    return 0;
}

clvae_status_t clvae_gemm(clvae_ctx_t *ctx, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                          float alpha, clvae_buf_t a, size_t lda, clvae_buf_t b, size_t ldb,
                          float beta, clvae_buf_t c, size_t ldc, clvae_error_t *err)
{
    if (m == 0 || n == 0 || k == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "gemm with a zero size (m=%zu n=%zu k=%zu)", m,
                          n, k);
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    if (!ctx->gemm_tuned || (t && t->generation != ctx->gemm_generation)) gemm_tune(ctx);
    if (t && t->recording) {
        clvae_gemm_shape_t sh = {trans_a ? 1 : 0, trans_b ? 1 : 0, m, n, k, lda, ldb, ldc,
                                 beta != 0.0f, 1, -1, 0};
        note_call(t, &sh);
    }
    int how = thin_gemm(ctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
    if (how)
        return gemm_thin(ctx, how, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                         err);
    size_t kc, sl = block_gemm(ctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, &kc);
    if (sl)
        return gemm_block(ctx, trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, sl, kc,
                          err);
    if ((sl = dot_gemm(ctx, trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc, &kc)))
        return gemm_dot(ctx, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, sl, kc, err);
    cl_command_queue q = clvae_ctx_queue(ctx);
    CLBlastLayout lay = CLBlastLayoutRowMajor;
    CLBlastTranspose ta = trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode st;
    for (int attempt = 0;; attempt++) {
        /* CLBlast's padded copies go into a workspace that is grown once and reused: left to
         * itself it allocates them on every call, and with many steps queued ahead on the
         * device those allocations pile up (gigabytes on pocl) and cost page faults */
        size_t bytes = 0;
        clvae_buf_t tmp = {0};
        st = CLBlastSGemmTempBufferSize(lay, ta, tb, m, n, k, a.off, lda, b.off, ldb, c.off, ldc,
                                        &q, &bytes);
        if (st == CLBlastSuccess && bytes > 0) {
            clvae_status_t s = clvae_workspace(ctx, WS_GEMM, (bytes + 3) / 4, &tmp, err);
            if (s) return s;
        }
        if (st == CLBlastSuccess) {
            cl_event *ev = clvae_kprof_event(ctx, NULL); /* NULL unless kernels are timed */
            st = tmp.mem ? CLBlastSgemmWithTempBuffer(lay, ta, tb, m, n, k, alpha, a.mem, a.off,
                                                      lda, b.mem, b.off, ldb, beta, c.mem, c.off,
                                                      ldc, &q, ev, tmp.mem)
                         : CLBlastSgemm(lay, ta, tb, m, n, k, alpha, a.mem, a.off, lda, b.mem,
                                        b.off, ldb, beta, c.mem, c.off, ldc, &q, ev);
            clvae_kprof_done(ctx, st == CLBlastSuccess ? CL_SUCCESS : CL_INVALID_OPERATION);
        }
        /* C is written only by the last kernel of a call, so a call that failed to
         * launch left it as it was and can be repeated with smaller work groups (while
         * tuning, a candidate's own Xgemm work group that does not fit is its failure) */
        if (st != CL_INVALID_WORK_GROUP_SIZE || attempt >= (t && t->tuning ? 1 : 2) ||
            gemm_small_work_groups(q, attempt + 1) != 0)
            break;
        if (attempt + 1 >= 2) ctx->gemm_overridden |= 1u; /* Xgemm's own work groups replaced */
    }
    if (st != CLBlastSuccess)
        return CLVAE_FAIL(err, CLVAE_ERR_OPENCL,
                          "CLBlastSgemm(%s%s m=%zu n=%zu k=%zu) failed: %s (%d)",
                          trans_a ? "A^T " : "", trans_b ? "B^T" : "", m, n, k,
                          clvae_clblast_status_name(st), (int)st);
    ctx->counters.gemm_calls++; /* its kernels are CLBlast's: not in counters.launches */
    return CLVAE_OK;
}
