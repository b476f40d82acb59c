/* Plain-C references in double of cl/spatial.cl: nearest upsampling, a per-channel vector added over the pixels. */
#include "ref.h"

void clvae_upsample_forward_ref(double *y, const double *x, size_t F, size_t N, size_t C,
                                size_t H, size_t W)
{
    size_t OH = F * H, OW = F * W;
    for (size_t nc = 0; nc < N * C; nc++)
        for (size_t oy = 0; oy < OH; oy++)
            for (size_t ox = 0; ox < OW; ox++)
                y[(nc * OH + oy) * OW + ox] = x[(nc * H + oy / F) * W + ox / F];
}

void clvae_upsample_backward_ref(double *dx, const double *dy, size_t F, size_t N, size_t C,
                                 size_t H, size_t W)
{
    size_t OH = F * H, OW = F * W;
    for (size_t nc = 0; nc < N * C; nc++)
        for (size_t oy = 0; oy < OH; oy++)
            for (size_t ox = 0; ox < OW; ox++)
                dx[(nc * H + oy / F) * W + ox / F] += dy[(nc * OH + oy) * OW + ox];
}

void clvae_channel_add_forward_ref(double *y, const double *x, const double *v, size_t N,
                                   size_t C, size_t HW)
{
    for (size_t nc = 0; nc < N * C; nc++)
        for (size_t p = 0; p < HW; p++) y[nc * HW + p] = x[nc * HW + p] + v[nc];
}

void clvae_channel_add_backward_ref(double *dv, const double *dy, size_t N, size_t C, size_t HW)
{
    for (size_t nc = 0; nc < N * C; nc++)
        for (size_t p = 0; p < HW; p++) dv[nc] += dy[nc * HW + p];
}
