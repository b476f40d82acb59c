/* Plain-C references in double of cl/concat.cl: label channels joined to a tensor, one-hot rows. */
#include "ref.h"

#include <math.h>

/* The class of label y, or K when y is not an integer in 0..K-1 (the kernels' rule). */
static size_t ref_class(double y, size_t K)
{
    return (y >= 0.0 && y < (double)K && y == floor(y)) ? (size_t)y : K;
}

void clvae_label_concat_forward_ref(double *out, const double *in, const double *labels,
                                    size_t N, size_t C, size_t H, size_t W, size_t K)
{
    size_t hw = H * W;
    for (size_t n = 0; n < N; n++) {
        double *o = out + n * (C + K) * hw;
        for (size_t i = 0; i < C * hw; i++) o[i] = in[n * C * hw + i];
        size_t cls = ref_class(labels[n], K);
        for (size_t k = 0; k < K; k++)
            for (size_t s = 0; s < hw; s++) o[(C + k) * hw + s] = k == cls ? 1.0 : 0.0;
    }
}

void clvae_label_concat_backward_ref(double *din, const double *dout, size_t N, size_t C,
                                     size_t H, size_t W, size_t K)
{
    size_t hw = H * W;
    for (size_t n = 0; n < N; n++)
        for (size_t i = 0; i < C * hw; i++) din[n * C * hw + i] += dout[n * (C + K) * hw + i];
}

void clvae_onehot_ref(double *out, const double *labels, size_t N, size_t K)
{
    for (size_t n = 0; n < N; n++) {
        size_t cls = ref_class(labels[n], K);
        for (size_t k = 0; k < K; k++) out[n * K + k] = k == cls ? 1.0 : 0.0;
    }
}

void clvae_channel_slice_ref(double *dst, size_t dst_C, size_t dst_c0, const double *src,
                             size_t src_C, size_t src_c0, size_t C, size_t N, size_t HW,
                             int accumulate)
{
    for (size_t n = 0; n < N; n++)
        for (size_t c = 0; c < C; c++)
            for (size_t s = 0; s < HW; s++) {
                double v = src[(n * src_C + src_c0 + c) * HW + s];
                double *d = &dst[(n * dst_C + dst_c0 + c) * HW + s];
                *d = accumulate ? *d + v : v;
            }
}
