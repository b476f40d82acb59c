/* The tuner: records the GEMM shapes and small convs of the models, then searches each family
 * of parameters (CLBlast's Xgemm, the direct/indirect switch, clvae's direct conv kernels) for
 * the fastest. */
#include "device/tuning_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clblast_c.h>

#include "clvae/device/blas.h"
#include "clvae/eval/bench.h"
#include "clvae/ops/conv.h"
#include "clvae/train/objective.h"
#include "clvae/ops/rng.h"
#include "clvae/io/clock.h"
#include "device/ctx_internal.h"


/* ---- recording the shapes ---------------------------------------------------------------- */

clvae_status_t clvae_tune_record_shapes(clvae_ctx_t *ctx,
                                        const struct clvae_model_desc *const *models, int nmodels,
                                        clvae_gemm_shape_t **shapes, int *nshapes,
                                        clvae_error_t *err)
{
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    /* the steps run as untuned ones would, and CLBlast gets no tuned parameters before the
     * tuner times its defaults (clvae_tune) */
    clvae_tuning_unset(ctx, "");
    t->nops = 0; /* the convs noted meanwhile, of every model, stay for the conv family */
    clvae_status_t s = CLVAE_OK;
    for (int i = 0; i < nmodels && !s; i++) {
        clvae_gemm_shape_t *calls = NULL;
        int ncalls = 0;
        s = clvae_bench_record_calls(ctx, models[i], models[i]->batch, &calls, &ncalls, err);
        for (int c = 0; c < ncalls && !s; c++) {
            int j = 0;
            while (j < *nshapes && !clvae_gemm_shape_same(&(*shapes)[j], &calls[c])) j++;
            if (j < *nshapes) {
                (*shapes)[j].calls += calls[c].calls;
                continue;
            }
            clvae_gemm_shape_t *p = realloc(*shapes, (size_t)(*nshapes + 1) * sizeof *p);
            if (!p) {
                s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
                break;
            }
            *shapes = p;
            p[*nshapes] = calls[c];
            p[*nshapes].layer = -1;
            p[(*nshapes)++].backward = 0;
        }
        free(calls);
    }
    return s;
}

/* ---- the GEMM families ------------------------------------------------------------------- */

/* Times the workload's GEMMs as clvae_bench_gemm_time does (one untimed call: kernels built;
 * then the fastest of reps calls, each waited for), each with its own leading dimensions and
 * beta, as training makes it. */
static clvae_status_t gemm_bench(clvae_ctx_t *ctx, const clvae_tune_work_t *w, double *seconds,
                                 double *per_shape, clvae_error_t *err)
{
    *seconds = 0;
    for (int i = 0; i < w->nshapes; i++) {
        const clvae_gemm_shape_t *sh = &w->shapes[i];
        double best;
        clvae_status_t s = clvae_bench_gemm_time(ctx, sh, w->a, w->b, w->c, w->reps, &best, err);
        if (s) return s;
        if (per_shape) per_shape[i] = best;
        *seconds += best * (sh->calls > 0 ? sh->calls : 1);
        if (w->cutoff > 0 && *seconds > w->cutoff) return CLVAE_OK;
    }
    return CLVAE_OK;
}

/* Xgemm's parameters in the order the tuner varies them (most telling first). */
enum { X_NWG, X_MWG, X_KWG, X_VWN, X_VWM, X_NDIMC, X_MDIMC, X_KWI, X_SA, X_SB, X_MDIMA, X_NDIMB,
       X_GEMMK, X_KREG, X_STRM, X_STRN, X_N };

static const clvae_tune_param_t xgemm_params[X_N] = {
    {"xgemm.NWG", 4, {16, 32, 64, 128}},  {"xgemm.MWG", 4, {16, 32, 64, 128}},
    {"xgemm.KWG", 4, {8, 16, 32, 64}},    {"xgemm.VWN", 5, {1, 2, 4, 8, 16}},
    {"xgemm.VWM", 5, {1, 2, 4, 8, 16}},   {"xgemm.NDIMC", 4, {2, 4, 8, 16}},
    {"xgemm.MDIMC", 4, {2, 4, 8, 16}},    {"xgemm.KWI", 4, {1, 2, 4, 8}},
    {"xgemm.SA", 2, {0, 1}},              {"xgemm.SB", 2, {0, 1}},
    {"xgemm.MDIMA", 4, {2, 4, 8, 16}},    {"xgemm.NDIMB", 4, {2, 4, 8, 16}},
    {"xgemm.GEMMK", 1, {0}},              {"xgemm.KREG", 1, {1}},
    {"xgemm.STRM", 1, {0}},               {"xgemm.STRN", 1, {0}},
};

/* CLBlast's constraints on Xgemm's parameters (its tuner and xgemm_part1.opencl): tiles split
 * evenly over the work group and the vectors, the A and B tiles loaded by the whole group,
 * the work group and the local tiles within the device's limits. */
static int xgemm_broken(const clvae_ctx_t *ctx, const int *v)
{
    int bad = 0;
    int wg = v[X_MDIMC] * v[X_NDIMC];
    bad += v[X_MWG] % (v[X_MDIMC] * v[X_VWM]) != 0;
    bad += v[X_NWG] % (v[X_NDIMC] * v[X_VWN]) != 0;
    bad += v[X_MWG] % (v[X_MDIMA] * v[X_VWM]) != 0;
    bad += v[X_NWG] % (v[X_NDIMB] * v[X_VWN]) != 0;
    bad += wg % v[X_MDIMA] != 0 || v[X_KWG] % (wg / v[X_MDIMA] ? wg / v[X_MDIMA] : 1) != 0;
    bad += wg % v[X_NDIMB] != 0 || v[X_KWG] % (wg / v[X_NDIMB] ? wg / v[X_NDIMB] : 1) != 0;
    bad += v[X_KWG] % v[X_KWI] != 0;
    bad += (size_t)wg > ctx->dev.max_wg;
    bad += 4.0 * v[X_KWG] * (v[X_SA] * v[X_MWG] + v[X_SB] * v[X_NWG]) > (double)ctx->dev.local_mem;
    return bad;
}

/* The safe defaults: the built-in set on pocl's CPU device, else a common GPU-like set. */
static int xgemm_start(const clvae_ctx_t *ctx, int *v)
{
    static const int generic[X_N] = {64, 64, 32, 4, 4, 8, 8, 2, 1, 1, 8, 8, 0, 1, 0, 0};
    if (clvae_device_is_pocl_cpu(ctx)) {
        const clvae_clblast_kernel_t *k = &clvae_clblast_kernels[0];
        for (int i = 0; i < X_N; i++)
            for (int j = 0; j < k->n; j++)
                if (strcmp(xgemm_params[i].key + 6, k->names[j]) == 0)
                    v[i] = clvae_xgemm_pocl_defaults[j];
    } else {
        memcpy(v, generic, sizeof generic);
    }
    return 1;
}

/* The direct/indirect switch: GEMMs with m n k below its cube run XgemmDirect (no padding
 * copies), the others Xgemm. The start value on a CPU is CLBlast's database value for Intel
 * CPUs; on the CI machine's AMD CPU under pocl CLBlast 1.5.3's own value is larger and sends
 * the thesis VAE's conv GEMMs (64x25088x288 and smaller) to XgemmDirect, ~6-20 GFLOP/s there
 * against 60-160 through Xgemm. */
static const clvae_tune_param_t switch_params[1] = {
    {"gemm.XGEMM_MIN_INDIRECT_SIZE", 6, {0, 128, 320, 704, 1024, 2048}},
};
#define SWITCH_KEY "gemm.XGEMM_MIN_INDIRECT_SIZE"

static int switch_start(const clvae_ctx_t *ctx, int *v)
{
    v[0] = (ctx->dev.type & CL_DEVICE_TYPE_CPU) ? 320 : 704;
    return 1;
}

/* The switch matters only to the GEMMs that CLBlast runs (not clvae's own kernels). */
static int clblast_uses(clvae_ctx_t *ctx, const clvae_gemm_shape_t *sh)
{
    return clvae_gemm_shape_own(ctx, sh) == 0;
}

/* Xgemm's parameters matter only to the GEMMs that the switch sends to Xgemm. */
static int xgemm_uses(clvae_ctx_t *ctx, const clvae_gemm_shape_t *sh)
{
    if (!clblast_uses(ctx, sh)) return 0;
    int v0;
    switch_start(ctx, &v0);
    double c = clvae_tuning_int(ctx, SWITCH_KEY, v0);
    return (double)sh->m * (double)sh->n * (double)sh->k >= c * c * c;
}

/* ---- clvae's block GEMM kernel (src/device/blas.c, cl/gemm.cl) ------------------------------ */

/* Which calls it takes (B not transposed, k at most max_k; 0: none; a small C with a long k split
 * into slices, or not) and its block of C per work item; each (m, n) is one program build. */
enum { GB_MAXK, GB_SPLIT, GB_M, GB_N, GB_NP };
static const clvae_tune_param_t block_params[GB_NP] = {
    {"gemm_block.max_k", 5, {0, 64, 576, 4608, CLVAE_GEMM_BLOCK_ANY_K}},
    {"gemm_block.split", 2, {0, 1}},
    {"gemm_block.m", 4, {2, 4, 8, 16}},
    {"gemm_block.n", 3, {8, 16, 32}},
};

static int block_start(const clvae_ctx_t *ctx, int *v)
{
    clvae_gemm_block_defaults(ctx, &v[GB_MAXK], &v[GB_SPLIT], &v[GB_M], &v[GB_N]);
    return 1;
}

/* The block kernel can take only calls whose B is not transposed. */
static int block_uses(clvae_ctx_t *ctx, const clvae_gemm_shape_t *sh)
{
    (void)ctx;
    return !sh->trans_b;
}

/* ---- clvae's dot GEMM kernel (src/device/blas.c, cl/gemm.cl) ---------------------------------- */

/* Which calls it takes: A B^T with k at least min_k (0: none; the conv weight gradients then
 * go to CLBlast as the ABT they are recorded as). */
static const clvae_tune_param_t dot_params[1] = {
    {"gemm_dot.min_k", 3, {0, 256, 1024}},
};

static int dot_start(const clvae_ctx_t *ctx, int *v)
{
    v[0] = clvae_device_is_pocl_cpu(ctx) ? 256 : 0;
    return 1;
}

/* The dot kernel can take only calls with A not transposed and B transposed. */
static int dot_uses(clvae_ctx_t *ctx, const clvae_gemm_shape_t *sh)
{
    (void)ctx;
    return !sh->trans_a && sh->trans_b;
}

/* ---- clvae's direct convolution kernels (src/ops/conv.c, cl/conv_direct.cl) ------------------- */

/* The candidates reach conv.c through the context's table (clvae_tuning_int), no fresh context
 * needed: its programs are cached per build options, so each value set builds its own.
 * Keys and candidates as src/ops/conv.c reads them (a short list: each vw, and each (dw_vw, wg,
 * kb), is one program build per conv geometry, seconds on pocl). max_ckk picks the path
 * (0: always im2col + GEMM); every candidate computes the same conv. */
enum { CD_VW, CD_DW_VW, CD_KB, CD_WG, CD_PIX, CD_CKK, CD_N };
static const clvae_tune_param_t conv_params[CD_N] = {
    {"conv_direct.vw", 3, {4, 8, 16}},
    {"conv_direct.dw_vw", 3, {4, 8, 16}},
    {"conv_direct.kb", 4, {1, 2, 4, 8}},
    {"conv_direct.wg", 4, {16, 32, 64, 128}},
    {"conv_direct.dw_pixels", 3, {1024, 4096, 16384}},
    {"conv_direct.max_ckk", 4, {0, 9, 27, 64}},
};
#define CONV_PREFIX "conv_direct."

static int conv_broken(const clvae_ctx_t *ctx, const int *v)
{
    return (size_t)v[CD_WG] > ctx->dev.max_wg;
}

/* How many conv layers the recording holds (the ops conv.c noted). */
static int conv_count(const clvae_tuning_t *t)
{
    int n = 0;
    for (int i = 0; i < t->nops; i++) n += strcmp(t->ops[i].family, CLVAE_CONV_TUNE_FAMILY) == 0;
    return n;
}

/* The recorded conv layers in order: *g and *calls of the next one after op index *at (start
 * at 0); 0 when there is none left. */
static int conv_next(const clvae_tuning_t *t, int *at, clvae_conv_geom_t *g, int *calls)
{
    for (; *at < t->nops; (*at)++) {
        const clvae_tune_op_t *o = &t->ops[*at];
        if (strcmp(o->family, CLVAE_CONV_TUNE_FAMILY) != 0) continue;
        if (clvae_conv_geom_unpack(g, o->dims, o->ndims, NULL)) continue;
        *calls = o->calls;
        (*at)++;
        return 1;
    }
    return 0;
}

/* conv.c's defaults (its comment on the tuning keys). */
static int conv_start(const clvae_ctx_t *ctx, int *v)
{
    static const int d[CD_N] = {4, 4, 4, 32, 4096, 27};
    memcpy(v, d, sizeof d);
    v[CD_VW] = v[CD_DW_VW] = clvae_conv_direct_vw_default(ctx);
    return 1;
}

/* Times the recorded conv layers (those with C*kh*kw <= 64, at the models' batch): forward,
 * backward-data and backward-weight (+ bias) of src/ops/conv.c, each the fastest of its repeats
 * after one untimed call (kernels built), waited for; *seconds sums them times the layer's
 * calls per step, per_shape (if given) gets each layer's sum. */
static clvae_status_t conv_bench(clvae_ctx_t *ctx, const clvae_tune_work_t *w, double *seconds,
                                 double *per_shape, clvae_error_t *err)
{
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    const clvae_buf_t *b = t->cbuf, none = {0};
    int reps = w->reps + 2; /* ms-long ops: a few more repeats than the GEMMs */
    *seconds = 0;
    clvae_conv_geom_t geom;
    int calls, at = 0;
    for (int i = 0; conv_next(t, &at, &geom, &calls); i++) {
        const clvae_conv_geom_t *g = &geom;
        double sum = 0;
        for (int op = 0; op < 3; op++) {
            double best = INFINITY;
            for (int r = -1; r < reps; r++) {
                double t0 = clvae_seconds();
                clvae_status_t s;
                if (!g->transposed) {
                    s = op == 0   ? clvae_conv2d_forward(ctx, b[1], b[0], b[4], b[6], g, err)
                        : op == 1 ? clvae_conv2d_backward(ctx, b[3], none, none, b[2], b[0],
                                                          b[4], g, err)
                                  : clvae_conv2d_backward(ctx, none, b[5], b[6], b[2], b[0],
                                                          b[4], g, err);
                } else { /* x: [N, K, OH, OW], y: [N, C, H, W] */
                    s = op == 0   ? clvae_conv_transpose2d_forward(ctx, b[1], b[0], b[4], b[6],
                                                                   g, err)
                        : op == 1 ? clvae_conv_transpose2d_backward(ctx, b[3], none, none, b[2],
                                                                    b[0], b[4], g, err)
                                  : clvae_conv_transpose2d_backward(ctx, none, b[5], b[6], b[2],
                                                                    b[0], b[4], g, err);
                }
                if (!s) s = clvae_ctx_finish(ctx, err);
                if (s) return s;
                double dt = clvae_seconds() - t0;
                if (r >= 0 && dt < best) best = dt;
            }
            sum += best;
        }
        if (per_shape) per_shape[i] = sum;
        *seconds += sum * (calls > 0 ? calls : 1);
        if (w->cutoff > 0 && *seconds > w->cutoff) return CLVAE_OK;
    }
    return CLVAE_OK;
}

/* The conv operands, large enough for every recorded layer, filled with values in [-1, 1). */
static clvae_status_t conv_buffers(clvae_ctx_t *ctx, clvae_tuning_t *t, clvae_error_t *err)
{
    size_t n[7] = {1, 1, 1, 1, 1, 1, 1};
    clvae_conv_geom_t geom;
    int calls, at = 0;
    while (conv_next(t, &at, &geom, &calls)) {
        const clvae_conv_geom_t *g = &geom;
        size_t in = g->N * g->C * g->H * g->W, out = g->N * g->K * g->OH * g->OW;
        size_t act = in > out ? in : out, wt = g->K * g->C * g->kh * g->kw;
        size_t bias = g->K > g->C ? g->K : g->C;
        size_t want[7] = {act, act, act, act, wt, wt, bias};
        for (int j = 0; j < 7; j++)
            if (want[j] > n[j]) n[j] = want[j];
    }
    size_t most = 0;
    for (int j = 0; j < 7; j++)
        if (n[j] > most) most = n[j];
    float *host = malloc(most * sizeof *host);
    if (!host) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_status_t s = CLVAE_OK;
    for (int j = 0; j < 7 && !s; j++) {
        clvae_rng_uniform_host(host, n[j], 10 + (uint64_t)j, 0);
        for (size_t q = 0; q < n[j]; q++) host[q] = 2 * host[q] - 1;
        if (!(s = clvae_buf_alloc(ctx, n[j], &t->cbuf[j], err)))
            s = clvae_buf_upload(ctx, t->cbuf[j], host, n[j], err);
    }
    free(host);
    return s;
}

/* Every family the tuner searches, in order; a kernel of clvae's own joins with its
 * parameters, a constraint count, its safe defaults and a bench over the models' shapes. */
static const clvae_tune_family_t families[] = {
    {"xgemm", "CLBlast Xgemm tiles, work groups and vectors", xgemm_params, X_N, 0, xgemm_broken,
     xgemm_start, xgemm_uses, gemm_bench},
    {"gemm", "CLBlast direct/indirect GEMM switch", switch_params, 1, 0, NULL, switch_start,
     clblast_uses, gemm_bench},
    {"gemm_block", "clvae's block GEMM kernel (which calls, block per work item)", block_params,
     GB_NP, 0, NULL, block_start, block_uses, gemm_bench},
    {"gemm_dot", "clvae's dot GEMM kernel (which calls)", dot_params, 1, 0, NULL, dot_start,
     dot_uses, gemm_bench},
    {"conv_direct", "clvae's direct conv kernels (vectors, work groups, path rule)", conv_params,
     CD_N, 0, conv_broken, conv_start, NULL, conv_bench},
};
#define NFAMILIES (int)(sizeof families / sizeof families[0])
/* The share of the budget each family gets (the rest goes to the last). */
static const double family_share[NFAMILIES] = {0.45, 0.15, 0.15, 0.05, 0.2};

/* ---- the search -------------------------------------------------------------------------- */

typedef struct search {
    clvae_ctx_t *ctx;
    const clvae_tune_opts_t *o;
    clvae_tune_work_t *w;
    clvae_tune_result_t *r;
    int **seen;        /* combinations timed (per family) */
    int nseen, capseen;
    double t0;         /* when tuning began */
    clvae_gemm_shape_t *sub; /* the shapes a family affects */
} search_t;

static void say(const search_t *S, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void say(const search_t *S, const char *fmt, ...)
{
    if (!S->o->progress) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int w = snprintf(line, sizeof line, "[%5.1f s] ", clvae_seconds() - S->t0);
    vsnprintf(line + w, sizeof line - (size_t)w, fmt, ap);
    va_end(ap);
    S->o->progress(S->o->user, line);
}

static clvae_status_t set_values(clvae_ctx_t *ctx, const clvae_tune_family_t *f, const int *v,
                                 clvae_error_t *err)
{
    for (int i = 0; i < f->nparams; i++) {
        clvae_status_t s = clvae_tuning_set(ctx, f->params[i].key, v[i], err);
        if (s) return s;
    }
    return CLVAE_OK;
}

/* Times the context's current values of family f; a failure (build, launch) is -1. */
static double time_candidate(search_t *S, const clvae_tune_family_t *f, double cutoff)
{
    clvae_error_t e = {0};
    double t = -1;
    clvae_tuning_t *tt = clvae_tuning_get(S->ctx);
    S->w->cutoff = cutoff;
    tt->tuning = 1;
    clvae_tune_work_t sub = *S->w;
    if (f->uses) { /* only the shapes the family affects */
        sub.nshapes = 0;
        sub.shapes = S->sub;
        for (int i = 0; i < S->w->nshapes; i++)
            if (f->uses(S->ctx, &S->w->shapes[i])) S->sub[sub.nshapes++] = S->w->shapes[i];
    }
    clvae_status_t s = f->bench(S->ctx, &sub, &t, NULL, &e);
    tt->tuning = 0;
    if (s) {
        /* a failed launch may leave the queue with work that will never run */
        clvae_ctx_finish(S->ctx, NULL);
        clvae_ctx_log(S->ctx, CLVAE_LOG_INFO, "tune: candidate skipped: %s", e.msg);
        t = -1;
    }
    clvae_error_clear(&e);
    /* CLBlast keeps every program it built (one per parameter set) until told otherwise; the
     * conv family leaves the GEMM parameters alone (its GEMM-path candidates reuse them) */
    if (f->bench == gemm_bench) CLBlastClearCache();
    return t;
}

static int seen_before(search_t *S, const int *v, int n)
{
    for (int i = 0; i < S->nseen; i++)
        if (memcmp(S->seen[i], v, (size_t)n * sizeof *v) == 0) return 1;
    if (S->nseen == S->capseen) {
        int cap = S->capseen ? 2 * S->capseen : 64;
        int **p = realloc(S->seen, (size_t)cap * sizeof *p);
        if (!p) return 0;
        S->seen = p;
        S->capseen = cap;
    }
    int *c = malloc((size_t)n * sizeof *c);
    if (!c) return 0;
    memcpy(c, v, (size_t)n * sizeof *v);
    S->seen[S->nseen++] = c;
    return 0;
}

/* Changes values other than fixed, one at a time (nearest candidates first), while that lowers
 * the count of broken constraints; 1 when it reaches 0. */
static int repair(const clvae_ctx_t *ctx, const clvae_tune_family_t *f, int *v, int fixed)
{
    if (!f->broken) return 1;
    int bad = f->broken(ctx, v);
    for (int round = 0; bad > 0 && round < 6; round++) {
        int best_bad = bad, best_q = -1, best_c = 0;
        for (int q = 0; q < f->nparams; q++) {
            if (q == fixed || f->params[q].ncand < 2) continue;
            int keep = v[q];
            for (int c = 0; c < f->params[q].ncand; c++) {
                v[q] = f->params[q].cand[c];
                int b = f->broken(ctx, v);
                if (b < best_bad ||
                    (b == best_bad && best_q == q && abs(v[q] - keep) < abs(best_c - keep))) {
                    best_bad = b;
                    best_q = q;
                    best_c = v[q];
                }
            }
            v[q] = keep;
        }
        if (best_q < 0) return 0;
        v[best_q] = best_c;
        bad = best_bad;
    }
    return bad == 0;
}

static void describe(const clvae_tune_family_t *f, const int *v, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < f->nparams && len + 1 < size; i++) {
        if (f->params[i].ncand < 2) continue;
        const char *name = strchr(f->params[i].key, '.');
        int w = snprintf(buf + len, size - len, "%s%s=%d", len ? " " : "",
                         name ? name + 1 : f->params[i].key, v[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

/* How far apart two candidate values are: the ratio, in octaves (0 counts as 1/2). */
static double distance(int a, int b)
{
    return fabs(log2(a > 0 ? a : 0.5) - log2(b > 0 ? b : 0.5));
}

/* Coordinate descent over family f from its start values, until deadline. */
static clvae_status_t search_family(search_t *S, const clvae_tune_family_t *f, double deadline,
                                    clvae_error_t *err)
{
    int n = f->nparams;
    int best[64], cand[64];
    char desc[512];
    if (n > 64 || !f->start(S->ctx, best)) return CLVAE_OK;
    if (f->broken && f->broken(S->ctx, best) && !repair(S->ctx, f, best, -1)) return CLVAE_OK;
    for (int i = 0; i < S->nseen; i++) free(S->seen[i]);
    S->nseen = 0;
    int moves = 0;
    for (int i = 0; i < n; i++) moves += f->params[i].ncand - 1;
    clvae_status_t s = set_values(S->ctx, f, best, err);
    if (s) return s;
    seen_before(S, best, n);
    double slowest = clvae_seconds();
    double tbest = time_candidate(S, f, 0);
    slowest = clvae_seconds() - slowest;
    S->r->tried++;
    describe(f, best, desc, sizeof desc);
    if (tbest < 0) {
        S->r->failed++;
        say(S, "  %s: the defaults fail on this device; family left as it is", f->name);
        for (int i = 0; i < n; i++) {
            char pre[64];
            snprintf(pre, sizeof pre, "%s", f->params[i].key);
            clvae_tuning_unset(S->ctx, pre);
        }
        return CLVAE_OK;
    }
    say(S, "tuning %s: %s", f->name, f->what);
    say(S, "  start  %8.2f ms  %s", 1e3 * tbest, desc);
    int i_cand = 0;
    for (int pass = 1; clvae_seconds() + slowest <= deadline || (S->o->quick && S->r->tried == 1); pass++) {
        int improved = 0;
        for (int p = 0; p < n && (clvae_seconds() + slowest <= deadline || (S->o->quick && S->r->tried == 1));
             p++) {
            /* the values nearest the best so far first (by ratio) */
            int order[16], no = 0;
            for (int c = 0; c < f->params[p].ncand; c++)
                if (f->params[p].cand[c] != best[p]) order[no++] = f->params[p].cand[c];
            for (int a = 1; a < no; a++)
                for (int b = a; b > 0 && distance(order[b], best[p]) <
                                             distance(order[b - 1], best[p]); b--) {
                    int x = order[b];
                    order[b] = order[b - 1];
                    order[b - 1] = x;
                }
            for (int c = 0; c < no; c++) {
                /* a candidate's cost is mostly building its kernels: one is started only when
                 * the slowest so far would still end in time (in a quick run: at least one) */
                if (clvae_seconds() + slowest > deadline && !(S->o->quick && S->r->tried == 1)) break;
                memcpy(cand, best, (size_t)n * sizeof *cand);
                cand[p] = order[c];
                i_cand++;
                if (!repair(S->ctx, f, cand, p) || seen_before(S, cand, n)) continue;
                if ((s = set_values(S->ctx, f, cand, err))) return s;
                double tc = clvae_seconds();
                double t = time_candidate(S, f, 1.5 * tbest);
                if (clvae_seconds() - tc > slowest) slowest = clvae_seconds() - tc;
                S->r->tried++;
                describe(f, cand, desc, sizeof desc);
                if (t < 0) {
                    S->r->failed++;
                    say(S, "  candidate %d/%d (pass %d): failed to build or launch  %s", i_cand,
                        moves * pass, pass, desc);
                    continue;
                }
                int better = t < 0.98 * tbest;
                if (better) {
                    /* the machine's load changes: a win is timed again right after the best
                     * so far (both built by now), and kept only if it holds */
                    double t2, tb2;
                    if ((s = set_values(S->ctx, f, best, err))) return s;
                    tb2 = time_candidate(S, f, 0);
                    if ((s = set_values(S->ctx, f, cand, err))) return s;
                    t2 = time_candidate(S, f, 0);
                    if (tb2 > 0 && tb2 < tbest) tbest = tb2;
                    if (t2 > 0 && t2 < t) t = t2;
                    better = t2 > 0 && t < 0.98 * tbest;
                }
                say(S, "  candidate %d/%d (pass %d): %8.2f ms%s  %s", i_cand, moves * pass, pass,
                    1e3 * t, better ? " (best)" : "", desc);
                if (better) {
                    memcpy(best, cand, (size_t)n * sizeof *best);
                    tbest = t;
                    improved = 1;
                }
            }
        }
        if (!improved) break;
    }
    describe(f, best, desc, sizeof desc);
    say(S, "  chosen %8.2f ms  %s", 1e3 * tbest, desc);
    return set_values(S->ctx, f, best, err);
}

void clvae_tune_result_free(clvae_tune_result_t *r)
{
    free(r->figs);
    r->figs = NULL;
    r->nfigs = 0;
}

/* The GEMM operands, large enough for every shape (leading dimensions included), and the conv
 * operands, filled with values in [0, 1). */
static clvae_status_t work_buffers(clvae_ctx_t *ctx, clvae_tuning_t *t, clvae_tune_work_t *w,
                                   clvae_error_t *err)
{
    size_t n[3] = {1, 1, 1};
    for (int i = 0; i < w->nshapes; i++) {
        size_t want[3];
        clvae_gemm_shape_sizes(&w->shapes[i], &want[0], &want[1], &want[2]);
        for (int j = 0; j < 3; j++)
            if (want[j] > n[j]) n[j] = want[j];
    }
    size_t most = n[0] > n[1] ? n[0] : n[1];
    if (n[2] > most) most = n[2];
    float *host = malloc(most * sizeof *host);
    if (!host) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t *buf[3] = {&w->a, &w->b, &w->c};
    clvae_status_t s = CLVAE_OK;
    for (int j = 0; j < 3 && !s; j++) {
        clvae_rng_uniform_host(host, n[j], 1 + (uint64_t)j, 0);
        if (!(s = clvae_buf_alloc(ctx, n[j], buf[j], err)))
            s = clvae_buf_upload(ctx, *buf[j], host, n[j], err);
    }
    free(host);
    if (!s && conv_count(t) > 0) s = conv_buffers(ctx, t, err);
    return s;
}

/* The workload's GEMMs with the context's parameters as they are: per shape the fastest of
 * `rounds` passes into best[] (scratch: per[]), and *total, the sum of calls x best. */
static clvae_status_t gemm_rounds(clvae_ctx_t *ctx, const clvae_tune_work_t *w, int rounds,
                                  double *best, double *per, double *total, clvae_error_t *err)
{
    for (int round = 0; round < rounds; round++) {
        double sum;
        clvae_status_t s = gemm_bench(ctx, w, &sum, per, err);
        if (s) return s;
        for (int i = 0; i < w->nshapes; i++)
            if (round == 0 || per[i] < best[i]) best[i] = per[i];
    }
    *total = 0;
    for (int i = 0; i < w->nshapes; i++)
        *total += best[i] * (w->shapes[i].calls > 0 ? w->shapes[i].calls : 1);
    return CLVAE_OK;
}

/* The defaults, timed before anything else: CLBlast keeps parameters once given for the rest
 * of the process (CLBlastClearCache drops its programs, not them), so this is the one time
 * its own (for Xgemm on pocl's CPU device: clvae's built-in ones, given again whenever the
 * table has none) can be timed. A context that gave CLBlast other parameters already has no
 * defaults left to time: CLVAE_ERR_INVALID. */
static clvae_status_t time_defaults(search_t *S, int rounds, double *before, double *per,
                                    clvae_error_t *err)
{
    clvae_tuning_unset(S->ctx, "");
    say(S, "tuning GEMM for %s: %d shapes, budget %.0f s", S->ctx->dev.name, S->w->nshapes,
        S->o->budget_s);
    clvae_status_t s = gemm_rounds(S->ctx, S->w, rounds, before, per, &S->r->before_s, err);
    if (s) return s;
    if (S->ctx->gemm_overridden)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "tune: this context gave CLBlast tuned GEMM "
                          "parameters already, which CLBlast keeps: its defaults cannot be "
                          "timed (tune in a fresh context)");
    say(S, "defaults: %.2f ms per training step's GEMMs (fastest of %d passes)",
        1e3 * S->r->before_s, rounds);
    return CLVAE_OK;
}

/* Every family in turn, each within its share of the budget. */
static clvae_status_t run_families(search_t *S, clvae_error_t *err)
{
    clvae_tuning_t *t = clvae_tuning_get(S->ctx);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    /* the switch at its default, said out loud, so that Xgemm is timed on the shapes it runs */
    int v0;
    switch_start(S->ctx, &v0);
    clvae_status_t s = clvae_tuning_set(S->ctx, SWITCH_KEY, v0, err);
    double left = S->o->budget_s;
    for (int f = 0; f < NFAMILIES && !s; f++) {
        double share = f == NFAMILIES - 1 ? left : S->o->budget_s * family_share[f];
        double t1 = clvae_seconds();
        if (families[f].bench == conv_bench && conv_count(t) == 0) {
            say(S, "%s: the models have no conv with C*kh*kw <= 64; nothing to tune",
                families[f].name);
            continue;
        }
        s = search_family(S, &families[f], t1 + share, err);
        left -= clvae_seconds() - t1;
        if (left < 0) left = 0;
    }
    S->w->cutoff = 0;
    return s;
}

/* The chosen GEMM parameters, timed as the defaults were (fastest of `rounds` passes), stay
 * only when faster than the defaults, else (noise, a busy machine) the defaults do. */
static clvae_status_t settle_gemm(search_t *S, int rounds, const double *before, double *after,
                                  double *per, clvae_error_t *err)
{
    clvae_tune_result_t *r = S->r;
    say(S, "timing the chosen parameters as the defaults were");
    clvae_status_t s = gemm_rounds(S->ctx, S->w, rounds, after, per, &r->after_s, err);
    if (s) return s;
    clvae_tuning_t *t = clvae_tuning_get(S->ctx);
    int gemm_keys = 0;
    for (int i = 0; t && i < t->n; i++)
        gemm_keys += strncmp(t->key[i], CONV_PREFIX, strlen(CONV_PREFIX)) != 0;
    if (gemm_keys > 0 && r->after_s >= 0.98 * r->before_s) {
        say(S, "the chosen GEMM parameters are not faster than the defaults (%.2f ms against "
               "%.2f ms): keeping the defaults", 1e3 * r->after_s, 1e3 * r->before_s);
        clvae_tuning_unset(S->ctx, "xgemm.");
        clvae_tuning_unset(S->ctx, "gemm.");
        clvae_tuning_unset(S->ctx, "gemm_block.");
        r->after_s = r->before_s;
        memcpy(after, before, (size_t)S->w->nshapes * sizeof *after);
    }
    return CLVAE_OK;
}

/* The same rule for the direct convs: chosen against default values in turns (clvae's own
 * parameters, which can be given back; the GEMM-path convs run with the GEMM parameters as
 * CLBlast has them now). */
static clvae_status_t settle_conv(search_t *S, clvae_error_t *err)
{
    clvae_ctx_t *ctx = S->ctx;
    clvae_tune_result_t *r = S->r;
    int chosen[CD_N], dflt[CD_N], have = 1;
    conv_start(ctx, dflt);
    for (int i = 0; i < CD_N; i++) have &= clvae_tuning_find(ctx, conv_params[i].key, &chosen[i]);
    if (have && memcmp(chosen, dflt, sizeof chosen) == 0) {
        say(S, "conv_direct: no candidate beat the defaults; they stay");
        return CLVAE_OK;
    }
    if (!have) return CLVAE_OK;
    double cb = INFINITY, ca = INFINITY, x;
    clvae_status_t s;
    for (int round = 0; round < 3; round++) {
        clvae_tuning_unset(ctx, CONV_PREFIX);
        if ((s = conv_bench(ctx, S->w, &x, NULL, err))) return s;
        if (x < cb) cb = x;
        for (int i = 0; i < CD_N; i++)
            if ((s = clvae_tuning_set(ctx, conv_params[i].key, chosen[i], err))) return s;
        if ((s = conv_bench(ctx, S->w, &x, NULL, err))) return s;
        if (x < ca) ca = x;
    }
    r->conv_before_s = cb;
    r->conv_after_s = ca;
    say(S, "direct-path convs per training step (fwd + bwd data + bwd weight): %.2f ms with the "
           "defaults, %.2f ms with the chosen parameters (fastest of 3 turns)", 1e3 * cb, 1e3 * ca);
    if (ca >= 0.98 * cb) {
        say(S, "the chosen conv_direct parameters are not faster in turns: keeping the defaults");
        clvae_tuning_unset(ctx, CONV_PREFIX);
        r->conv_after_s = cb;
    }
    return CLVAE_OK;
}

/* The parameters the context holds now, and the figures per shape. */
static clvae_status_t results(clvae_ctx_t *ctx, const clvae_tune_opts_t *o, const double *before,
                              const double *after, clvae_tune_result_t *r, clvae_error_t *err)
{
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    r->nparams = 0;
    for (int i = 0; t && i < t->n && r->nparams < CLVAE_TUNING_MAX_PARAMS; i++) {
        snprintf(r->keys[r->nparams], sizeof r->keys[0], "%s", t->key[i]);
        r->values[r->nparams++] = t->value[i];
    }
    r->figs = calloc((size_t)o->nshapes, sizeof *r->figs);
    if (!r->figs) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    r->nfigs = o->nshapes;
    for (int i = 0; i < o->nshapes; i++) {
        const clvae_gemm_shape_t *sh = &o->shapes[i];
        double fl = clvae_gemm_shape_flops(sh);
        r->figs[i] = (clvae_tuning_figure_t){sh->trans_a, sh->trans_b, sh->m, sh->n, sh->k,
                                             sh->calls, fl / before[i] / 1e9, fl / after[i] / 1e9};
    }
    return CLVAE_OK;
}

clvae_status_t clvae_tune(clvae_ctx_t *ctx, const clvae_tune_opts_t *o, clvae_tune_result_t *r,
                          clvae_error_t *err)
{
    memset(r, 0, sizeof *r);
    if (o->nshapes < 1) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "nothing to tune on");
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    double t0 = clvae_seconds();
    int rounds = o->quick ? 2 : 3;
    clvae_tune_work_t w = {o->shapes, o->nshapes, o->quick ? 1 : 2, 0, {0}, {0}, {0}};
    search_t S = {ctx, o, &w, r, NULL, 0, 0, t0, NULL};
    S.sub = calloc((size_t)o->nshapes, sizeof *S.sub);
    double *before = calloc((size_t)o->nshapes, sizeof *before);
    double *after = calloc((size_t)o->nshapes, sizeof *after);
    double *per = calloc((size_t)o->nshapes, sizeof *per);
    clvae_status_t s = CLVAE_OK;
    if (!before || !after || !per || !S.sub)
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    if (!s) s = work_buffers(ctx, t, &w, err);
    if (!s) s = time_defaults(&S, rounds, before, per, err);
    if (!s) s = run_families(&S, err);
    if (!s) s = settle_gemm(&S, rounds, before, after, per, err);
    if (!s && conv_count(t) > 0) s = settle_conv(&S, err);
    if (!s) s = results(ctx, o, before, after, r, err);
    r->seconds = clvae_seconds() - t0;
    for (int i = 0; i < S.nseen; i++) free(S.seen[i]);
    free(S.seen);
    free(S.sub);
    free(before);
    free(after);
    free(per);
    clvae_buf_free(&w.a);
    clvae_buf_free(&w.b);
    clvae_buf_free(&w.c);
    for (int j = 0; j < 7; j++) clvae_buf_free(&t->cbuf[j]);
    if (s) clvae_tune_result_free(r);
    return s;
}
