/* Layer kinds [flatten] and [reshape]: views of their input's buffer (no work, no parameters). */
#include "net/layer.h"

static clvae_status_t resolve_flatten(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                      clvae_error_t *err)
{
    (void)r;
    (void)err;
    L->out_c = clvae_layer_in_size(L);
    L->out_h = L->out_w = 1;
    L->flat = 1;
    return CLVAE_OK;
}

static clvae_status_t resolve_reshape(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                      clvae_error_t *err)
{
    clvae_status_t st;
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "channels", 1, 1 << 24, 1, &L->out_c, err)) ||
        (st = clvae_cfg_get_size(r->cfg, r->s, "height", 1, 1 << 24, 1, &L->out_h, err)) ||
        (st = clvae_cfg_get_size(r->cfg, r->s, "width", 1, 1 << 24, 1, &L->out_w, err)))
        return st;
    size_t in = clvae_layer_in_size(L);
    if (clvae_cfg_mul_values(clvae_cfg_mul_values(L->out_c, L->out_h), L->out_w) != in)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s %zux%zux%zu = %.0f values, but its input has %zu",
                          r->where, L->out_c, L->out_h, L->out_w,
                          (double)L->out_c * (double)L->out_h * (double)L->out_w, in);
    L->flat = 0;
    return CLVAE_OK;
}

/* Views share their source's buffers: the net skips them in both passes. */
static clvae_status_t nothing(clvae_net_t *net, int i, clvae_error_t *err)
{
    (void)net;
    (void)i;
    (void)err;
    return CLVAE_OK;
}

static const char *const none[] = {NULL};
static const char *const shape_keys[] = {"channels", "height", "width", NULL};

const clvae_layer_kind_ops_t clvae_layer_flatten_ops = {
    .name = "flatten", .keys = none, .max_from = 1, .resolve = resolve_flatten,
    .forward = nothing, .backward = nothing,
};
const clvae_layer_kind_ops_t clvae_layer_reshape_ops = {
    .name = "reshape", .keys = shape_keys, .max_from = 1, .resolve = resolve_reshape,
    .forward = nothing, .backward = nothing,
};
