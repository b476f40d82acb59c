/* Dense-layer helper kernels (the products themselves go through CLBlast). */

/* y[n, o] = b[o] for the n = N*out elements of y [N, out] (the bias, before y += x W^T) */
__kernel void dense_bias_fill(__global float *y, uint y_off, __global const float *b,
                              uint b_off, uint out, uint n)
{
    uint i = CLVAE_GID0;
    if (i < n) y[y_off + i] = b[b_off + i % out];
}
