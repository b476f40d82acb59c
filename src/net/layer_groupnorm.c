/* Layer kind [groupnorm]: group normalization per example and group of channels of a conv map (or
 * of a flat output's units), affine weight and bias per channel (PyTorch's nn.GroupNorm). */
#include <stdio.h>

#include "clvae/ops/norm.h"
#include "net/layer.h"

/* aux buffers, [2G] per example each: the statistics the forward used (means, then 1/std),
 * the backward's sums */
enum { STATS, SUMS };

static clvae_gn_shape_t shape_of(const clvae_layer_t *L, size_t B)
{
    clvae_gn_shape_t sh = {B, L->in_c, L->groups, L->in_h * L->in_w};
    return sh;
}

static clvae_status_t resolve(clvae_layer_t *L, const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    clvae_status_t st;
    L->norm_eps = 1e-5f;
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "groups", 1, 65536, 1, &L->groups, err)) ||
        (st = clvae_cfg_get_float(r->cfg, r->s, "eps", 1e-12, 1.0, &L->norm_eps, err)) ||
        (st = clvae_cfg_get_act(r->cfg, r->s, L, err)))
        return st;
    if (L->in_c % L->groups != 0) {
        char what[160];
        snprintf(what, sizeof what, "the %zu channels of '%s' do not split into %zu groups "
                 "(the groups must divide the channels)", L->in_c, r->in[0]->name, L->groups);
        return clvae_cfg_bad_value(err, r->cfg, r->s, clvae_cfg_find_entry(r->s, "groups"),
                                   what);
    }
    L->out_c = L->in_c;
    L->out_h = L->in_h;
    L->out_w = L->in_w;
    L->flat = r->in[0]->flat;
    L->units = L->flat ? L->in_c : 0;
    L->bias = 1;
    L->w_len = L->in_c; /* weight (gamma) [C], bias (beta) [C] */
    L->flops = 8.0 * (double)clvae_layer_in_size(L);
    return CLVAE_OK;
}

static int weight_shape(const clvae_layer_t *L, uint64_t shape[4])
{
    shape[0] = L->in_c;
    return 1;
}

static size_t aux_size(const clvae_layer_t *L, const clvae_model_desc_t *d, int k, size_t *fixed)
{
    (void)d;
    *fixed = 0;
    return k <= SUMS ? 2 * L->groups : 0;
}

/* weight = 1 (bias stays 0), as PyTorch starts them. */
static void init(const clvae_layer_t *L, float *params, float *state, uint64_t seed)
{
    (void)state;
    (void)seed;
    for (size_t c = 0; c < L->in_c; c++) params[L->w_off + c] = 1.0f;
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_gn_shape_t sh = shape_of(L, net->B);
    clvae_buf_t x = clvae_net_in(net, i, 0), stats = net->aux[i][STATS];
    clvae_status_t s = clvae_groupnorm_stats(net->ctx, stats, x, L->norm_eps, sh, err);
    if (s) return s;
    return clvae_groupnorm_apply(net->ctx, net->pre[i], x, stats,
                                 clvae_net_weight(net, net->params, i),
                                 clvae_net_bias(net, net->params, i), sh, err);
}

static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_groupnorm_backward(net->ctx, clvae_net_din(net, i, 0),
                                    clvae_net_weight(net, net->grads, i),
                                    clvae_net_bias(net, net->grads, i), net->aux[i][SUMS],
                                    net->dpre[i], clvae_net_in(net, i, 0), net->aux[i][STATS],
                                    clvae_net_weight(net, net->params, i), shape_of(L, net->B),
                                    err);
}

static const char *const keys[] = {"groups", "eps", "activation", "slope", NULL};

const clvae_layer_kind_ops_t clvae_layer_groupnorm_ops = {
    .name = "groupnorm", .keys = keys, .max_from = 1, .resolve = resolve,
    .weight_shape = weight_shape, .aux_size = aux_size, .init = init, .forward = forward,
    .backward = backward,
};
