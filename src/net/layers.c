/* The table of layer kinds (one entry per kind, each kind in its own src/net/layer_*.c) and their shared keys. */
#include <stddef.h>

#include "net/layer.h"

static const clvae_layer_kind_ops_t *const kinds[CLVAE_LAYER_KINDS] = {
    [CLVAE_LAYER_INPUT] = &clvae_layer_input_ops,     [CLVAE_LAYER_CONV] = &clvae_layer_conv_ops,
    [CLVAE_LAYER_DECONV] = &clvae_layer_deconv_ops,   [CLVAE_LAYER_DENSE] = &clvae_layer_dense_ops,
    [CLVAE_LAYER_FLATTEN] = &clvae_layer_flatten_ops,
    [CLVAE_LAYER_RESHAPE] = &clvae_layer_reshape_ops, [CLVAE_LAYER_LATENT] = &clvae_layer_latent_ops,
    [CLVAE_LAYER_CONCAT] = &clvae_layer_concat_ops,   [CLVAE_LAYER_ADD] = &clvae_layer_add_ops,
    [CLVAE_LAYER_LABELS] = &clvae_layer_labels_ops,   [CLVAE_LAYER_BATCHNORM] = &clvae_layer_batchnorm_ops,
    [CLVAE_LAYER_VQ] = &clvae_layer_vq_ops,           [CLVAE_LAYER_GROUPNORM] = &clvae_layer_groupnorm_ops,
    [CLVAE_LAYER_UPSAMPLE] = &clvae_layer_upsample_ops,
    [CLVAE_LAYER_TIME_EMBED] = &clvae_layer_time_embed_ops,
};

const clvae_layer_kind_ops_t *clvae_layer_kind(clvae_layer_kind_t k)
{
    return (unsigned)k < CLVAE_LAYER_KINDS ? kinds[k] : NULL;
}

const char *clvae_layer_kind_name(clvae_layer_kind_t k)
{
    const clvae_layer_kind_ops_t *ops = clvae_layer_kind(k);
    return ops ? ops->name : "?";
}

clvae_status_t clvae_layer_get_bias_act(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                        clvae_error_t *err)
{
    static const char *const bools[] = {"0", "1", NULL};
    int b = 1;
    clvae_status_t st;
    if ((st = clvae_cfg_get_word(r->cfg, r->s, "bias", bools, &b, err)) ||
        (st = clvae_cfg_get_act(r->cfg, r->s, L, err)))
        return st;
    L->bias = b;
    return CLVAE_OK;
}
