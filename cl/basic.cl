/* Elementwise basics: fill, add and copy. Every buffer argument has an element offset. */

/* x[off + i] = v for i < n */
__kernel void fill_f32(__global float *x, uint x_off, float v, uint n)
{
    uint i = CLVAE_GID0;
    if (i < n) x[x_off + i] = v;
}

/* y[i] = a[i] + b[i] for i < n */
__kernel void add_f32(__global float *y, uint y_off, __global const float *a, uint a_off,
                      __global const float *b, uint b_off, uint n)
{
    uint i = CLVAE_GID0;
    if (i < n) y[y_off + i] = a[a_off + i] + b[b_off + i];
}

/* y[i] = a * x[i] + b for i < n (in place when y and x are the same view) */
__kernel void affine_f32(__global float *y, uint y_off, __global const float *x, uint x_off,
                         float a, float b, uint n)
{
    uint i = CLVAE_GID0;
    if (i < n) y[y_off + i] = a * x[x_off + i] + b;
}

/* y[y_off + i] = x[x_off + i] for i < n: buffer copies and partial uploads on Oclgrind
 * (src/device/tensor.c) */
__kernel void copy_f32(__global float *y, uint y_off, __global const float *x, uint x_off, uint n)
{
    uint i = CLVAE_GID0;
    if (i < n) y[y_off + i] = x[x_off + i];
}

/* y[i] = m[i] != 0 ? a[i] : b[i] for i < n (bit-exact copies; y may be a or b): the known
 * pixels of inpainting put over the model's */
__kernel void select_f32(__global float *y, uint y_off, __global const float *m, uint m_off,
                         __global const float *a, uint a_off, __global const float *b, uint b_off,
                         uint n)
{
    uint i = CLVAE_GID0;
    if (i < n) y[y_off + i] = m[m_off + i] != 0.0f ? a[a_off + i] : b[b_off + i];
}
