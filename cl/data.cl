/* Dataset batches on the device: gather examples by index and scale their bytes to floats. */

/* out[b * dim + k] = pix[(idx[b] - lo) * dim + k] * scale for g = b * dim + k < count, for the
 * rows whose example idx[b] lies in [lo, hi): the examples that this buffer (one chunk of the
 * dataset) holds; other rows of out are left untouched, as is a row whose index is past the
 * dataset (the host checks indices on upload). */
__kernel void data_gather(__global float *out, uint out_off, __global const uchar *pix,
                          uint pix_off, __global const uint *idx, uint idx_off, uint dim, uint lo,
                          uint hi, uint count, float scale)
{
    uint g = CLVAE_GID0;
    if (g >= count) return;
    uint b = g / dim, k = g - b * dim;
    uint e = idx[idx_off + b];
    if (e < lo || e >= hi) return;
    out[out_off + g] = (float)pix[pix_off + (e - lo) * dim + k] * scale;
}
