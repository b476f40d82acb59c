/* Layer kinds [concat] (inputs joined along channels) and [add] (the sum of inputs of one shape, or
 * of a map and per-channel vectors added to each of its pixels). */
#include "clvae/ops/basic.h"
#include "clvae/ops/concat.h"
#include "clvae/ops/spatial.h"
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

/* An [add] input that is broadcast over the pixels of the first: a 1 x 1 layer (a flat vector)
 * added to a map of more than one pixel. */
static int is_broadcast(const clvae_layer_t *map, const clvae_layer_t *in)
{
    return in->out_h == 1 && in->out_w == 1 && map->out_h * map->out_w > 1;
}

/* from = a, b, ...: inputs of a's shape, or vectors of a's C values (a flat layer of C units)
 * added to every pixel of a's C x H x W map, channel by channel. */
static clvae_status_t resolve_add(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                  clvae_error_t *err)
{
    clvae_status_t st = need_two(r, err);
    if (st) return st;
    for (int k = 1; k < r->nin; k++) {
        const clvae_layer_t *a = r->in[0], *b = r->in[k];
        if (is_broadcast(a, b)) {
            if (b->out_c == a->out_c) continue;
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s adds the flat input '%s' to every pixel of '%s' (%zux%zux%zu), "
                              "so it must have exactly %zu values, one per channel, but it has "
                              "%zu",
                              r->where, b->name, a->name, a->out_c, a->out_h, a->out_w, a->out_c,
                              b->out_c);
        }
        if (is_broadcast(b, a))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s adds '%s' (%zux%zux%zu) to every pixel of '%s' "
                              "(%zux%zux%zu): name the map first, from = map, vector",
                              r->where, a->name, a->out_c, a->out_h, a->out_w, b->name, b->out_c,
                              b->out_h, b->out_w);
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

/* Input k of layer i is a vector broadcast over the pixels of its first input. */
static int input_is_broadcast(const clvae_net_t *net, int i, int k)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return k > 0 && is_broadcast(&net->d->layers[L->from[0]], &net->d->layers[L->from[k]]);
}

static clvae_map_shape_t map_shape(const clvae_net_t *net, const clvae_layer_t *L)
{
    clvae_map_shape_t sh = {net->B, L->out_c, L->out_h, L->out_w};
    return sh;
}

static clvae_status_t add_forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t n = net->B * clvae_layer_size(L);
    clvae_buf_t y = net->pre[i], a = clvae_net_in(net, i, 0);
    for (int k = 1; k < L->nfrom; k++) {
        clvae_buf_t b = clvae_net_in(net, i, k);
        clvae_status_t s =
            input_is_broadcast(net, i, k)
                ? clvae_channel_add_forward(net->ctx, y, a, b, map_shape(net, L), err)
                : clvae_add_forward(net->ctx, y.mem, y.off, a.mem, a.off, b.mem, b.off, n, err);
        if (s) return s;
        a = y;
    }
    return CLVAE_OK;
}

/* Each input's gradient += the output's, a broadcast vector's += its sum over the pixels (in
 * input order, so the sum is reproducible). */
static clvae_status_t add_backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t n = net->B * clvae_layer_size(L);
    clvae_buf_t dy = net->dpre[i];
    for (int k = 0; k < L->nfrom; k++) {
        clvae_buf_t d = clvae_net_din(net, i, k);
        if (!d.mem) continue;
        clvae_status_t s =
            input_is_broadcast(net, i, k)
                ? clvae_channel_add_backward(net->ctx, d, dy, map_shape(net, L), err)
                : clvae_add_forward(net->ctx, d.mem, d.off, d.mem, d.off, dy.mem, dy.off, n, err);
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
