/* Softmax cross-entropy, softmax and argmax over K logits per row or per map position; draws. */

/* The row kernels run one work group per example r and read row z[z_off + r*K ..];
 * reductions go strided per work item, then through a tree whose shape depends only on
 * the local size, so the order is fixed. Labels are floats; see label_class
 * in cl/common.cl. */

/* The maximum of z[row + d], d < K, over the group (NaN ignored, as fmax does); every work
 * item gets it. part is the group's scratch, free again on return. */
float xent_row_max(__global const float *z, uint row, uint K, __local float *part)
{
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    float m = -INFINITY;
    for (uint d = lid; d < K; d += ls) m = fmax(m, z[row + d]);
    part[lid] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = ls / 2; s > 0; s /= 2) {
        if (lid < s) part[lid] = fmax(part[lid], part[lid + s]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* The sum of exp(z[row + d] - m), d < K, over the group in a fixed order; every work item
 * gets it. */
float xent_row_sumexp(__global const float *z, uint row, uint K, float m, __local float *part)
{
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    float acc = 0.0f;
    for (uint d = lid; d < K; d += ls) acc += exp(z[row + d] - m);
    part[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = ls / 2; s > 0; s /= 2) {
        if (lid < s) part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* out[r] = (max - z[y_r]) + log(sum exp(z - max)) for a valid label, NaN otherwise. */
__kernel void xent_rows(__global float *out, uint out_off, __global const float *z, uint z_off,
                        __global const float *y, uint y_off, uint K)
{
    __local float part[CLVAE_WGS];
    uint r = (uint)get_group_id(0);
    uint row = z_off + r * K;
    float m = xent_row_max(z, row, K, part);
    float s = xent_row_sumexp(z, row, K, m, part);
    if (get_local_id(0) != 0) return;
    uint c = label_class(y[y_off + r], K);
    out[out_off + r] = c < K ? (m - z[row + c]) + log(s) : NAN;
}

/* g[r, d] += scale * (exp(z - max) / sum - (d == y_r)) for a row with a valid label. */
__kernel void xent_grad(__global float *g, uint g_off, __global const float *z, uint z_off,
                        __global const float *y, uint y_off, uint K, float scale)
{
    __local float part[CLVAE_WGS];
    uint r = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    uint row = z_off + r * K;
    float m = xent_row_max(z, row, K, part);
    float s = xent_row_sumexp(z, row, K, m, part);
    uint c = label_class(y[y_off + r], K);
    if (c >= K) return; /* after the last barrier: the whole group leaves */
    uint grow = g_off + r * K;
    for (uint d = lid; d < K; d += ls) {
        float p = exp(z[row + d] - m) / s;
        g[grow + d] += scale * (d == c ? p - 1.0f : p);
    }
}

/* p[r, d] = exp(z - max) / sum. p may be z itself: each item reads its own z[d] before it
 * writes p[d], and every other read of the row happened before the reductions' barriers. */
__kernel void softmax_rows(__global float *p, uint p_off, __global const float *z, uint z_off,
                           uint K)
{
    __local float part[CLVAE_WGS];
    uint r = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    uint row = z_off + r * K;
    float m = xent_row_max(z, row, K, part);
    float s = xent_row_sumexp(z, row, K, m, part);
    uint prow = p_off + r * K;
    for (uint d = lid; d < K; d += ls) p[prow + d] = exp(z[row + d] - m) / s;
}

/* Candidate (bv, bi) beats (av, ai) in the argmax: a larger value, NaN above any number,
 * the lower index on a tie; index K marks "no candidate". */
int xent_beats(float bv, uint bi, float av, uint ai, uint K)
{
    if (bi >= K) return 0;
    if (ai >= K) return 1;
    int bn = isnan(bv), an = isnan(av);
    if (bn != an) return bn;
    if (bn || bv == av) return bi < ai;
    return bv > av;
}

/* correct[r] = 1 when the row's argmax (lowest index among ties) is the valid label y_r. */
__kernel void xent_argmax(__global float *correct, uint c_off, __global const float *z,
                          uint z_off, __global const float *y, uint y_off, uint K)
{
    __local float best_v[CLVAE_WGS];
    __local uint best_i[CLVAE_WGS];
    uint r = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    uint row = z_off + r * K;
    float bv = 0.0f;
    uint bi = K;
    for (uint d = lid; d < K; d += ls) {
        float v = z[row + d];
        if (xent_beats(v, d, bv, bi, K)) {
            bv = v;
            bi = d;
        }
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = ls / 2; s > 0; s /= 2) {
        if (lid < s &&
            xent_beats(best_v[lid + s], best_i[lid + s], best_v[lid], best_i[lid], K)) {
            best_v[lid] = best_v[lid + s];
            best_i[lid] = best_i[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid != 0) return;
    uint c = label_class(y[y_off + r], K);
    correct[c_off + r] = (c < K && best_i[0] == c) ? 1.0f : 0.0f;
}

/* ---- spatial cross-entropy: K classes at each of P positions ------------------------------ */

/* Logits [N, K, P] channel-first, as a conv layer writes them: class k of position p of
 * example n is z[z_off + (n*K + k)*P + p], so one position's classes lie P apart. A work item
 * takes whole positions and runs over their K classes in order k = 0 .. K-1 itself (for
 * K = 512 codes and P = 49 positions there are few positions and many classes, but neighbouring
 * items read neighbouring positions, so each of their loads is contiguous). */

/* The maximum of z[at + k*P], k < K (NaN ignored, as fmax does). */
float xent_pos_max(__global const float *z, uint at, uint K, uint P)
{
    float m = -INFINITY;
    for (uint k = 0; k < K; k++) m = fmax(m, z[at + k * P]);
    return m;
}

/* The sum of exp(z[at + k*P] - m), k < K, in that order. */
float xent_pos_sumexp(__global const float *z, uint at, uint K, uint P, float m)
{
    float s = 0.0f;
    for (uint k = 0; k < K; k++) s += exp(z[at + k * P] - m);
    return s;
}

/* The sum of every work item's v through a tree whose shape depends only on the local size;
 * every work item gets it. part is the group's scratch, free again on return. */
float xent_group_sum(float v, __local float *part)
{
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    part[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s = ls / 2; s > 0; s /= 2) {
        if (lid < s) part[lid] += part[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* out[n] = sum over positions p of (max - z[y_np]) + log(sum exp(z - max)) at p, NaN when a
 * label of n is invalid: one work group per example n, positions p = lid, lid + ls, ... per
 * item, then the items' sums through the tree. */
__kernel void xent_spatial_rows(__global float *out, uint out_off, __global const float *z,
                                uint z_off, __global const float *y, uint y_off, uint K, uint P)
{
    __local float part[CLVAE_WGS];
    uint n = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    float acc = 0.0f;
    for (uint p = lid; p < P; p += ls) {
        uint at = z_off + n * K * P + p;
        float m = xent_pos_max(z, at, K, P);
        float s = xent_pos_sumexp(z, at, K, P, m);
        uint c = label_class(y[y_off + n * P + p], K);
        acc += c < K ? (m - z[at + c * P]) + log(s) : NAN;
    }
    float total = xent_group_sum(acc, part);
    if (lid == 0) out[out_off + n] = total;
}

/* g[n, k, p] += scale * (exp(z - max) / sum - (k == y_np)) at a position with a valid label:
 * one work item per position (n, p) of the N*P, each writing its own K entries. */
__kernel void xent_spatial_grad(__global float *g, uint g_off, __global const float *z,
                                uint z_off, __global const float *y, uint y_off, uint K, uint P,
                                uint N, float scale)
{
    uint i = CLVAE_GID0;
    if (i >= N * P) return;
    uint n = i / P, p = i - n * P;
    uint c = label_class(y[y_off + i], K);
    if (c >= K) return;
    uint at = z_off + n * K * P + p, gat = g_off + n * K * P + p;
    float m = xent_pos_max(z, at, K, P);
    float s = xent_pos_sumexp(z, at, K, P, m);
    for (uint k = 0; k < K; k++) {
        float q = exp(z[at + k * P] - m) / s;
        g[gat + k * P] += scale * (k == c ? q - 1.0f : q);
    }
}

/* correct[n] = the number of positions p of n whose argmax (lowest index among ties, NaN
 * above any number: xent_beats) is the valid label y_np; one work group per example. The
 * counts are small integers, exact in float whatever the order. */
__kernel void xent_spatial_argmax(__global float *correct, uint c_off, __global const float *z,
                                  uint z_off, __global const float *y, uint y_off, uint K,
                                  uint P)
{
    __local float part[CLVAE_WGS];
    uint n = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0), ls = (uint)get_local_size(0);
    float hits = 0.0f;
    for (uint p = lid; p < P; p += ls) {
        uint at = z_off + n * K * P + p;
        float bv = 0.0f;
        uint bi = K;
        for (uint k = 0; k < K; k++) {
            float v = z[at + k * P];
            if (xent_beats(v, k, bv, bi, K)) {
                bv = v;
                bi = k;
            }
        }
        uint c = label_class(y[y_off + n * P + p], K);
        hits += (c < K && bi == c) ? 1.0f : 0.0f;
    }
    float total = xent_group_sum(hits, part);
    if (lid == 0) correct[c_off + n] = total;
}

/* codes[n, p] = a class drawn from softmax(z[n, :, p] / t) for each example n < N: u is
 * uniform element n of the stream (seed, offset) (word n % 4 of block offset + n/4, as
 * clvae_rng_uniform), and the draw is the first k whose cumulative weight passes u * sum, the
 * weights exp((z - max) / t) summed in k order both times, so the last cumulative sum is the
 * sum itself. When rounding leaves u * sum at or above it, the draw is the last k of non-zero
 * weight. A NaN among the logits (or +inf, or all -inf) makes the sum NaN: the code is NaN. */
__kernel void xent_sample(__global float *codes, uint c_off, __global const float *z,
                          uint z_off, uint K, uint N, uint P, uint p, float t, ulong seed,
                          ulong offset)
{
    uint n = CLVAE_GID0;
    if (n >= N) return;
    uint at = z_off + n * K * P + p;
    float m = xent_pos_max(z, at, K, P);
    float s = 0.0f;
    for (uint k = 0; k < K; k++) s += exp((z[at + k * P] - m) / t);
    float target = rng_uniform_at(seed, offset, n) * s;
    float acc = 0.0f, code = NAN;
    for (uint k = 0; k < K && !isnan(s); k++) {
        float e = exp((z[at + k * P] - m) / t);
        acc += e;
        if (e > 0.0f) code = (float)k; /* the last of non-zero weight so far */
        if (target < acc) break;
    }
    codes[c_off + n * P + p] = code;
}
