/* Layer kinds [conv] and [deconv]: 2-d convolution and transposed convolution (weights, bias, activation). */
#include <stdio.h>
#include <string.h>

#include "clvae/ops/conv.h"
#include "net/layer.h"

/* Conv and deconv hyperparameters shared by both sections. */
static clvae_status_t conv_params(const clvae_layer_resolve_t *r, clvae_layer_t *L, int transposed,
                                  clvae_error_t *err)
{
    const clvae_cfg_t *cfg = r->cfg;
    const clvae_cfg_section_t *s = r->s;
    clvae_conv_params_t *p = &L->conv;
    memset(p, 0, sizeof *p);
    p->kh = p->kw = 3;
    p->sh = p->sw = p->dh = p->dw = 1;
    p->pad = CLVAE_CONV_PAD_SAME;
    clvae_status_t st;
    if ((st = clvae_cfg_get_pair(cfg, s, "size", 1, CLVAE_CONV_MAX_KERNEL, &p->kh, &p->kw, err)) ||
        (st = clvae_cfg_get_pair(cfg, s, "stride", 1, 64, &p->sh, &p->sw, err)) ||
        (st = clvae_cfg_get_pair(cfg, s, "dilation", 1, 64, &p->dh, &p->dw, err)))
        return st;
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, "padding");
    if (e && strcmp(e->value, "same") != 0) {
        p->pad = CLVAE_CONV_PAD_EXPLICIT;
        if (strcmp(e->value, "valid") != 0 &&
            (st = clvae_cfg_get_pair(cfg, s, "padding", 0, 64, &p->pad_h, &p->pad_w, err))) {
            clvae_error_clear(err);
            return clvae_cfg_bad_value(err, cfg, s, e,
                                       "must be same, valid, N or HxW (N from 0 to 64)");
        }
    }
    if (transposed) {
        if ((st = clvae_cfg_get_pair(cfg, s, "output_padding", 0, 63, &p->out_pad_h,
                                     &p->out_pad_w, err)))
            return st;
        if (clvae_cfg_find_entry(s, "output_padding") && p->pad == CLVAE_CONV_PAD_SAME)
            return clvae_cfg_bad_value(err, cfg, s, clvae_cfg_find_entry(s, "output_padding"),
                                       "output_padding needs explicit padding (padding = N), not "
                                       "same");
    }
    return CLVAE_OK;
}

/* [conv] mask = none | A | B. The mask cuts the kernel at its centre in raster order, which
 * makes output p read only inputs before (or at) p only when the kernel is centred on p: an
 * odd square kernel, stride 1, dilation 1 and 'same' padding. */
static clvae_status_t conv_mask(const clvae_layer_resolve_t *r, clvae_layer_t *L,
                                clvae_error_t *err)
{
    static const char *const words[] = {"none", "A", "B", NULL};
    int m = CLVAE_CONV_MASK_NONE;
    clvae_status_t st = clvae_cfg_get_word(r->cfg, r->s, "mask", words, &m, err);
    if (st || m == CLVAE_CONV_MASK_NONE) return st;
    const clvae_conv_params_t *p = &L->conv;
    char what[160] = "";
    if (p->kh != p->kw || p->kh % 2 == 0)
        snprintf(what, sizeof what, "a masked conv needs an odd square kernel (size = 3, 5 or "
                 "7), not %zux%zu", p->kh, p->kw);
    else if (p->kh == 1 && m == CLVAE_CONV_MASK_A)
        snprintf(what, sizeof what, "mask A keeps no tap of a 1x1 kernel (B keeps its one)");
    else if (p->sh != 1 || p->sw != 1)
        snprintf(what, sizeof what, "a masked conv needs stride 1, not %zux%zu", p->sh, p->sw);
    else if (p->dh != 1 || p->dw != 1)
        snprintf(what, sizeof what, "a masked conv needs dilation 1, not %zux%zu", p->dh, p->dw);
    else if (p->pad != CLVAE_CONV_PAD_SAME)
        snprintf(what, sizeof what, "a masked conv needs padding = same");
    if (what[0])
        return clvae_cfg_bad_value(err, r->cfg, r->s, clvae_cfg_find_entry(r->s, "mask"), what);
    L->mask = (clvae_conv_mask_t)m;
    return CLVAE_OK;
}

static clvae_status_t resolve_either(clvae_layer_t *L, const clvae_layer_resolve_t *r, int tr,
                                     clvae_error_t *err)
{
    clvae_status_t st;
    if (r->in[0]->flat)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s needs a C x H x W input but gets %zu flat values: add a [reshape] "
                          "before it",
                          r->where, clvae_layer_in_size(L));
    size_t filters = 0;
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "filters", 1, 65536, 1, &filters, err)) ||
        (st = conv_params(r, L, tr, err)) || (!tr && (st = conv_mask(r, L, err))) ||
        (st = clvae_layer_get_bias_act(L, r, err)))
        return st;
    clvae_conv_geom_t g;
    clvae_error_t sub = {0};
    st = tr ? clvae_conv_transpose2d_geom(&g, 1, L->in_c, L->in_h, L->in_w, filters, &L->conv,
                                          &sub)
            : clvae_conv2d_geom(&g, 1, L->in_c, L->in_h, L->in_w, filters, &L->conv, &sub);
    if (st) {
        /* keep the geometry's reason, drop its source location */
        char *paren = strstr(sub.msg, " (ops/");
        if (paren) *paren = 0;
        CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s on a %zux%zux%zu input: %s", r->where, L->in_c,
                   L->in_h, L->in_w, sub.msg);
        clvae_error_clear(&sub);
        return CLVAE_ERR_INVALID;
    }
    L->out_c = filters;
    L->out_h = tr ? g.H : g.OH;
    L->out_w = tr ? g.W : g.OW;
    L->w_len = clvae_cfg_mul_values(clvae_cfg_mul_values(L->in_c, filters),
                                    L->conv.kh * L->conv.kw);
    L->flops = 2.0 * (double)L->w_len * (double)(tr ? L->in_h * L->in_w : L->out_h * L->out_w);
    return CLVAE_OK;
}

static clvae_status_t resolve_conv(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                   clvae_error_t *err)
{
    return resolve_either(L, r, 0, err);
}

static clvae_status_t resolve_deconv(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                     clvae_error_t *err)
{
    return resolve_either(L, r, 1, err);
}

/* Fan-in and fan-out as Keras computes them for Glorot init. */
static void fans_conv(const clvae_layer_t *L, double *fan_in, double *fan_out)
{
    double rf = (double)(L->conv.kh * L->conv.kw);
    *fan_in = rf * (double)L->in_c;
    *fan_out = rf * (double)L->out_c;
}

/* Keras' Conv2DTranspose kernel is (kh, kw, filters, in): fans swap roles. */
static void fans_deconv(const clvae_layer_t *L, double *fan_in, double *fan_out)
{
    fans_conv(L, fan_out, fan_in);
}

/* conv [out, in, kh, kw]; transposed conv [in, out, kh, kw] (PyTorch's layouts). */
static int shape_conv(const clvae_layer_t *L, uint64_t shape[4])
{
    shape[0] = L->out_c;
    shape[1] = L->in_c;
    shape[2] = L->conv.kh;
    shape[3] = L->conv.kw;
    return 4;
}

static int shape_deconv(const clvae_layer_t *L, uint64_t shape[4])
{
    shape_conv(L, shape);
    shape[0] = L->in_c;
    shape[1] = L->out_c;
    return 4;
}

static clvae_status_t geom(const clvae_net_t *net, int i, clvae_conv_geom_t *g, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    if (L->kind == CLVAE_LAYER_DECONV)
        return clvae_conv_transpose2d_geom(g, net->B, L->in_c, L->in_h, L->in_w, L->out_c,
                                           &L->conv, err);
    return clvae_conv2d_geom(g, net->B, L->in_c, L->in_h, L->in_w, L->out_c, &L->conv, err);
}

/* A masked conv's fixed aux buffer [out, in, kh, kw]: W * mask, written by each forward and
 * read by the backward that follows it. The stored weights stay whole (a checkpoint saves them
 * as they are, --init may fill every tap), so the mask holds whatever they hold. */
/* A conv's aux buffer KEEP_COL [B, clvae_conv2d_keep_floats]: the im2col matrix of x that the
 * forward builds for its GEMM, kept for the weight gradient of the backward that follows (which
 * built it again: a pass writing C*kh*kw floats per output pixel), where that matrix is at most
 * CLVAE_CONV_KEEP_MAX floats per example (conv.h); fwd_flag[i] 1 when the last forward kept it. */
enum { MASKED_W, KEEP_COL };

static size_t keep_floats(const clvae_layer_t *L)
{
    clvae_conv_geom_t g;
    if (L->kind != CLVAE_LAYER_CONV ||
        clvae_conv2d_geom(&g, 1, L->in_c, L->in_h, L->in_w, L->out_c, &L->conv, NULL))
        return 0;
    return clvae_conv2d_keep_floats(&g);
}

static size_t aux_size(const clvae_layer_t *L, const clvae_model_desc_t *d, int k, size_t *fixed)
{
    (void)d;
    *fixed = k == MASKED_W && L->mask != CLVAE_CONV_MASK_NONE ? L->w_len : 0;
    return k == KEEP_COL ? keep_floats(L) : 0;
}

/* W * mask of a masked conv, in place when out is W's own gradient. */
static clvae_status_t mask_weight(clvae_net_t *net, int i, clvae_buf_t out, clvae_buf_t w,
                                  clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_conv2d_mask(net->ctx, out, w, L->mask, L->out_c, L->in_c, L->conv.kh,
                             L->conv.kw, err);
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    clvae_conv_geom_t g;
    clvae_status_t s = geom(net, i, &g, err);
    if (s) return s;
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_buf_t x = clvae_net_in(net, i, 0), w = clvae_net_weight(net, net->params, i);
    clvae_buf_t b = clvae_net_bias(net, net->params, i), y = net->pre[i];
    clvae_conv_fwd_opts_t o = {.act = CLVAE_ACT_IDENTITY};
    if (y.mem == net->act[i].mem && y.off == net->act[i].off) { /* fuses_act: one buffer */
        o.act = L->act;
        o.slope = L->slope;
    }
    if (L->kind == CLVAE_LAYER_DECONV)
        return clvae_conv_transpose2d_forward_opts(net->ctx, y, x, w, b, &g, &o, err);
    if (L->mask != CLVAE_CONV_MASK_NONE) {
        if ((s = mask_weight(net, i, net->aux[i][MASKED_W], w, err))) return s;
        w = net->aux[i][MASKED_W];
    }
    o.keep = net->aux[i][KEEP_COL];
    o.kept = &net->fwd_flag[i];
    return clvae_conv2d_forward_opts(net->ctx, y, x, w, b, &g, &o, err);
}

/* A masked conv's input gradient goes through the masked copy its forward used; the weight
 * gradient of a dropped tap is 0 (no output reads that tap), so those entries, which get
 * nothing from any other layer, are zeroed after the conv's gradient was added. */
static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    clvae_conv_geom_t g;
    clvae_status_t s = geom(net, i, &g, err);
    if (s) return s;
    clvae_buf_t x = clvae_net_in(net, i, 0), dx = clvae_net_din(net, i, 0);
    clvae_buf_t w = clvae_net_weight(net, net->params, i);
    clvae_buf_t dw = clvae_net_weight(net, net->grads, i), db = clvae_net_bias(net, net->grads, i);
    clvae_conv_bwd_opts_t o = {.dx_set = clvae_net_din_set(net, i, 0)};
    if (net->d->layers[i].kind == CLVAE_LAYER_DECONV)
        return clvae_conv_transpose2d_backward_opts(net->ctx, dx, dw, db, net->dpre[i], x, w, &g,
                                                    &o, err);
    int masked = net->d->layers[i].mask != CLVAE_CONV_MASK_NONE;
    if (masked) w = net->aux[i][MASKED_W];
    if (net->fwd_flag[i]) o.keep = net->aux[i][KEEP_COL];
    s = clvae_conv2d_backward_opts(net->ctx, dx, dw, db, net->dpre[i], x, w, &g, &o, err);
    if (!s && masked) s = mask_weight(net, i, dw, dw, err);
    return s;
}

static const char *const conv_keys[] = {"filters", "size", "stride", "dilation", "padding",
                                        "mask", "bias", "activation", "slope", NULL};
static const char *const deconv_keys[] = {"filters", "size", "stride", "dilation", "padding",
                                          "output_padding", "bias", "activation", "slope", NULL};

const clvae_layer_kind_ops_t clvae_layer_conv_ops = {
    .name = "conv", .keys = conv_keys, .max_from = 1, .resolve = resolve_conv, .fans = fans_conv,
    .weight_shape = shape_conv, .aux_size = aux_size, .forward = forward, .backward = backward,
    .fuses_act = 1, .sets_din = 1,
};
const clvae_layer_kind_ops_t clvae_layer_deconv_ops = {
    .name = "deconv", .keys = deconv_keys, .max_from = 1, .resolve = resolve_deconv,
    .fans = fans_deconv, .weight_shape = shape_deconv, .forward = forward, .backward = backward,
    .fuses_act = 1, .sets_din = 1,
};
