/* Layer kind [time_embed]: the sinusoidal features of each example's time step t (the net's times
 * buffer) as a flat vector, followed in a conditional diffusion model by the one-hot of the
 * example's label (the net's labels buffer; the null class K: all zero); it reads no layer. */
#include "clvae/ops/embed.h"
#include "net/layer.h"

/* dim = D (even), max_period (10000). No from: its input is the data in clvae_net_times, as
 * [input]'s is the batch; the layers after it read it by default or by name. */
static clvae_status_t resolve(clvae_layer_t *L, const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    clvae_status_t st;
    L->embed_max_period = 10000.0f;
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "dim", 2, 65536, 1, &L->units, err)) ||
        (st = clvae_cfg_get_float(r->cfg, r->s, "max_period", 1.0001, 1e9, &L->embed_max_period,
                                  err)))
        return st;
    if (L->units % 2 != 0)
        return clvae_cfg_bad_value(err, r->cfg, r->s, clvae_cfg_find_entry(r->s, "dim"),
                                   "must be even (a sin and a cos per frequency)");
    /* a conditional diffusion model's label enters here: its one-hot after the features */
    L->out_c = L->units + (r->m->ddpm ? r->m->conditional : 0);
    L->out_h = L->out_w = 1;
    L->flat = 1;
    L->flops = 4.0 * (double)L->units;
    return CLVAE_OK;
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_time_embed_label_forward(net->ctx, net->pre[i], net->times, net->labels, net->B,
                                          L->units, L->out_c - L->units, L->embed_max_period,
                                          err);
}

/* t is data: no gradient goes anywhere. */
static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    (void)net;
    (void)i;
    (void)err;
    return CLVAE_OK;
}

static const char *const keys[] = {"dim", "max_period", NULL};

const clvae_layer_kind_ops_t clvae_layer_time_embed_ops = {
    .name = "time_embed", .keys = keys, .max_from = 0, .resolve = resolve, .forward = forward,
    .backward = backward,
};
