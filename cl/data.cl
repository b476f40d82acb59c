/* Dataset batches on the device: gather examples by index and scale their bytes to floats. */

/* out[b * dim + k] = pix[idx[b] * dim + k] * scale for g = b * dim + k < count; an index
 * idx[b] >= n leaves its row of out untouched (the host checks indices on upload). */
__kernel void data_gather(__global float *out, uint out_off, __global const uchar *pix,
                          uint pix_off, __global const uint *idx, uint idx_off, uint dim, uint n,
                          uint count, float scale)
{
    uint g = CLVAE_GID0;
    if (g >= count) return;
    uint b = g / dim, k = g - b * dim;
    uint e = idx[idx_off + b];
    if (e >= n) return;
    out[out_off + g] = (float)pix[pix_off + e * dim + k] * scale;
}
