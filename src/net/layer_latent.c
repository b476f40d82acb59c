/* Layer kind [latent]: the code z of an autoencoder; a VAE's mu and logvar heads, reparameterization and KL gradient. */
#include "clvae/ops/basic.h"
#include "clvae/ops/dense.h"
#include "clvae/ops/latent.h"
#include "clvae/ops/loss.h"
#include "net/layer.h"

/* aux buffers [B, J]: mu, logvar, eps, dmu, dlogvar */
enum { MU, LOGVAR, EPS, DMU, DLOGVAR };

static clvae_status_t resolve(clvae_layer_t *L, const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    clvae_status_t st;
    if (!r->in[0]->flat)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s needs flat input but gets %zux%zux%zu: add a [flatten] before it",
                          r->where, L->in_c, L->in_h, L->in_w);
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "size", 1, 4096, 1, &L->units, err))) return st;
    L->out_c = L->units;
    L->out_h = L->out_w = 1;
    L->flat = 1;
    L->w_len = clvae_cfg_mul_values(L->units, clvae_layer_in_size(L));
    L->flops = (r->m->variational ? 4.0 : 2.0) * (double)L->w_len;
    return CLVAE_OK;
}

static void fans(const clvae_layer_t *L, double *fan_in, double *fan_out)
{
    *fan_in = (double)clvae_layer_in_size(L);
    *fan_out = (double)L->units;
}

static size_t aux_size(const clvae_layer_t *L, const clvae_model_desc_t *d, int k, size_t *fixed)
{
    (void)d;
    *fixed = 0;
    return k <= DLOGVAR ? L->units : 0;
}

/* One head: out = x W^T + b with the head's weight at w_off/b_off. */
static clvae_status_t head(clvae_net_t *net, int i, clvae_buf_t out, size_t w_off, size_t b_off,
                           clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_buf_t none = {0};
    return clvae_dense_forward(net->ctx, out, clvae_net_in(net, i, 0),
                               clvae_buf_at(net->params, w_off),
                               L->bias ? clvae_buf_at(net->params, b_off) : none, net->B,
                               clvae_layer_in_size(L), L->units, err);
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_buf_t *a = net->aux[i];
    size_t n = net->B * L->units;
    clvae_status_t s = head(net, i, a[MU], L->w_off, L->b_off, err);
    if (s) return s;
    net->sampled = 0;
    if (!net->d->variational) return clvae_buf_copy(net->ctx, net->act[i], a[MU], n, err);
    if ((s = head(net, i, a[LOGVAR], L->w2_off, L->b2_off, err))) return s;
    if (!net->sample) return clvae_buf_copy(net->ctx, net->act[i], a[MU], n, err);
    net->sampled = 1;
    return clvae_reparam_forward(net->ctx, net->act[i], a[EPS], a[MU], a[LOGVAR], n, net->seed,
                                 net->offset, err);
}

/* dz -> dmu, dlogvar (+ the KL gradient) -> both heads -> the input's gradient. */
static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_buf_t *a = net->aux[i], none = {0};
    size_t J = L->units, nj = net->B * J, F = clvae_layer_in_size(L);
    clvae_buf_t dz = net->dact[i], dmu = dz;
    clvae_status_t s;
    if (net->d->variational) {
        dmu = a[DMU];
        if ((s = clvae_fill_forward(net->ctx, dmu.mem, dmu.off, 0.0f, nj, err)) ||
            (s = clvae_fill_forward(net->ctx, a[DLOGVAR].mem, a[DLOGVAR].off, 0.0f, nj, err)))
            return s;
        if (net->sampled)
            s = clvae_reparam_backward(net->ctx, dmu, a[DLOGVAR], dz, a[EPS], a[LOGVAR], nj, err);
        else
            s = clvae_buf_copy(net->ctx, dmu, dz, nj, err);
        if (!s && net->kl_beta != 0.0f)
            s = clvae_kl_backward(net->ctx, dmu, a[DLOGVAR], a[MU], a[LOGVAR], net->kl_beta,
                                  net->kl_scale, net->B, J, err);
        if (s) return s;
    }
    clvae_buf_t x = clvae_net_in(net, i, 0), dx = clvae_net_din(net, i, 0);
    if ((s = clvae_dense_backward(net->ctx, dx, clvae_buf_at(net->grads, L->w_off),
                                  L->bias ? clvae_buf_at(net->grads, L->b_off) : none, dmu, x,
                                  clvae_buf_at(net->params, L->w_off), net->B, F, J, err)))
        return s;
    if (!net->d->variational) return CLVAE_OK;
    return clvae_dense_backward(net->ctx, dx, clvae_buf_at(net->grads, L->w2_off),
                                L->bias ? clvae_buf_at(net->grads, L->b2_off) : none, a[DLOGVAR],
                                x, clvae_buf_at(net->params, L->w2_off), net->B, F, J, err);
}

static const char *const keys[] = {"size", NULL};

const clvae_layer_kind_ops_t clvae_layer_latent_ops = {
    .name = "latent", .keys = keys, .max_from = 1, .resolve = resolve, .fans = fans,
    .aux_size = aux_size, .forward = forward, .backward = backward,
};
