/* Vector quantization (cl/vq.cl): nearest codes, quantized maps, straight-through and codebook
 * gradients, the codebook's moving averages and dead-code restarts. */

/* Layout (include/clvae/ops/vq.h): z, q [N, D, P] channel-first; rows [N*P, D] (row r = n*P + p);
 * codes [N*P] code indices as floats; codebook [K, D]; dots [N*P, K]. Every sum runs in a
 * fixed order in one work item, so results are bit-identical between runs. */

/* rows[n*P + p, d] = z[n, d, p]: each position's vector, contiguous for the GEMM. */
__kernel void vq_rows(__global float *rows, uint rows_off, __global const float *z, uint z_off,
                      uint D, uint P, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    /* quotients and remainders by multiplication: a div/rem pair becomes LLVM's freeze, an
     * instruction Oclgrind's uninitialized-value checker cannot run */
    uint r = i / D, d = i - r * D;
    uint n = r / P, p = r - n * P;
    rows[rows_off + i] = z[z_off + (n * D + d) * P + p];
}

/* norms[k] = ||E_k||^2 (sum in order of d). */
__kernel void vq_norms(__global float *norms, uint norms_off, __global const float *E, uint E_off,
                       uint D, uint K)
{
    uint k = CLVAE_GID0;
    if (k >= K) return;
    float s = 0.0f;
    for (uint d = 0; d < D; d++) {
        float e = E[E_off + k * D + d];
        s += e * e;
    }
    norms[norms_off + k] = s;
}

/* codes[r] = argmin_k ||E_k||^2 - 2 dots[r, k] (the row's own ||z||^2 is the same for every k,
 * so it is left out of the comparison); ties and NaN go to the lowest index. */
__kernel void vq_argmin(__global float *codes, uint codes_off, __global const float *dots,
                        uint dots_off, __global const float *norms, uint norms_off, uint K,
                        uint R)
{
    uint r = CLVAE_GID0;
    if (r >= R) return;
    uint best = 0;
    float bd = INFINITY;
    for (uint k = 0; k < K; k++) {
        float dist = norms[norms_off + k] - 2.0f * dots[dots_off + r * K + k];
        if (dist < bd) {
            bd = dist;
            best = k;
        }
    }
    codes[codes_off + r] = (float)best;
}

/* q[n, d, p] = E[codes[n*P + p], d]; an invalid code gives 0. */
__kernel void vq_embed(__global float *q, uint q_off, __global const float *codes, uint codes_off,
                       __global const float *E, uint E_off, uint D, uint P, uint K, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    uint t = i / P, p = i - t * P, n = t / D, d = t - n * D; /* no div/rem pairs: vq_rows */
    uint c = label_class(codes[codes_off + n * P + p], K);
    q[q_off + i] = c < K ? E[E_off + c * D + d] : 0.0f;
}

/* term[n] = sum_{d, p} (z - q)^2 of example n, in order of d then p. */
__kernel void vq_term(__global float *term, uint term_off, __global const float *z, uint z_off,
                      __global const float *q, uint q_off, uint S, uint N)
{
    uint n = CLVAE_GID0;
    if (n >= N) return;
    float s = 0.0f;
    for (uint j = 0; j < S; j++) {
        float e = z[z_off + n * S + j] - q[q_off + n * S + j];
        s += e * e;
    }
    term[term_off + n] = s;
}

/* dz += dq + c (z - q): the straight-through gradient and the commitment term's
 * (c = 2 beta scale). */
__kernel void vq_backward(__global float *dz, uint dz_off, __global const float *dq, uint dq_off,
                          __global const float *z, uint z_off, __global const float *q,
                          uint q_off, float c, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    dz[dz_off + i] += dq[dq_off + i] + c * (z[z_off + i] - q[q_off + i]);
}

/* counts[k] = rows assigned to code k; sums[k, d] = the sum of their values (in row order). */
__kernel void vq_counts(__global float *counts, uint counts_off, __global float *sums,
                        uint sums_off, __global const float *rows, uint rows_off,
                        __global const float *codes, uint codes_off, uint D, uint K, uint R)
{
    uint i = CLVAE_GID0;
    if (i >= K * D) return;
    uint k = i / D, d = i - k * D; /* no div/rem pair: vq_rows */
    float n = 0.0f, s = 0.0f;
    for (uint r = 0; r < R; r++) {
        if (codes[codes_off + r] == (float)k) {
            n += 1.0f;
            s += rows[rows_off + r * D + d];
        }
    }
    sums[sums_off + i] = s;
    if (d == 0) counts[counts_off + k] = n;
}

/* dE[k, d] += c * (counts[k] E[k, d] - sums[k, d]): the codebook term's gradient
 * (c = 2 scale), from the counts and sums of vq_counts. */
__kernel void vq_codebook_grad(__global float *dE, uint dE_off, __global const float *E,
                               uint E_off, __global const float *counts, uint counts_off,
                               __global const float *sums, uint sums_off, float c, uint D,
                               uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    uint k = i / D;
    dE[dE_off + i] += c * (counts[counts_off + k] * E[E_off + i] - sums[sums_off + i]);
}

/* The moving averages: cluster[k] = decay cluster[k] + (1 - decay) counts[k], the same for
 * avg[k, d] with sums; one work item per code. */
__kernel void vq_ema_average(__global float *cluster, uint cluster_off, __global float *avg,
                             uint avg_off, __global const float *counts, uint counts_off,
                             __global const float *sums, uint sums_off, float decay, uint D,
                             uint K)
{
    uint k = CLVAE_GID0;
    if (k >= K) return;
    float a = 1.0f - decay;
    cluster[cluster_off + k] = decay * cluster[cluster_off + k] + a * counts[counts_off + k];
    for (uint d = 0; d < D; d++) {
        uint j = k * D + d;
        avg[avg_off + j] = decay * avg[avg_off + j] + a * sums[sums_off + j];
    }
}

/* E[k, d] = avg[k, d] / ((cluster[k] + eps) / (n + K eps) n), n = sum_k cluster[k] (summed in
 * order by every item): the Laplace-smoothed cluster sizes. */
__kernel void vq_ema_codebook(__global float *E, uint E_off, __global const float *cluster,
                              uint cluster_off, __global const float *avg, uint avg_off,
                              float eps, uint D, uint K)
{
    uint i = CLVAE_GID0;
    if (i >= K * D) return;
    uint k = i / D;
    float n = 0.0f;
    for (uint j = 0; j < K; j++) n += cluster[cluster_off + j];
    float size = (cluster[cluster_off + k] + eps) / (n + (float)K * eps) * n;
    E[E_off + i] = avg[avg_off + i] / size;
}

/* Dead codes: unused[k] counts the steps since code k was last assigned; at `after` steps the
 * code restarts from row floor(u R) of this batch (u: uniform element k of the stream (seed,
 * offset)), its cluster size to 1 and its average to that row (ema: cluster has a buffer),
 * and flags[k] = 1 (else 0). One work item per code. */
__kernel void vq_restart(__global float *E, uint E_off, __global float *cluster, uint cluster_off,
                         __global float *avg, uint avg_off, __global float *unused,
                         uint unused_off, __global float *flags, uint flags_off,
                         __global const float *counts, uint counts_off,
                         __global const float *rows, uint rows_off, uint ema, float after,
                         ulong seed, ulong offset, uint D, uint K, uint R)
{
    uint k = CLVAE_GID0;
    if (k >= K) return;
    float u = counts[counts_off + k] > 0.0f ? 0.0f : unused[unused_off + k] + 1.0f;
    uint restart = u >= after;
    flags[flags_off + k] = restart ? 1.0f : 0.0f;
    unused[unused_off + k] = restart ? 0.0f : u;
    if (!restart) return;
    float x = rng_uniform_at(seed, offset, k);
    uint r = (uint)(x * (float)R);
    if (r >= R) r = R - 1u;
    for (uint d = 0; d < D; d++) {
        float v = rows[rows_off + r * D + d];
        E[E_off + k * D + d] = v;
        if (ema) avg[avg_off + k * D + d] = v;
    }
    if (ema) cluster[cluster_off + k] = 1.0f;
}

/* out[0] = perplexity exp(-sum p log p) of the code use p = counts / R, out[1] = codes in use,
 * out[2] = codes restarted (the sum of flags; 0 without them). One work item, sums in order
 * of k. */
__kernel void vq_stats(__global float *out, uint out_off, __global const float *counts,
                       uint counts_off, __global const float *flags, uint flags_off,
                       uint has_flags, uint K, uint R)
{
    if (CLVAE_GID0 != 0) return;
    float h = 0.0f, used = 0.0f, restarts = 0.0f;
    for (uint k = 0; k < K; k++) {
        float c = counts[counts_off + k];
        if (c > 0.0f) {
            float p = c / (float)R;
            h -= p * log(p);
            used += 1.0f;
        }
        if (has_flags) restarts += flags[flags_off + k];
    }
    out[out_off] = exp(h);
    out[out_off + 1] = used;
    out[out_off + 2] = restarts;
}
