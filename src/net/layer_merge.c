/* Layer kinds [concat] (inputs joined along channels) and [add] (the sum of inputs of one shape). */
#include "clvae/ops/basic.h"
#include "clvae/ops/concat.h"
#include "net/layer.h"

static clvae_status_t need_two(const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    if (r->nin >= 2) return CLVAE_OK;
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                      "%s needs at least two inputs: from = a, b (names of earlier layers)",
                      r->where);
}

static clvae_status_t resolve_concat(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                     clvae_error_t *err)
{
    clvae_status_t st = need_two(r, err);
    if (st) return st;
    size_t c = 0;
    for (int k = 0; k < r->nin; k++) {
        const clvae_layer_t *in = r->in[k];
        if (in->out_h != r->in[0]->out_h || in->out_w != r->in[0]->out_w)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s joins along channels inputs of one height and width, but '%s' "
                              "is %zux%zux%zu and '%s' is %zux%zux%zu",
                              r->where, r->in[0]->name, r->in[0]->out_c, r->in[0]->out_h,
                              r->in[0]->out_w, in->name, in->out_c, in->out_h, in->out_w);
        c += in->out_c;
    }
    L->out_c = L->in_c = c;
    L->out_h = r->in[0]->out_h;
    L->out_w = r->in[0]->out_w;
    L->flat = r->in[0]->flat && L->out_h == 1 && L->out_w == 1;
    return CLVAE_OK;
}

static clvae_status_t resolve_add(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                  clvae_error_t *err)
{
    clvae_status_t st = need_two(r, err);
    if (st) return st;
    for (int k = 1; k < r->nin; k++) {
        const clvae_layer_t *a = r->in[0], *b = r->in[k];
        if (a->out_c != b->out_c || a->out_h != b->out_h || a->out_w != b->out_w)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s adds inputs of one shape, but '%s' is %zux%zux%zu and '%s' is "
                              "%zux%zux%zu",
                              r->where, a->name, a->out_c, a->out_h, a->out_w, b->name, b->out_c,
                              b->out_h, b->out_w);
    }
    L->out_c = r->in[0]->out_c;
    L->out_h = r->in[0]->out_h;
    L->out_w = r->in[0]->out_w;
    L->flat = r->in[0]->flat;
    L->flops = (double)(r->nin - 1) * (double)clvae_layer_size(L);
    return clvae_cfg_get_act(r->cfg, r->s, L, err);
}

static clvae_status_t concat_forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t hw = L->out_h * L->out_w, c0 = 0;
    for (int k = 0; k < L->nfrom; k++) {
        size_t c = net->d->layers[L->from[k]].out_c;
        clvae_status_t s = clvae_channel_slice(net->ctx, net->pre[i], L->out_c, c0,
                                               clvae_net_in(net, i, k), c, 0, c, net->B, hw, 0,
                                               err);
        if (s) return s;
        c0 += c;
    }
    return CLVAE_OK;
}

static clvae_status_t concat_backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t hw = L->out_h * L->out_w, c0 = 0;
    for (int k = 0; k < L->nfrom; k++) {
        size_t c = net->d->layers[L->from[k]].out_c;
        clvae_buf_t din = clvae_net_din(net, i, k);
        if (din.mem) {
            clvae_status_t s = clvae_channel_slice(net->ctx, din, c, 0, net->dpre[i], L->out_c,
                                                   c0, c, net->B, hw, 1, err);
            if (s) return s;
        }
        c0 += c;
    }
    return CLVAE_OK;
}

static clvae_status_t add_forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t n = net->B * clvae_layer_size(L);
    clvae_buf_t y = net->pre[i], a = clvae_net_in(net, i, 0);
    for (int k = 1; k < L->nfrom; k++) {
        clvae_buf_t b = clvae_net_in(net, i, k);
        clvae_status_t s = clvae_add_forward(net->ctx, y.mem, y.off, a.mem, a.off, b.mem, b.off,
                                             n, err);
        if (s) return s;
        a = y;
    }
    return CLVAE_OK;
}

/* Each input's gradient += the output's (in input order, so the sum is reproducible). */
static clvae_status_t add_backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t n = net->B * clvae_layer_size(L);
    clvae_buf_t dy = net->dpre[i];
    for (int k = 0; k < L->nfrom; k++) {
        clvae_buf_t d = clvae_net_din(net, i, k);
        if (!d.mem) continue;
        clvae_status_t s = clvae_add_forward(net->ctx, d.mem, d.off, d.mem, d.off, dy.mem, dy.off,
                                             n, err);
        if (s) return s;
    }
    return CLVAE_OK;
}

static const char *const concat_keys[] = {NULL};
static const char *const add_keys[] = {"activation", "slope", NULL};

const clvae_layer_kind_ops_t clvae_layer_concat_ops = {
    .name = "concat", .keys = concat_keys, .max_from = CLVAE_LAYER_MAX_FROM,
    .resolve = resolve_concat, .forward = concat_forward, .backward = concat_backward,
};
const clvae_layer_kind_ops_t clvae_layer_add_ops = {
    .name = "add", .keys = add_keys, .max_from = CLVAE_LAYER_MAX_FROM, .resolve = resolve_add,
    .forward = add_forward, .backward = add_backward,
};
