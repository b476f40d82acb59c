/* Softmax cross-entropy, softmax and argmax over rows of K logits: one work group per row. */

/* Every kernel here runs one work group per example r and reads row z[z_off + r*K ..];
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
