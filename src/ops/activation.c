/* Launchers for cl/activation.cl, and activation names for configs and the CLI. */
#include "clvae/ops/activation.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define ALLOWED_NAMES \
    "identity (linear), relu, leaky_relu (leakyrelu), sigmoid, tanh, silu (swish)"

static const struct {
    const char *name;
    clvae_act_t act;
} act_names[] = {
    {"identity", CLVAE_ACT_IDENTITY}, {"linear", CLVAE_ACT_IDENTITY},
    {"relu", CLVAE_ACT_RELU},         {"leaky_relu", CLVAE_ACT_LEAKY_RELU},
    {"leakyrelu", CLVAE_ACT_LEAKY_RELU}, {"sigmoid", CLVAE_ACT_SIGMOID},
    {"tanh", CLVAE_ACT_TANH},         {"silu", CLVAE_ACT_SILU},
    {"swish", CLVAE_ACT_SILU},
};

/* 1 when a and b are equal ignoring ASCII case. */
static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

clvae_status_t clvae_act_parse(const char *name, clvae_act_t *out, clvae_error_t *err)
{
    if (!name || !out)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "activation: no name given; allowed: %s",
                          ALLOWED_NAMES);
    for (size_t i = 0; i < sizeof act_names / sizeof act_names[0]; i++) {
        if (same_name(name, act_names[i].name)) {
            *out = act_names[i].act;
            return CLVAE_OK;
        }
    }
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "unknown activation \"%.64s\"; allowed: %s", name,
                      ALLOWED_NAMES);
}

const char *clvae_act_name(clvae_act_t act)
{
    switch (act) {
    case CLVAE_ACT_IDENTITY: return "identity";
    case CLVAE_ACT_RELU: return "relu";
    case CLVAE_ACT_LEAKY_RELU: return "leaky_relu";
    case CLVAE_ACT_SIGMOID: return "sigmoid";
    case CLVAE_ACT_TANH: return "tanh";
    case CLVAE_ACT_SILU: return "silu";
    }
    return "unknown";
}

/* 1 when the n-float views a and b share memory. */
static int overlap(clvae_buf_t a, clvae_buf_t b, size_t n)
{
    return a.mem && a.mem == b.mem && a.off < b.off + n && b.off < a.off + n;
}

/* Rejects a null context, n = 0 or beyond the index limit, an unknown activation and a bad
 * LeakyReLU slope. */
static clvae_status_t check_args(clvae_ctx_t *ctx, clvae_act_t act, float slope, size_t n,
                                 clvae_error_t *err)
{
    if (!ctx) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "activation: no context");
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "activation: zero size");
    /* the launch rounds n up to whole work groups, and those global ids are uint too */
    if (n > UINT32_MAX - clvae_ctx_wgs(ctx))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "activation: %zu floats exceed the 2^32 index limit", n);
    return clvae_act_check(act, slope, "activation", err);
}

clvae_status_t clvae_act_check(clvae_act_t act, float slope, const char *op, clvae_error_t *err)
{
    if ((int)act < (int)CLVAE_ACT_IDENTITY || (int)act > (int)CLVAE_ACT_SILU)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: unknown activation %d", op, (int)act);
    if (act == CLVAE_ACT_LEAKY_RELU && !(isfinite(slope) && slope >= 0.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: leaky_relu slope %g must be finite and >= 0",
                          op, (double)slope);
    return CLVAE_OK;
}

clvae_status_t clvae_act_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, clvae_act_t act,
                                 float slope, size_t n, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = check_args(ctx, act, slope, n, err)) ||
        (s = clvae_buf_check(y, n, "activation", "y", err)) ||
        (s = clvae_buf_check(x, n, "activation", "x", err)))
        return s;
    int in_place = y.mem == x.mem && y.off == x.off;
    if (!in_place && overlap(y, x, n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "activation: y overlaps x without being the same view");
    if (in_place && act == CLVAE_ACT_IDENTITY) return CLVAE_OK;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "activation", "act_forward", &k, err))) return s;
    cl_uint yo = (cl_uint)y.off, xo = (cl_uint)x.off, cnt = (cl_uint)n, a = (cl_uint)act;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof y.mem, &y.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof yo, &yo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof x.mem, &x.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof xo, &xo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof cnt, &cnt));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof a, &a));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof slope, &slope));
    return clvae_launch_rows(ctx, k, n, 1, err);
}

/* dx (accumulate ? += : =) dy * act'(x). */
static clvae_status_t act_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dy,
                                   clvae_buf_t x, clvae_buf_t y, clvae_act_t act, float slope,
                                   size_t n, int accumulate, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = check_args(ctx, act, slope, n, err)) ||
        (s = clvae_buf_check(dx, n, "activation", "dx", err)) ||
        (s = clvae_buf_check(dy, n, "activation", "dy", err)))
        return s;
    /* the operand the derivative is computed from: x for SiLU, y for the others */
    clvae_buf_t v = dy;
    if (act == CLVAE_ACT_SILU) {
        if ((s = clvae_buf_check(x, n, "activation", "x (silu's gradient needs its input)", err)))
            return s;
        v = x;
    } else if (act != CLVAE_ACT_IDENTITY) {
        if ((s = clvae_buf_check(y, n, "activation",
                                 "y (the gradient is computed from the output)", err)))
            return s;
        v = y;
    }
    if (overlap(dx, dy, n) || overlap(dx, x, n) || overlap(dx, y, n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "activation: dx overlaps dy, x or y");
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "activation", "act_backward", &k, err))) return s;
    cl_uint dxo = (cl_uint)dx.off, dyo = (cl_uint)dy.off, vo = (cl_uint)v.off;
    cl_uint cnt = (cl_uint)n, a = (cl_uint)act;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof dx.mem, &dx.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof dxo, &dxo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof dy.mem, &dy.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof dyo, &dyo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof v.mem, &v.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof vo, &vo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof cnt, &cnt));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof a, &a));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof slope, &slope));
    cl_uint acc = accumulate ? 1 : 0;
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof acc, &acc));
    return clvae_launch_rows(ctx, k, n, 1, err);
}

clvae_status_t clvae_act_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dy, clvae_buf_t x,
                                  clvae_buf_t y, clvae_act_t act, float slope, size_t n,
                                  clvae_error_t *err)
{
    return act_backward(ctx, dx, dy, x, y, act, slope, n, 1, err);
}

clvae_status_t clvae_act_backward_set(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dy,
                                      clvae_buf_t x, clvae_buf_t y, clvae_act_t act, float slope,
                                      size_t n, clvae_error_t *err)
{
    return act_backward(ctx, dx, dy, x, y, act, slope, n, 0, err);
}
