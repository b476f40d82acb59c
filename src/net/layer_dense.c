/* Layer kind [dense]: a fully connected layer on a flat input (weights [units, inputs], bias, activation). */
#include "clvae/ops/dense.h"
#include "net/layer.h"

static clvae_status_t resolve(clvae_layer_t *L, const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    clvae_status_t st;
    if (!r->in[0]->flat)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s needs flat input but gets %zux%zux%zu: add a [flatten] before it",
                          r->where, L->in_c, L->in_h, L->in_w);
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "units", 1, 1 << 24, 1, &L->units, err)) ||
        (st = clvae_layer_get_bias_act(L, r, err)))
        return st;
    L->out_c = L->units;
    L->out_h = L->out_w = 1;
    L->flat = 1;
    L->w_len = clvae_cfg_mul_values(L->units, clvae_layer_in_size(L));
    L->flops = 2.0 * (double)L->w_len;
    return CLVAE_OK;
}

static void fans(const clvae_layer_t *L, double *fan_in, double *fan_out)
{
    *fan_in = (double)clvae_layer_in_size(L);
    *fan_out = (double)L->units;
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_dense_forward(net->ctx, net->pre[i], clvae_net_in(net, i, 0),
                               clvae_net_weight(net, net->params, i),
                               clvae_net_bias(net, net->params, i), net->B, clvae_layer_in_size(L),
                               L->units, err);
}

static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_dense_backward_dx_set(net->ctx, clvae_net_din(net, i, 0),
                                       clvae_net_din_set(net, i, 0),
                                       clvae_net_weight(net, net->grads, i),
                                       clvae_net_bias(net, net->grads, i), net->dpre[i],
                                       clvae_net_in(net, i, 0),
                                       clvae_net_weight(net, net->params, i), net->B,
                                       clvae_layer_in_size(L), L->units, err);
}

static const char *const keys[] = {"units", "bias", "activation", "slope", NULL};

const clvae_layer_kind_ops_t clvae_layer_dense_ops = {
    .name = "dense", .keys = keys, .max_from = 1, .resolve = resolve, .fans = fans,
    .forward = forward, .backward = backward, .sets_din = 1,
};
