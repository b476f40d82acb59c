/* Layer kinds [input] (the batch the caller fills) and the implicit label layer of a conditional model. */
#include "clvae/ops/concat.h"
#include "net/layer.h"

static clvae_status_t resolve_input(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                    clvae_error_t *err)
{
    clvae_status_t st;
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "channels", 1, 4096, 1, &L->out_c, err)) ||
        (st = clvae_cfg_get_size(r->cfg, r->s, "height", 1, 16384, 1, &L->out_h, err)) ||
        (st = clvae_cfg_get_size(r->cfg, r->s, "width", 1, 16384, 1, &L->out_w, err)))
        return st;
    L->in_c = L->out_c;
    L->in_h = L->out_h;
    L->in_w = L->out_w;
    return CLVAE_OK;
}

/* [model] conditional = K: the input's channels, then K one-hot label channels (labels from
 * the net's labels buffer); the labels get no gradient. */
static clvae_status_t resolve_labels(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                     clvae_error_t *err)
{
    (void)err;
    L->out_c = L->in_c + r->m->conditional;
    L->out_h = L->in_h;
    L->out_w = L->in_w;
    L->flat = r->in[0]->flat;
    return CLVAE_OK;
}

static clvae_status_t labels_forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_label_concat_forward(net->ctx, net->pre[i], clvae_net_in(net, i, 0), net->labels,
                                      net->B, L->in_c, L->in_h, L->in_w, net->d->conditional, err);
}

static clvae_status_t labels_backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_label_concat_backward(net->ctx, clvae_net_din(net, i, 0), net->dpre[i], net->B,
                                       L->in_c, L->in_h, L->in_w, net->d->conditional, err);
}

static clvae_status_t nothing(clvae_net_t *net, int i, clvae_error_t *err)
{
    (void)net;
    (void)i;
    (void)err;
    return CLVAE_OK;
}

static const char *const input_keys[] = {"channels", "height", "width", NULL};
static const char *const no_keys[] = {NULL};

const clvae_layer_kind_ops_t clvae_layer_input_ops = {
    .name = "input", .keys = input_keys, .max_from = 0, .resolve = resolve_input,
    .forward = nothing, .backward = nothing,
};
const clvae_layer_kind_ops_t clvae_layer_labels_ops = {
    .name = "labels", .keys = no_keys, .max_from = 1, .resolve = resolve_labels,
    .forward = labels_forward, .backward = labels_backward,
};
