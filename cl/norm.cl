/* Normalization over [N, C, HW]: batch normalization (per-channel statistics over the batch, one
 * work group per channel) and group normalization (per example and group of channels, one work
 * group per (example, group)); statistics in a fixed order, no atomics; their gradients. */

/* The sum of the group's values of part (local size ls, a power of two) into part[0]: a tree
 * whose order depends only on ls, ending with a barrier so that part[0] is seen by all. A macro,
 * not a function: barriers belong in the kernel's own body (pocl runs the code after a barrier
 * inside a called function once per work item otherwise). */
#define BN_TREE(part, lid, ls)                                    \
    do {                                                          \
        barrier(CLK_LOCAL_MEM_FENCE);                             \
        for (uint s_ = (ls) / 2; s_ > 0; s_ /= 2) {               \
            if ((lid) < s_) (part)[lid] += (part)[(lid) + s_];    \
            barrier(CLK_LOCAL_MEM_FENCE);                         \
        }                                                         \
    } while (0)

/* The next value ls further on of a walk over (example e, pixel p) of one channel, without a
 * division per value: ls = de examples and dp < HW pixels. */
#define BN_STEP(e, p, de, dp, HW)  \
    do {                           \
        (e) += (de);               \
        (p) += (dp);               \
        if ((p) >= (HW)) {         \
            (p) -= (HW);           \
            (e)++;                 \
        }                          \
    } while (0)

/* Channel c = group id of x [N, C, HW] (offset xo): stats [2C] (offset so) gets the batch's
 * mean and 1 / sqrt(var + eps) (biased variance, two passes). running [2C + 1] (offset ro) is
 * running_mean [C], running_var [C], and the count of batches tracked; with update, running =
 * (1 - momentum) running + momentum batch (the variance unbiased, n / (n - 1) for n > 1
 * values) and group 0 adds 1 to the count. */
__kernel void bn_stats(__global float *stats, uint so, __global const float *x, uint xo,
                       __global float *running, uint ro, uint N, uint C, uint HW, uint update,
                       float momentum, float eps)
{
    __local float part[CLVAE_WGS];
    uint c = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0);
    uint ls = (uint)get_local_size(0);
    uint n = N * HW;
    uint de = ls / HW, dp = ls - de * HW; /* a step of ls values: de examples, dp pixels */
    uint e0 = lid / HW, p0 = lid - e0 * HW;
    float acc = 0.0f;
    for (uint e = e0, p = p0; e < N;) {
        acc += x[xo + (e * C + c) * HW + p];
        BN_STEP(e, p, de, dp, HW);
    }
    part[lid] = acc;
    BN_TREE(part, lid, ls);
    float mean = part[0] / (float)n;
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = 0.0f;
    for (uint e = e0, p = p0; e < N;) {
        float d = x[xo + (e * C + c) * HW + p] - mean;
        acc += d * d;
        BN_STEP(e, p, de, dp, HW);
    }
    part[lid] = acc;
    BN_TREE(part, lid, ls);
    if (lid == 0) {
        float var = part[0] / (float)n;
        stats[so + c] = mean;
        stats[so + C + c] = 1.0f / sqrt(var + eps);
        if (update) {
            float unbiased = n > 1 ? var * ((float)n / (float)(n - 1)) : var;
            running[ro + c] = (1.0f - momentum) * running[ro + c] + momentum * mean;
            running[ro + C + c] = (1.0f - momentum) * running[ro + C + c] + momentum * unbiased;
            if (c == 0) running[ro + 2 * C] += 1.0f;
        }
    }
}

/* Evaluation mode: stats [2C] = the running mean and 1 / sqrt(running_var + eps), c < C. */
__kernel void bn_running(__global float *stats, uint so, __global const float *running, uint ro,
                         uint C, float eps)
{
    uint c = CLVAE_GID0;
    if (c >= C) return;
    stats[so + c] = running[ro + c];
    stats[so + C + c] = 1.0f / sqrt(running[ro + C + c] + eps);
}

/* y = (x - mean_c) * invstd_c * gamma_c + beta_c; a row kernel over the N*C rows. */
__kernel void bn_apply(__global float *y, uint yo, __global const float *x, uint xo,
                       __global const float *stats, uint so, __global const float *gamma,
                       uint go, __global const float *beta, uint bo, uint N, uint C, uint HW)
{
    ROW_SPAN(HW, N * C);
    uint c = r % C;
    float mean = stats[so + c], inv = stats[so + C + c], g = gamma[go + c], b = beta[bo + c];
    for (uint i = r * HW + s0; i < r * HW + s1; i++)
        y[yo + i] = (x[xo + i] - mean) * inv * g + b;
}

/* Channel c = group id: s1 = sum dy, s2 = sum dy * xhat over its N*HW values, kept in sums [2C]
 * (offset uo) for bn_backward_data, and ADDED to dbeta [C] and dgamma [C]. */
__kernel void bn_backward_params(__global float *sums, uint uo, __global float *dgamma, uint dgo,
                                 __global float *dbeta, uint dbo, __global const float *dy,
                                 uint dyo, __global const float *x, uint xo,
                                 __global const float *stats, uint so, uint N, uint C, uint HW)
{
    __local float part[CLVAE_WGS];
    uint c = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0);
    uint ls = (uint)get_local_size(0);
    uint de = ls / HW, dp = ls - de * HW;
    float mean = stats[so + c], inv = stats[so + C + c];
    float a1 = 0.0f, a2 = 0.0f;
    for (uint e = lid / HW, p = lid - (lid / HW) * HW; e < N;) {
        uint i = (e * C + c) * HW + p;
        float g = dy[dyo + i];
        a1 += g;
        a2 += g * (x[xo + i] - mean) * inv;
        BN_STEP(e, p, de, dp, HW);
    }
    part[lid] = a1;
    BN_TREE(part, lid, ls);
    float s1 = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    part[lid] = a2;
    BN_TREE(part, lid, ls);
    if (lid == 0) {
        float s2 = part[0];
        sums[uo + c] = s1;
        sums[uo + C + c] = s2;
        dbeta[dbo + c] += s1;
        dgamma[dgo + c] += s2;
    }
}

/* dx += gamma_c * invstd_c * (dy - (s1_c + xhat * s2_c) / n) with train (the statistics depend
 * on x), dx += gamma_c * invstd_c * dy without (running statistics are constants). */
__kernel void bn_backward_data(__global float *dx, uint dxo, __global const float *dy, uint dyo,
                               __global const float *x, uint xo, __global const float *stats,
                               uint so, __global const float *sums, uint uo,
                               __global const float *gamma, uint go, uint N, uint C, uint HW,
                               uint train)
{
    ROW_SPAN(HW, N * C);
    uint c = r % C;
    float inv = stats[so + C + c], mean = stats[so + c], gi = gamma[go + c] * inv;
    float u1 = train ? sums[uo + c] : 0.0f, u2 = train ? sums[uo + C + c] : 0.0f;
    float m = (float)(N * HW);
    for (uint i = r * HW + s0; i < r * HW + s1; i++) {
        float g = dy[dyo + i];
        if (train) g -= (u1 + (x[xo + i] - mean) * inv * u2) / m;
        dx[dxo + i] += gi * g;
    }
}

/* Group normalization: x [N, C, HW] with G groups of CG = C / G channels; group (n, g) is the
 * CG * HW consecutive values from (n * C + g * CG) * HW. stats [2 N G] (offset so): the means
 * [N, G], then the 1 / sqrt(var + eps) [N, G]. */

/* Group (n, g) = group id n * G + g: its mean and 1 / sqrt(var + eps) (biased variance, two
 * passes). Each pass: work item lid sums the blocks of 8 values starting at 8 lid, 8 (lid + ls),
 * ... as eight lanes (vector loads: on pocl's CPU device a value-by-value walk ran at a fifth of
 * the elementwise kernels' speed), then its lanes in order, then the group's tree. */
__kernel void gn_stats(__global float *stats, uint so, __global const float *x, uint xo, uint N,
                       uint G, uint M, float eps)
{
    __local float part[CLVAE_WGS];
    uint ng = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0);
    uint ls = (uint)get_local_size(0);
    __global const float *xg = x + xo + ng * M;
    float8 acc = (float8)(0.0f);
    for (uint t = 8u * lid; t < M; t += 8u * ls) acc += clvae_load8(xg + t, M - t);
    part[lid] = clvae_sum8(acc);
    BN_TREE(part, lid, ls);
    float mean = part[0] / (float)M;
    barrier(CLK_LOCAL_MEM_FENCE);
    acc = (float8)(0.0f);
    for (uint t = 8u * lid; t < M; t += 8u * ls) {
        float8 d = clvae_load8(xg + t, M - t) - mean;
        acc += select((float8)(0.0f), d * d, clvae_lanes8(M - t));
    }
    part[lid] = clvae_sum8(acc);
    BN_TREE(part, lid, ls);
    if (lid == 0) {
        stats[so + ng] = mean;
        stats[so + N * G + ng] = 1.0f / sqrt(part[0] / (float)M + eps);
    }
}

/* y = (x - mean_ng) * invstd_ng * gamma_c + beta_c; a row kernel over the N*C rows. */
__kernel void gn_apply(__global float *y, uint yo, __global const float *x, uint xo,
                       __global const float *stats, uint so, __global const float *gamma,
                       uint go, __global const float *beta, uint bo, uint N, uint C, uint G,
                       uint HW)
{
    ROW_SPAN(HW, N * C);
    uint n = r / C;
    uint c = r - n * C;
    uint ng = n * G + c / (C / G);
    float mean = stats[so + ng], inv = stats[so + N * G + ng];
    float g = gamma[go + c], b = beta[bo + c];
    for (uint i = r * HW + s0; i < r * HW + s1; i++)
        y[yo + i] = (x[xo + i] - mean) * inv * g + b;
}

/* Group (n, g) = group id: s1 = sum dy * gamma, s2 = sum dy * gamma * xhat over its M values,
 * into sums [2 N G] (offset uo; the s1 [N, G], then the s2 [N, G]) for gn_backward_data. The
 * group's CG channels are cut into blocks of 8 pixels (the last of a channel shorter): work
 * item lid sums blocks lid, lid + ls, ... as eight lanes, then its lanes in order, then the tree. */
__kernel void gn_backward_sums(__global float *sums, uint uo, __global const float *dy, uint dyo,
                               __global const float *x, uint xo, __global const float *stats,
                               uint so, __global const float *gamma, uint go, uint N, uint G,
                               uint HW, uint M)
{
    __local float part[CLVAE_WGS];
    uint ng = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0);
    uint ls = (uint)get_local_size(0);
    uint g = ng - (ng / G) * G;
    uint CG = M / HW;
    uint c0 = g * CG;           /* the group's first channel */
    uint base = ng * M;
    float mean = stats[so + ng], inv = stats[so + N * G + ng];
    uint nbk = (HW + 7u) / 8u;  /* blocks per channel */
    float8 a1 = (float8)(0.0f), a2 = (float8)(0.0f);
    for (uint q = lid; q < CG * nbk; q += ls) {
        uint cc = q / nbk;
        uint p0 = (q - cc * nbk) * 8u;
        uint o = base + cc * HW + p0;
        float8 d = clvae_load8(dy + dyo + o, HW - p0) * gamma[go + c0 + cc];
        a1 += d;
        a2 += d * (clvae_load8(x + xo + o, HW - p0) - mean) * inv; /* lanes past HW: d = 0 */
    }
    part[lid] = clvae_sum8(a1);
    BN_TREE(part, lid, ls);
    float s1 = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    part[lid] = clvae_sum8(a2);
    BN_TREE(part, lid, ls);
    if (lid == 0) {
        sums[uo + ng] = s1;
        sums[uo + N * G + ng] = part[0];
    }
}

/* dx += invstd_ng * (dy * gamma_c - (s1_ng + xhat * s2_ng) / M). */
__kernel void gn_backward_data(__global float *dx, uint dxo, __global const float *dy, uint dyo,
                               __global const float *x, uint xo, __global const float *stats,
                               uint so, __global const float *sums, uint uo,
                               __global const float *gamma, uint go, uint N, uint C, uint G,
                               uint HW)
{
    ROW_SPAN(HW, N * C);
    uint n = r / C;
    uint c = r - n * C;
    uint CG = C / G;
    uint ng = n * G + c / CG;
    float inv = stats[so + N * G + ng], mean = stats[so + ng], g = gamma[go + c];
    float u1 = sums[uo + ng], u2 = sums[uo + N * G + ng];
    float rm = 1.0f / (float)(CG * HW);
    /* eight values at a time (vector loads and maths; the last block of the chunk shorter) */
    for (uint i = r * HW + s0; i < r * HW + s1; i += 8u) {
        uint n = min(r * HW + s1 - i, 8u);
        float8 xhat = (clvae_load8(x + xo + i, n) - mean) * inv;
        float8 v = inv * (clvae_load8(dy + dyo + i, n) * g - (u1 + xhat * u2) * rm);
        __global float *p = dx + dxo + i;
        if (n == 8u) {
            vstore8(vload8(0, p) + v, 0, p);
        } else {
            float t[8];
            vstore8(v, 0, t);
            for (uint l = 0; l < n; l++) p[l] += t[l];
        }
    }
}

/* Channel c = group id: ADDS sum dy (over its N*HW values, example by example) to dbeta [C] and
 * sum dy * xhat to dgamma [C], xhat with the statistics of (n, c's group). Work item lid sums
 * blocks of 8 pixels starting at 8 lid, 8 (lid + ls), ... of each example in turn as eight lanes
 * (ls at most HW / 8 rounded up to a power of two: see clvae_groupnorm_backward), then its lanes
 * in order, then the tree. */
__kernel void gn_backward_params(__global float *dgamma, uint dgo, __global float *dbeta,
                                 uint dbo, __global const float *dy, uint dyo,
                                 __global const float *x, uint xo, __global const float *stats,
                                 uint so, uint N, uint C, uint G, uint HW)
{
    __local float part[CLVAE_WGS];
    uint c = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0);
    uint ls = (uint)get_local_size(0);
    uint g = c / (C / G);
    float8 a1 = (float8)(0.0f), a2 = (float8)(0.0f);
    for (uint e = 0; e < N; e++) {
        uint ng = e * G + g;
        float mean = stats[so + ng], inv = stats[so + N * G + ng];
        uint base = (e * C + c) * HW;
        for (uint p = 8u * lid; p < HW; p += 8u * ls) {
            float8 d = clvae_load8(dy + dyo + base + p, HW - p);
            a1 += d;
            a2 += d * (clvae_load8(x + xo + base + p, HW - p) - mean) * inv; /* past HW: d = 0 */
        }
    }
    part[lid] = clvae_sum8(a1);
    BN_TREE(part, lid, ls);
    float s1 = part[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    part[lid] = clvae_sum8(a2);
    BN_TREE(part, lid, ls);
    if (lid == 0) {
        dbeta[dbo + c] += s1;
        dgamma[dgo + c] += part[0];
    }
}
