/* Layer kind [batchnorm]: batch normalization per channel of a conv map (or per unit of a flat
 * output), affine weight and bias, running statistics as non-trained state. */
#include "clvae/ops/norm.h"
#include "net/layer.h"

/* fixed aux buffers [2C]: the statistics the forward used (mean, 1/std), the backward's sums */
enum { STATS, SUMS };

/* Channels C and values per channel per example HW of the input. */
static clvae_bn_shape_t shape_of(const clvae_layer_t *L, size_t B)
{
    clvae_bn_shape_t sh = {B, L->in_c, L->in_h * L->in_w};
    return sh;
}

static clvae_status_t resolve(clvae_layer_t *L, const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    clvae_status_t st;
    L->momentum = 0.1f;
    L->norm_eps = 1e-5f;
    if ((st = clvae_cfg_get_float(r->cfg, r->s, "momentum", 0.0, 1.0, &L->momentum, err)) ||
        (st = clvae_cfg_get_float(r->cfg, r->s, "eps", 1e-12, 1.0, &L->norm_eps, err)) ||
        (st = clvae_cfg_get_act(r->cfg, r->s, L, err)))
        return st;
    L->out_c = L->in_c;
    L->out_h = L->in_h;
    L->out_w = L->in_w;
    L->flat = r->in[0]->flat;
    L->units = L->flat ? L->in_c : 0;
    L->bias = 1;
    L->w_len = L->in_c;        /* weight (gamma) [C], bias (beta) [C] */
    L->s_len = 2 * L->in_c + 1; /* running_mean [C], running_var [C], num_batches_tracked */
    L->flops = 4.0 * (double)clvae_layer_in_size(L);
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
    *fixed = k <= SUMS ? 2 * L->in_c : 0;
    return 0;
}

static int state_tensor(const clvae_layer_t *L, int k, const char **suffix, size_t *off,
                        int *ndim, uint64_t shape[4])
{
    static const char *const names[] = {"running_mean", "running_var", "num_batches_tracked"};
    if (k < 0 || k > 2) return 0;
    *suffix = names[k];
    *off = (size_t)k * L->in_c;
    *ndim = k < 2 ? 1 : 0; /* the count is a scalar, as in PyTorch */
    shape[0] = L->in_c;
    return 1;
}

/* gamma = 1, running_var = 1 (beta and running_mean stay 0), as PyTorch starts them. */
static void init(const clvae_layer_t *L, float *params, float *state, uint64_t seed)
{
    (void)seed;
    for (size_t c = 0; c < L->in_c; c++) {
        params[L->w_off + c] = 1.0f;
        state[L->s_off + L->in_c + c] = 1.0f;
    }
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_bn_shape_t sh = shape_of(L, net->B);
    clvae_buf_t x = clvae_net_in(net, i, 0), stats = net->aux[i][STATS];
    clvae_status_t s = clvae_batchnorm_stats(net->ctx, stats, x,
                                             clvae_buf_at(net->state, L->s_off), net->training,
                                             1, L->momentum, L->norm_eps, sh, err);
    if (s) return s;
    return clvae_batchnorm_apply(net->ctx, net->pre[i], x, stats,
                                 clvae_net_weight(net, net->params, i),
                                 clvae_net_bias(net, net->params, i), sh, err);
}

static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return clvae_batchnorm_backward(net->ctx, clvae_net_din(net, i, 0),
                                    clvae_net_weight(net, net->grads, i),
                                    clvae_net_bias(net, net->grads, i), net->aux[i][SUMS],
                                    net->dpre[i], clvae_net_in(net, i, 0), net->aux[i][STATS],
                                    clvae_net_weight(net, net->params, i), net->fwd_training,
                                    shape_of(L, net->B), err);
}

static const char *const keys[] = {"momentum", "eps", "activation", "slope", NULL};

const clvae_layer_kind_ops_t clvae_layer_batchnorm_ops = {
    .name = "batchnorm", .keys = keys, .max_from = 1, .resolve = resolve,
    .weight_shape = weight_shape, .aux_size = aux_size, .state_tensor = state_tensor,
    .init = init, .forward = forward, .backward = backward,
};
