/* Layer kind [upsample]: nearest upsampling of a C x H x W map by an integer factor (no parameters). */
#include "clvae/ops/spatial.h"
#include "net/layer.h"

static clvae_map_shape_t shape_of(const clvae_layer_t *L, size_t B)
{
    clvae_map_shape_t sh = {B, L->in_c, L->in_h, L->in_w};
    return sh;
}

static clvae_status_t resolve(clvae_layer_t *L, const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    clvae_status_t st;
    L->up_factor = 2;
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "factor", 2, 16, 0, &L->up_factor, err)) ||
        (st = clvae_cfg_get_act(r->cfg, r->s, L, err)))
        return st;
    if (r->in[0]->flat)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s upsamples a C x H x W map, but '%s' is flat (%zu values): put a "
                          "[reshape] before it", r->where, r->in[0]->name,
                          clvae_layer_size(r->in[0]));
    L->out_c = L->in_c;
    L->out_h = clvae_cfg_mul_values(L->in_h, L->up_factor);
    L->out_w = clvae_cfg_mul_values(L->in_w, L->up_factor);
    L->flops = 0.0;
    return CLVAE_OK;
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_upsample_forward(net->ctx, net->pre[i], clvae_net_in(net, i, 0), L->up_factor,
                                  shape_of(L, net->B), err);
}

static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_buf_t din = clvae_net_din(net, i, 0);
    if (!din.mem) return CLVAE_OK;
    return clvae_upsample_backward(net->ctx, din, net->dpre[i], L->up_factor, shape_of(L, net->B),
                                   err);
}

static const char *const keys[] = {"factor", "activation", "slope", NULL};

const clvae_layer_kind_ops_t clvae_layer_upsample_ops = {
    .name = "upsample", .keys = keys, .max_from = 1, .resolve = resolve, .forward = forward,
    .backward = backward,
};
