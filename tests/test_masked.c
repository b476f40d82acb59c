/* Masked (causal) convolutions: the mask op against its reference, causality at every position
 * for the op and for a network of masked layers, forward and gradients against the reference
 * and central differences, and checks that a broken mask would be caught. */
#define TEST_FILE "test_masked"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/net/net.h"
#include "clvae/ops/conv.h"

static clvae_ctx_t *ctx;

/* Shape key: C input channels, K output channels, an H x W map of P = H*W positions in raster
 * order (p = h*W + w); kernels k x k with 'same' padding and stride 1.
 *   dep [P, P]  dep[q*P + p] = 1 when changing the input at position q (in any channel)
 *               changes the output at position p (in any channel) */
#define C_IN 2
#define K_OUT 3
#define HW 5
#define P (HW * HW)

/* Random weights of magnitude 0.25..1 and either sign: no tap is near 0, so every tap the
 * mask keeps moves the output visibly. */
static void rand_weights(float *w, size_t n, uint64_t *seed)
{
    tu_rand(w, n, 0.25f, 1.0f, seed);
    float *sign = malloc(n * sizeof *sign);
    tu_rand(sign, n, -1.0f, 1.0f, seed);
    for (size_t i = 0; i < n; i++) w[i] = sign[i] < 0 ? -w[i] : w[i];
    free(sign);
}

static clvae_conv_geom_t geom_of(size_t N, size_t k)
{
    clvae_conv_params_t p = {k, k, 1, 1, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0};
    clvae_conv_geom_t g = {0};
    clvae_error_t err = {0};
    if (clvae_conv2d_geom(&g, N, C_IN, HW, HW, K_OUT, &p, &err)) fprintf(stderr, "%s\n", err.msg);
    return g;
}

/* The dependencies one masked k x k conv has by its definition: p reads q = p + (i - k/2,
 * j - k/2) for every kept tap (i, j) inside the map (the reference mask on all-ones). */
static void window_deps(unsigned char *dep, size_t k, clvae_conv_mask_t mask)
{
    double ones[49], keep[49];
    for (size_t t = 0; t < k * k; t++) ones[t] = 1.0;
    clvae_conv2d_mask_ref(keep, ones, mask, 1, 1, k, k);
    memset(dep, 0, P * P);
    int c = (int)k / 2;
    for (int p = 0; p < P; p++)
        for (int t = 0; t < (int)(k * k); t++) {
            int h = p / HW + t / (int)k - c, v = p % HW + t % (int)k - c;
            if (keep[t] != 0.0 && h >= 0 && h < HW && v >= 0 && v < HW)
                dep[(h * HW + v) * P + p] = 1;
        }
}

/* What breaks causality in dep: late counts pairs where p depends on a q at or after it (q > p
 * with centre, the B rule), blind counts positions p >= 1 that depend on no earlier q (the
 * test must see the earlier positions matter, or it could pass with an all-zero mask). */
static void causality(const unsigned char *dep, int centre, size_t *late, size_t *blind)
{
    *late = *blind = 0;
    for (size_t p = 0; p < P; p++) {
        int earlier = 0;
        for (size_t q = 0; q < P; q++) {
            int allowed = q < p || (centre && q == p);
            if (dep[q * P + p] && !allowed) ++*late;
            if (dep[q * P + p] && q < p) earlier = 1;
        }
        if (p > 0 && !earlier) ++*blind;
    }
}

/* ---- the mask op ----------------------------------------------------------- */

/* Device mask against the reference, exact, out of place and in place, and the kept-tap count. */
static void mask_case(size_t K, size_t Cn, size_t k, clvae_conv_mask_t mask)
{
    size_t n = K * Cn * k * k;
    float *w = malloc(n * sizeof *w);
    uint64_t seed = 77 + n + (size_t)mask;
    rand_weights(w, n, &seed);
    double *wd = tu_double(w, n), *want = malloc(n * sizeof *want);
    clvae_conv2d_mask_ref(want, wd, mask, K, Cn, k, k);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) kept += want[i] != 0.0;
    size_t per = (k * k) / 2 + (mask == CLVAE_CONV_MASK_B); /* taps before the centre (+1) */
    CHECK(kept == K * Cn * per, "k=%zu mask %d: reference keeps %zu of %zu", k, (int)mask, kept, n);
    clvae_buf_t bw = tu_upload(ctx, w, n), bo = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    CHECK(clvae_conv2d_mask(ctx, bo, bw, mask, K, Cn, k, k, &err) == CLVAE_OK, "%s", err.msg);
    float *got = tu_download(ctx, bo, n), *orig = tu_download(ctx, bw, n);
    CHECK(clvae_conv2d_mask(ctx, bw, bw, mask, K, Cn, k, k, &err) == CLVAE_OK, "%s", err.msg);
    float *inplace = tu_download(ctx, bw, n);
    REQUIRE(got && orig && inplace, "no result");
    int ok = 1;
    for (size_t i = 0; i < n; i++)
        ok &= got[i] == (float)want[i] && inplace[i] == (float)want[i] && orig[i] == w[i];
    CHECK(ok, "%zux%zu k=%zu mask %d differs from the reference", K, Cn, k, (int)mask);
    free(got), free(orig), free(inplace), free(w), free(wd), free(want);
    clvae_buf_free(&bw);
    clvae_buf_free(&bo);
}

static void t_mask_vs_reference(void)
{
    for (size_t k = 1; k <= 7; k += 2) {
        if (k > 1) mask_case(3, 2, k, CLVAE_CONV_MASK_A);
        mask_case(3, 2, k, CLVAE_CONV_MASK_B);
    }
    mask_case(1, 1, 3, CLVAE_CONV_MASK_A);
    mask_case(70, 33, 5, CLVAE_CONV_MASK_B); /* more work items than one group */
    /* the reference's taps written out: 3x3 A keeps the top row and the centre's left */
    double ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, a[9], b[9];
    clvae_conv2d_mask_ref(a, ones, CLVAE_CONV_MASK_A, 1, 1, 3, 3);
    clvae_conv2d_mask_ref(b, ones, CLVAE_CONV_MASK_B, 1, 1, 3, 3);
    static const double wa[9] = {1, 1, 1, 1, 0, 0, 0, 0, 0}, wb[9] = {1, 1, 1, 1, 1, 0, 0, 0, 0};
    CHECK(memcmp(a, wa, sizeof a) == 0 && memcmp(b, wb, sizeof b) == 0, "3x3 reference masks");
}

/* ---- causality of the conv op with a masked copy of the weights ------------ */

/* dep of y = conv(x, W * mask) + b on the device, the mask applied by clvae_conv2d_mask to
 * full weights (mask NONE: the weights as they are, to show the check catches that). */
static int op_deps(unsigned char *dep, size_t k, clvae_conv_mask_t mask, uint64_t seed)
{
    clvae_conv_geom_t g = geom_of(1, k);
    size_t nw = K_OUT * C_IN * k * k, nx = C_IN * P, ny = K_OUT * P;
    float *w = malloc(nw * sizeof *w), b[K_OUT], x[C_IN * P], y0[K_OUT * P], y1[K_OUT * P];
    rand_weights(w, nw, &seed);
    tu_rand(b, K_OUT, -1.0f, 1.0f, &seed);
    tu_rand(x, nx, -1.0f, 1.0f, &seed);
    clvae_buf_t bw = tu_upload(ctx, w, nw), bm = tu_zeros(ctx, nw), bb = tu_upload(ctx, b, K_OUT);
    clvae_buf_t bx = tu_upload(ctx, x, nx), by = tu_zeros(ctx, ny);
    clvae_error_t err = {0};
    int ok = mask == CLVAE_CONV_MASK_NONE
                 ? clvae_buf_upload(ctx, bm, w, nw, &err) == CLVAE_OK
                 : clvae_conv2d_mask(ctx, bm, bw, mask, K_OUT, C_IN, k, k, &err) == CLVAE_OK;
    ok = ok && !clvae_conv2d_forward(ctx, by, bx, bm, bb, &g, &err) &&
         !clvae_buf_download(ctx, y0, by, ny, &err);
    memset(dep, 0, P * P);
    for (size_t q = 0; ok && q < P; q++)
        for (size_t c = 0; ok && c < C_IN; c++) {
            float v = x[c * P + q] + 1.0f;
            ok = !clvae_buf_upload(ctx, clvae_buf_at(bx, c * P + q), &v, 1, &err) &&
                 !clvae_conv2d_forward(ctx, by, bx, bm, bb, &g, &err) &&
                 !clvae_buf_download(ctx, y1, by, ny, &err) &&
                 !clvae_buf_upload(ctx, clvae_buf_at(bx, c * P + q), &x[c * P + q], 1, &err);
            for (size_t i = 0; i < ny; i++)
                if (y1[i] != y0[i]) dep[q * P + i % P] = 1;
        }
    if (!ok) fprintf(stderr, "  %s\n", err.msg);
    free(w);
    clvae_buf_free(&bw), clvae_buf_free(&bm), clvae_buf_free(&bb), clvae_buf_free(&bx);
    clvae_buf_free(&by);
    return ok;
}

/* Every (p, q) of a 5x5 map, kernels 3 and 5 (the direct and the GEMM path), masks A and B:
 * p depends on q only before it (A) or at and before it (B), on some earlier q for every
 * p >= 1, and on exactly the positions the kept taps reach. */
static void t_op_causality_every_position(void)
{
    static unsigned char dep[P * P], want[P * P];
    for (size_t k = 3; k <= 5; k += 2)
        for (int m = CLVAE_CONV_MASK_A; m <= CLVAE_CONV_MASK_B; m++) {
            REQUIRE(op_deps(dep, k, (clvae_conv_mask_t)m, 900 + k + (size_t)m), "k=%zu", k);
            size_t late, blind;
            causality(dep, m == CLVAE_CONV_MASK_B, &late, &blind);
            CHECK(late == 0 && blind == 0, "k=%zu mask %c: %zu late dependencies, %zu "
                  "positions blind to the past", k, 'A' + m - 1, late, blind);
            window_deps(want, k, (clvae_conv_mask_t)m);
            CHECK(memcmp(dep, want, sizeof dep) == 0, "k=%zu mask %c: dependencies differ "
                  "from the kernel's kept taps", k, 'A' + m - 1);
            size_t self = 0;
            for (size_t p = 0; p < P; p++) self += dep[p * P + p];
            CHECK(self == (m == CLVAE_CONV_MASK_B ? P : 0), "k=%zu mask %c: %zu outputs read "
                  "their own position", k, 'A' + m - 1, self);
        }
}

/* The checks above can fail: unmasked weights, and mask B judged by A's rule, give late
 * dependencies; an all-zero mask (a 1x1 A) would leave positions blind. */
static void t_op_causality_catches_broken_masks(void)
{
    static unsigned char dep[P * P];
    size_t late, blind;
    REQUIRE(op_deps(dep, 3, CLVAE_CONV_MASK_NONE, 5), "unmasked");
    causality(dep, 1, &late, &blind);
    CHECK(late > 0, "unmasked weights pass the causality check");
    REQUIRE(op_deps(dep, 5, CLVAE_CONV_MASK_B, 6), "mask B");
    causality(dep, 0, &late, &blind);
    CHECK(late == P, "mask B by A's rule: %zu late pairs, want the %d centres", late, P);
    memset(dep, 0, sizeof dep);
    causality(dep, 0, &late, &blind);
    CHECK(blind == P - 1, "no dependencies: %zu blind positions", blind);
}

/* ---- a network of masked layers --------------------------------------------- */

/* A then B, as a PixelCNN stacks them (tanh: smooth, for central differences); the weights are
 * uploaded whole (every tap non-zero, as a checkpoint or --init may hold them), so only the
 * layers' masking keeps them out. NET_OF(...) with other mask lines: the same net otherwise. */
#define NET_OF(mask1, mask2)                                                                   \
    "[model]\nkind = classifier\n[input]\nchannels = 2\nheight = 5\nwidth = 5\n"              \
    "[conv]\nfilters = 3\nsize = 5\n" mask1 "activation = tanh\n"                             \
    "[conv]\nfilters = 3\nsize = 3\n" mask2 "activation = tanh\n[flatten]\n[dense]\nunits = 4\n"
#define MASKED_NET NET_OF("mask = A\n", "mask = B\n")

typedef struct masked_net {
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_net_t *net;
    float *params;   /* [nparams] as uploaded: whole weights */
} masked_net_t;

static int net_open(masked_net_t *m, const char *text, size_t B, uint64_t seed)
{
    clvae_error_t err = {0};
    memset(m, 0, sizeof *m);
    if (clvae_cfg_parse(&m->cfg, text, strlen(text), "masked.cfg", &err) ||
        clvae_model_resolve(&m->d, &m->cfg, &err) ||
        clvae_net_init(&m->net, ctx, &m->d, B, 1, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return 0;
    }
    size_t n = m->d.nparams;
    m->params = malloc(n * sizeof *m->params);
    rand_weights(m->params, n, &seed);
    for (size_t i = 0; i < n; i++) m->params[i] *= 0.3f; /* keep the sums moderate */
    return clvae_buf_upload(ctx, clvae_net_params(m->net), m->params, n, &err) == CLVAE_OK;
}

static void net_close(masked_net_t *m)
{
    clvae_net_free(m->net);
    clvae_model_desc_free(&m->d);
    clvae_cfg_free(&m->cfg);
    free(m->params);
}

/* Layer i's output (pre-activation when pre) for input x of B examples, into y. */
static int net_run(masked_net_t *m, const float *x, size_t B, int i, int pre, float *y)
{
    clvae_error_t err = {0};
    const clvae_layer_t *L = &m->d.layers[i];
    int ok = !clvae_buf_upload(ctx, clvae_net_input(m->net), x, B * C_IN * P, &err) &&
             !clvae_net_forward(m->net, B, &err) &&
             !clvae_buf_download(ctx, y, clvae_net_output(m->net, i, pre),
                                 B * L->out_c * L->out_h * L->out_w, &err);
    if (!ok) fprintf(stderr, "  %s\n", err.msg);
    return ok;
}

/* dep of layer `layer`'s output in the net m (one example), by changing each input value. */
static int net_deps(masked_net_t *m, int layer, unsigned char *dep, uint64_t seed)
{
    float x[C_IN * P], y0[K_OUT * P], y1[K_OUT * P];
    tu_rand(x, C_IN * P, -1.0f, 1.0f, &seed);
    if (!net_run(m, x, 1, layer, 0, y0)) return 0;
    memset(dep, 0, P * P);
    for (size_t q = 0; q < P; q++)
        for (size_t c = 0; c < C_IN; c++) {
            float keep = x[c * P + q];
            x[c * P + q] = keep + 1.0f;
            int ok = net_run(m, x, 1, layer, 0, y1);
            x[c * P + q] = keep;
            if (!ok) return 0;
            for (size_t i = 0; i < K_OUT * P; i++)
                if (y1[i] != y0[i]) dep[q * P + i % P] = 1;
        }
    return 1;
}

/* through[q*P + p] = some r with a[q*P + r] and b[r*P + p]: two layers' dependencies chained. */
static void chain(unsigned char *through, const unsigned char *a, const unsigned char *b)
{
    for (size_t q = 0; q < P; q++)
        for (size_t p = 0; p < P; p++) {
            unsigned char any = 0;
            for (size_t r = 0; r < P && !any; r++) any = a[q * P + r] && b[r * P + p];
            through[q * P + p] = any;
        }
}

/* The network A (5x5) -> B (3x3) at every position: the first layer's output reads exactly
 * its kept taps' positions, the second's exactly their chain, all strictly before p (the
 * stack's A makes even B's centre see only the past); the stored weights stay whole. The same
 * net without masks breaks the check. */
static void t_net_causality_every_position(void)
{
    static unsigned char dep[P * P], a[P * P], b[P * P], want[P * P];
    masked_net_t m;
    REQUIRE(net_open(&m, MASKED_NET, 1, 41), "masked net");
    CHECK(m.d.layers[1].mask == CLVAE_CONV_MASK_A && m.d.layers[2].mask == CLVAE_CONV_MASK_B,
          "masks %d %d", (int)m.d.layers[1].mask, (int)m.d.layers[2].mask);
    window_deps(a, 5, CLVAE_CONV_MASK_A);
    window_deps(b, 3, CLVAE_CONV_MASK_B);
    chain(want, a, b);
    size_t late, blind;
    REQUIRE(net_deps(&m, 1, dep, 3), "layer 1");
    causality(dep, 0, &late, &blind);
    CHECK(late == 0 && blind == 0 && memcmp(dep, a, sizeof dep) == 0,
          "layer 1 (A): %zu late, %zu blind, or not its kept taps", late, blind);
    REQUIRE(net_deps(&m, 2, dep, 4), "layer 2");
    causality(dep, 0, &late, &blind);
    CHECK(late == 0 && blind == 0 && memcmp(dep, want, sizeof dep) == 0,
          "layer 2 (A then B): %zu late, %zu blind, or not the chained taps", late, blind);
    float *stored = malloc(m.d.nparams * sizeof *stored);
    clvae_error_t err = {0};
    CHECK(clvae_buf_download(ctx, stored, clvae_net_params(m.net), m.d.nparams, &err) == 0 &&
              memcmp(stored, m.params, m.d.nparams * sizeof *stored) == 0,
          "the forward changed the stored weights");
    free(stored);
    net_close(&m);
    REQUIRE(net_open(&m, NET_OF("", ""), 1, 41), "unmasked net");
    REQUIRE(net_deps(&m, 2, dep, 4), "unmasked layer 2");
    causality(dep, 1, &late, &blind);
    CHECK(late > 0, "the unmasked net passes the causality check");
    net_close(&m);
}

/* y = conv(x, mask(W)) + b in double for one layer of the net, per example. */
static void ref_layer(double *y, const float *x, const float *params, const clvae_layer_t *L,
                      size_t B)
{
    size_t k = L->conv.kh, nw = L->w_len;
    clvae_conv_geom_t g;
    clvae_conv_params_t cp = L->conv;
    clvae_error_t err = {0};
    clvae_conv2d_geom(&g, B, L->in_c, L->in_h, L->in_w, L->out_c, &cp, &err);
    double *w = tu_double(params + L->w_off, nw), *b = tu_double(params + L->b_off, L->out_c);
    double *xd = tu_double(x, B * L->in_c * L->in_h * L->in_w);
    clvae_conv2d_mask_ref(w, w, L->mask, L->out_c, L->in_c, k, k);
    clvae_conv2d_forward_ref(y, xd, w, b, &g);
    free(w), free(b), free(xd);
}

/* Both masked layers' outputs (tanh of the conv: the activation runs in place, fused into the
 * conv) against tanh of the reference conv with the reference-masked weights, on two examples;
 * each layer from the device's own input. */
static void t_net_forward_vs_reference(void)
{
    const size_t B = 2, n = B * K_OUT * P;
    masked_net_t m;
    REQUIRE(net_open(&m, MASKED_NET, B, 42), "masked net");
    float x[2 * C_IN * P], a1[2 * K_OUT * P], y[2 * K_OUT * P];
    uint64_t seed = 12;
    tu_rand(x, B * C_IN * P, -1.0f, 1.0f, &seed);
    double want[2 * K_OUT * P];
    REQUIRE(net_run(&m, x, B, 1, 1, y) && net_run(&m, x, B, 1, 0, a1), "forward");
    ref_layer(want, x, m.params, &m.d.layers[1], B);
    for (size_t i = 0; i < n; i++) want[i] = tanh(want[i]);
    CHECK(tu_close("masked layer 1 (A)", y, want, n, 1e-5, 1e-4, NULL), "layer 1");
    REQUIRE(net_run(&m, x, B, 2, 1, y), "forward");
    ref_layer(want, a1, m.params, &m.d.layers[2], B);
    for (size_t i = 0; i < n; i++) want[i] = tanh(want[i]);
    CHECK(tu_close("masked layer 2 (B)", y, want, n, 1e-5, 1e-4, NULL), "layer 2");
    /* the reference with whole weights differs: the mask is what the forward applied */
    clvae_layer_t whole = m.d.layers[2];
    whole.mask = CLVAE_CONV_MASK_NONE;
    double *w = tu_double(m.params + whole.w_off, whole.w_len);
    double *b = tu_double(m.params + whole.b_off, whole.out_c), *xd = tu_double(a1, n);
    clvae_conv_geom_t g = geom_of(B, 3);
    clvae_conv2d_forward_ref(want, xd, w, b, &g);
    for (size_t i = 0; i < n; i++) want[i] = tanh(want[i]);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) off += fabs(y[i] - want[i]) > 1e-3;
    CHECK(off > n / 2, "only %zu of %zu outputs move without the mask", off, n);
    free(w), free(b), free(xd);
    net_close(&m);
}

/* <r, logits> of the net for input x (B examples), in double. */
static double net_objective(masked_net_t *m, const float *x, const float *r, size_t B,
                            float *logits)
{
    int last = m->d.nlayers - 1;
    size_t n = B * m->d.layers[last].out_c;
    if (!net_run(m, x, B, last, 0, logits)) return NAN;
    double l = 0;
    for (size_t i = 0; i < n; i++) l += (double)r[i] * logits[i];
    return l;
}

/* Central difference of the objective in parameter i (stored weights) or input value i. */
static double difference(masked_net_t *m, float *x, const float *r, size_t B, int is_x,
                         size_t i, float h, float *logits)
{
    clvae_error_t err = {0};
    float *v = is_x ? &x[i] : &m->params[i], keep = *v;
    clvae_buf_t at = clvae_buf_at(clvae_net_params(m->net), i);
    double l[2];
    for (int side = 0; side < 2; side++) {
        *v = keep + (side ? -h : h);
        if (!is_x) clvae_buf_upload(ctx, at, v, 1, &err);
        l[side] = net_objective(m, x, r, B, logits);
    }
    *v = keep;
    if (!is_x) clvae_buf_upload(ctx, at, v, 1, &err);
    return (l[0] - l[1]) / ((double)(keep + h) - (double)(keep - h));
}

/* Backward of the net: parameter gradients into gp [nparams], input gradient into gx. */
static int net_gradients(masked_net_t *m, const float *x, const float *r, size_t B, float *gp,
                         float *gx, float *logits)
{
    clvae_error_t err = {0};
    clvae_buf_t din;
    size_t nx = B * C_IN * P;
    if (clvae_buf_alloc(ctx, nx, &din, &err)) return 0;
    int last = m->d.nlayers - 1;
    int ok = isfinite(net_objective(m, x, r, B, logits)) &&
             !clvae_buf_upload(ctx, clvae_net_output_grad(m->net, last, 0), r,
                               B * m->d.layers[last].out_c, &err) &&
             !clvae_net_zero_grads(m->net, &err) && !clvae_net_backward(m->net, 0, din, &err) &&
             !clvae_buf_download(ctx, gp, clvae_net_grads(m->net), m->d.nparams, &err) &&
             !clvae_buf_download(ctx, gx, din, nx, &err);
    if (!ok) fprintf(stderr, "  %s\n", err.msg);
    clvae_buf_free(&din);
    return ok;
}

/* The weight gradient of the masked layers: exactly 0 on the dropped taps (and so is the
 * central difference: the forward ignores what they hold), the central difference on the
 * other taps and the biases; the input gradient as well. */
static void t_net_gradients(void)
{
    const size_t B = 2, nx = B * C_IN * P;
    const float h = 5e-3f;
    masked_net_t m;
    REQUIRE(net_open(&m, MASKED_NET, B, 43), "masked net");
    float x[2 * C_IN * P], r[8], logits[8], gx[2 * C_IN * P];
    float *gp = malloc(m.d.nparams * sizeof *gp);
    uint64_t seed = 13;
    tu_rand(x, nx, -1.0f, 1.0f, &seed);
    tu_rand(r, B * 4, -1.0f, 1.0f, &seed);
    REQUIRE(net_gradients(&m, x, r, B, gp, gx, logits), "backward");
    size_t dropped = 0, bad = 0, kept_nonzero = 0;
    double dot = 0, nfd = 0, ng = 0;
    for (int li = 1; li <= 2; li++) {
        const clvae_layer_t *L = &m.d.layers[li];
        double *ones = malloc(L->w_len * sizeof *ones);
        for (size_t i = 0; i < L->w_len; i++) ones[i] = 1.0;
        clvae_conv2d_mask_ref(ones, ones, L->mask, L->out_c, L->in_c, L->conv.kh, L->conv.kw);
        for (size_t i = L->w_off; i < L->b_off + L->b_len; i++) {
            int drop = i < L->w_off + L->w_len && ones[i - L->w_off] == 0.0;
            double fd = difference(&m, x, r, B, 0, i, h, logits), g = gp[i];
            if (drop) {
                dropped++;
                if ((g != 0.0 || fd != 0.0) && bad++ < 5)
                    CHECK(0, "layer %d dropped tap %zu: gradient %g, difference %g", li,
                          i - L->w_off, g, fd);
                continue;
            }
            kept_nonzero += g != 0.0;
            dot += fd * g, nfd += fd * fd, ng += g * g;
            if (fabs(fd - g) > 2e-3 + 2e-2 * fabs(fd) && bad++ < 5)
                CHECK(0, "layer %d parameter %zu: gradient %.6g, difference %.6g", li,
                      i - L->w_off, g, fd);
        }
        free(ones);
    }
    for (size_t i = 0; i < nx; i++) {
        double fd = difference(&m, x, r, B, 1, i, h, logits);
        dot += fd * gx[i], nfd += fd * fd, ng += (double)gx[i] * gx[i];
        if (fabs(fd - gx[i]) > 2e-3 + 2e-2 * fabs(fd) && bad++ < 5)
            CHECK(0, "input %zu: gradient %.6g, difference %.6g", i, (double)gx[i], fd);
    }
    /* 3*2*(25 - 12) + 3*3*(9 - 5) taps dropped; the kept ones all matter */
    CHECK(dropped == 3 * 2 * 13 + 3 * 3 * 4, "%zu dropped taps", dropped);
    CHECK(kept_nonzero == 3 * 2 * 12 + 3 * 3 * 5 + 6, "%zu kept parameters with a gradient",
          kept_nonzero);
    CHECK(ng > 1e-6 && dot / sqrt(nfd * ng) > 0.9999, "cosine %.6f", dot / sqrt(nfd * ng));
    free(gp);
    net_close(&m);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t w = tu_zeros(ctx, 64), o = tu_zeros(ctx, 64), none = {0};
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    const clvae_conv_mask_t A = CLVAE_CONV_MASK_A;
    CHECK(clvae_conv2d_mask(ctx, o, w, CLVAE_CONV_MASK_NONE, 2, 3, 3, 3, &err) == INV, "none");
    CHECK(strstr(err.msg, "not A") != NULL, "message: %s", err.msg);
    CHECK(clvae_conv2d_mask(ctx, o, w, (clvae_conv_mask_t)3, 2, 3, 3, 3, &err) == INV, "mask 3");
    CHECK(clvae_conv2d_mask(ctx, o, w, A, 2, 2, 4, 4, &err) == INV, "even kernel");
    CHECK(strstr(err.msg, "4x4") != NULL, "message: %s", err.msg);
    CHECK(clvae_conv2d_mask(ctx, o, w, A, 2, 3, 3, 2, &err) == INV, "even width");
    CHECK(clvae_conv2d_mask(ctx, o, w, A, 1, 1, 9, 9, &err) == INV, "9x9");
    CHECK(clvae_conv2d_mask(ctx, o, w, A, 0, 3, 3, 3, &err) == INV, "K=0");
    CHECK(clvae_conv2d_mask(ctx, o, w, A, 2, 0, 3, 3, &err) == INV, "C=0");
    CHECK(clvae_conv2d_mask(ctx, o, w, A, (size_t)1 << 20, (size_t)1 << 12, 3, 3, &err) == INV,
          "2^32 weights");
    CHECK(clvae_conv2d_mask(ctx, none, w, A, 2, 3, 3, 3, &err) == INV, "NULL out");
    CHECK(clvae_conv2d_mask(ctx, o, none, A, 2, 3, 3, 3, &err) == INV, "NULL w");
    CHECK(clvae_conv2d_mask(ctx, o, w, A, 2, 4, 3, 3, &err) == INV, "72 weights in 64");
    CHECK(clvae_conv2d_mask(ctx, clvae_buf_at(w, 1), w, A, 1, 3, 3, 3, &err) == INV,
          "partial overlap");
    CHECK(strstr(err.msg, "overlap") != NULL, "message: %s", err.msg);
    CHECK(clvae_conv2d_mask(ctx, w, w, A, 1, 3, 3, 3, &err) == CLVAE_OK, "in place: %s", err.msg);
    clvae_buf_free(&w);
    clvae_buf_free(&o);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_mask_vs_reference);
    RUN(t_op_causality_every_position);
    RUN(t_op_causality_catches_broken_masks);
    RUN(t_net_causality_every_position);
    RUN(t_net_forward_vs_reference);
    RUN(t_net_gradients);
    RUN(t_invalid_arguments);
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
