/* Losses: per-example sums in a fixed order (one work group per example) and their gradients. */

#define LOSS_BCE 0        /* a = probability p, b = target t */
#define LOSS_BCE_LOGITS 1 /* a = logit z, b = target t */
#define LOSS_SQERR 2      /* a = prediction p, b = target t */
#define LOSS_KL 3         /* a = mu, b = logvar */

/* The per-element terms that loss `kind` sums over an example, eight at a time (vector maths:
 * on pocl's CPU device a scalar log1p or exp in a loop with barriers is a library call per
 * element, 8x slower than the whole row kernel around it). */
float8 loss_term8(uint kind, float8 a, float8 b)
{
    if (kind == LOSS_BCE) {
        /* PyTorch's binary_cross_entropy: logs clamped at -100, so p = 0 or 1 stays finite */
        float8 lp = fmax(log(a), (float8)(-100.0f));
        float8 l1p = fmax(log1p(-a), (float8)(-100.0f));
        return (b - 1.0f) * l1p - b * lp;
    }
    if (kind == LOSS_BCE_LOGITS) return fmax(a, (float8)(0.0f)) - a * b + log1p(exp(-fabs(a)));
    if (kind == LOSS_SQERR) {
        float8 e = a - b;
        return e * e;
    }
    /* KL: 1 + lv - mu^2 - exp(lv), written as lv - expm1(lv) - mu^2 (no loss near lv = 0) */
    return b - expm1(b) - a * a;
}

/* out[r] = c * sum_{d < D} loss_term(kind, a[r*D + d], b[r*D + d]) for r = group id.
 * Work item lid sums the blocks of 8 elements starting at d = 8 lid, 8 (lid + ls), ... as
 * eight lanes (the last block's lanes past D zero), then its lanes in lane order; the group
 * adds the items' sums in a tree: the order depends only on the local size. */
__kernel void loss_rows(__global float *out, uint out_off, __global const float *a, uint a_off,
                        __global const float *b, uint b_off, uint D, uint kind, float c)
{
    __local float part[CLVAE_WGS];
    uint r = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0);
    uint ls = (uint)get_local_size(0);
    __global const float *ar = a + a_off + r * D, *br = b + b_off + r * D;
    float8 acc = (float8)(0.0f);
    for (uint d = 8u * lid; d < D; d += 8u * ls) {
        float8 t = loss_term8(kind, clvae_load8(ar + d, D - d), clvae_load8(br + d, D - d));
        acc += d + 8u <= D ? t : select((float8)(0.0f), t, clvae_lanes8(D - d));
    }
    part[lid] = clvae_sum8(acc);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = ls / 2; s > 0; s /= 2) {
        if (lid < s) part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[out_off + r] = c * part[0];
}

/* Sigmoid that never overflows: exp only of -|z|. */
float stable_sigmoid(float z)
{
    float e = exp(-fabs(z));
    return z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* g[i] += c * dterm/da for i < n, where dterm/da is
 *   BCE:        (p - t) / max(p (1 - p), 1e-12)   (PyTorch's gradient)
 *   BCE_LOGITS: sigmoid(z) - t
 *   SQERR:      p - t                             (the caller folds 2 or 2/D into c) */
__kernel void loss_grad(__global float *g, uint g_off, __global const float *a, uint a_off,
                        __global const float *b, uint b_off, uint n, uint kind, float c)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    float av = a[a_off + i], bv = b[b_off + i], d;
    if (kind == LOSS_BCE)
        d = (av - bv) / fmax((1.0f - av) * av, 1e-12f);
    else if (kind == LOSS_BCE_LOGITS)
        d = stable_sigmoid(av) - bv;
    else
        d = av - bv;
    g[g_off + i] += c * d;
}

/* KL gradients for i < n, c = scale * beta: dmu += c mu (when mask & 1),
 * dlogvar += c 0.5 (exp(lv) - 1) (when mask & 2). */
__kernel void kl_grad(__global float *dmu, uint dmu_off, __global float *dlv, uint dlv_off,
                      __global const float *mu, uint mu_off, __global const float *lv,
                      uint lv_off, uint n, float c, uint mask)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    if (mask & 1u) dmu[dmu_off + i] += c * mu[mu_off + i];
    if (mask & 2u) dlv[dlv_off + i] += c * 0.5f * expm1(lv[lv_off + i]);
}
