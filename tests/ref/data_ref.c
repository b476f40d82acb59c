/* Plain-C reference of the batch gather, for the tests. */
#include "ref.h"

void clvae_data_gather_ref(float *out, const clvae_dataset_t *d, const uint32_t *idx, size_t B)
{
    size_t dim = clvae_dataset_dim(d);
    for (size_t b = 0; b < B; b++) {
        if (idx[b] >= d->n) continue; /* as on the device: a no-op */
        const uint8_t *src = d->pixels + (size_t)idx[b] * dim;
        for (size_t k = 0; k < dim; k++) out[b * dim + k] = (float)src[k] * d->scale;
    }
}
