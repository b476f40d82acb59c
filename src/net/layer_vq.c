/* Layer kind [vq]: vector quantization of an encoder's map (a VQ-VAE's latent): each position's
 * D channels replaced by the nearest of K code vectors, the straight-through and commitment
 * gradients, the codebook trained by its loss term or by moving averages (then it is state). */
#include <math.h>
#include <string.h>

#include "clvae/ops/rng.h"
#include "clvae/ops/vq.h"
#include "net/layer.h"

/* aux buffers: per example CODES [P], ROWS [P*D], DOTS [P*K], TERM [1]; WORK fixed: norms [K],
 * counts [K], sums [K*D], flags [K], stats [3] */
enum { CODES, ROWS, DOTS, TERM, WORK };

/* The state (update = ema): embedding [K*D], cluster_size [K], embed_avg [K*D], unused [K];
 * update = loss: unused [K] only (the codebook is the layer's weight). */
static size_t state_len(const clvae_layer_t *L)
{
    size_t K = L->vq_codes, D = L->vq_dim;
    return L->vq_ema ? 2 * K * D + 2 * K : K;
}

static clvae_vq_shape_t shape_of(const clvae_layer_t *L, size_t B)
{
    clvae_vq_shape_t sh = {B, L->vq_dim, clvae_layer_in_size(L) / L->vq_dim, L->vq_codes};
    return sh;
}

static clvae_status_t resolve(clvae_layer_t *L, const clvae_layer_resolve_t *r, clvae_error_t *err)
{
    static const char *const updates[] = {"loss", "ema", NULL};
    clvae_status_t st;
    long long restart = 100;
    int ema = 1;
    L->vq_beta = 0.25f;
    L->vq_decay = 0.99f;
    L->vq_eps = 1e-5f;
    L->vq_dim = r->in[0]->flat ? 0 : L->in_c;
    if (!r->m->vqvae)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a [vq] layer needs [model] kind = vqvae",
                          r->where);
    if ((st = clvae_cfg_get_size(r->cfg, r->s, "codes", 2, 65536, 1, &L->vq_codes, err)) ||
        (st = clvae_cfg_get_size(r->cfg, r->s, "dim", 1, 65536, r->in[0]->flat, &L->vq_dim,
                                 err)) ||
        (st = clvae_cfg_get_float(r->cfg, r->s, "commitment", 0.0, 100.0, &L->vq_beta, err)) ||
        (st = clvae_cfg_get_word(r->cfg, r->s, "update", updates, &ema, err)) ||
        (st = clvae_cfg_get_float(r->cfg, r->s, "decay", 0.0, 0.999999, &L->vq_decay, err)) ||
        (st = clvae_cfg_get_float(r->cfg, r->s, "eps", 1e-12, 1.0, &L->vq_eps, err)) ||
        (st = clvae_cfg_get_int(r->cfg, r->s, "restart", 0, 1000000000, 0, &restart, err)))
        return st;
    size_t size = clvae_layer_in_size(L);
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(r->s, "dim");
    if (!r->in[0]->flat && L->vq_dim != L->in_c)
        return clvae_cfg_bad_value(err, r->cfg, r->s, e, "on a C x H x W map the code vectors "
                                   "are the channels: dim must be C or left out");
    if (size % L->vq_dim)
        return clvae_cfg_bad_value(err, r->cfg, r->s, e, "must divide the flat input's size");
    L->vq_ema = ema;
    L->vq_restart = (long)restart;
    L->out_c = L->in_c;
    L->out_h = L->in_h;
    L->out_w = L->in_w;
    L->flat = r->in[0]->flat;
    L->units = size; /* the latent's size: the quantized map */
    L->bias = 0;
    L->w_len = ema ? 0 : L->vq_codes * L->vq_dim;
    L->s_len = state_len(L);
    /* distances (one GEMM), the quantized map and the term */
    L->flops = 2.0 * (double)size * (double)L->vq_codes + 3.0 * (double)size;
    return CLVAE_OK;
}

static int weight_shape(const clvae_layer_t *L, uint64_t shape[4])
{
    shape[0] = L->vq_codes;
    shape[1] = L->vq_dim;
    return 2;
}

static size_t aux_size(const clvae_layer_t *L, const clvae_model_desc_t *d, int k, size_t *fixed)
{
    (void)d;
    size_t P = clvae_layer_in_size(L) / L->vq_dim, K = L->vq_codes, D = L->vq_dim;
    static const size_t none = 0;
    *fixed = k == WORK ? 3 * K + K * D + 3 : none;
    switch (k) {
    case CODES: return P;
    case ROWS: return P * D;
    case DOTS: return P * K;
    case TERM: return 1;
    default: return 0;
    }
}

static int state_tensor(const clvae_layer_t *L, int k, const char **suffix, size_t *off,
                        int *ndim, uint64_t shape[4])
{
    static const char *const names[] = {"embedding", "cluster_size", "embed_avg", "unused"};
    size_t K = L->vq_codes, D = L->vq_dim;
    if (!L->vq_ema) k = k == 0 ? 3 : 4; /* update = loss: unused only */
    if (k < 0 || k > 3) return 0;
    static const size_t at[4] = {0, 1, 2, 3};
    size_t offs[4] = {0, K * D, K * D + K, 2 * K * D + K};
    *suffix = names[at[k]];
    *off = L->vq_ema ? offs[k] : 0;
    *ndim = (k == 0 || k == 2) ? 2 : 1;
    shape[0] = K;
    shape[1] = D;
    return 1;
}

/* The codebook uniform in [-1/K, 1/K] (the VQ-VAE paper's implementations); with ema the
 * averages start at the codebook with cluster sizes 1, so an unused code keeps its vector. */
static void init(const clvae_layer_t *L, float *params, float *state, uint64_t seed)
{
    size_t K = L->vq_codes, KD = K * L->vq_dim;
    float *E = L->vq_ema ? state + L->s_off : params + L->w_off;
    clvae_rng_uniform_host(E, KD, seed, 0);
    for (size_t j = 0; j < KD; j++) E[j] = (2.0f * E[j] - 1.0f) / (float)K;
    if (!L->vq_ema) return;
    for (size_t k = 0; k < K; k++) state[L->s_off + KD + k] = 1.0f;
    memcpy(state + L->s_off + KD + K, E, KD * sizeof *E);
}

/* The codebook's view: the weight (update = loss) or the state's embedding. */
static clvae_buf_t codebook(const clvae_net_t *net, const clvae_layer_t *L, int i)
{
    return L->vq_ema ? clvae_buf_at(net->state, L->s_off) : clvae_net_weight(net, net->params, i);
}

/* The fixed work buffer's parts. */
static clvae_buf_t work(const clvae_net_t *net, const clvae_layer_t *L, int i, int part)
{
    size_t K = L->vq_codes, at[5] = {0, K, 2 * K, 2 * K + K * L->vq_dim,
                                     3 * K + K * L->vq_dim};
    return clvae_buf_at(net->aux[i][WORK], at[part]);
}
enum { NORMS, COUNTS, SUMS, FLAGS, STATS };

/* Training: the moving averages (ema), then restarts of codes unused for vq_restart steps
 * from rows of this batch (the stream (seed ^ tag, offset) of the step). */
static clvae_status_t update(clvae_net_t *net, const clvae_layer_t *L, int i, clvae_vq_shape_t sh,
                             clvae_error_t *err)
{
    size_t K = L->vq_codes, KD = K * L->vq_dim;
    clvae_buf_t E = codebook(net, L, i), none = {0};
    clvae_buf_t cl = L->vq_ema ? clvae_buf_at(net->state, L->s_off + KD) : none;
    clvae_buf_t avg = L->vq_ema ? clvae_buf_at(net->state, L->s_off + KD + K) : none;
    clvae_buf_t unused = clvae_buf_at(net->state, L->s_off + (L->vq_ema ? 2 * KD + K : 0));
    clvae_status_t s;
    if (L->vq_ema && (s = clvae_vq_ema(net->ctx, E, cl, avg, work(net, L, i, COUNTS),
                                       work(net, L, i, SUMS), L->vq_decay, L->vq_eps, sh, err)))
        return s;
    if (!L->vq_restart) return CLVAE_OK;
    return clvae_vq_restart(net->ctx, E, cl, avg, unused, work(net, L, i, FLAGS),
                            work(net, L, i, COUNTS), net->aux[i][ROWS], L->vq_restart,
                            net->seed ^ 0x7651ULL, net->offset, sh, err);
}

static clvae_status_t forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_vq_shape_t sh = shape_of(L, net->B);
    clvae_buf_t *a = net->aux[i], z = clvae_net_in(net, i, 0), E = codebook(net, L, i);
    clvae_buf_t none = {0};
    int restarts = net->training && L->vq_restart;
    clvae_status_t s;
    if ((s = clvae_vq_assign(net->ctx, a[CODES], a[ROWS], a[DOTS], work(net, L, i, NORMS), z, E,
                             sh, err)) ||
        (s = clvae_vq_embed(net->ctx, net->pre[i], a[TERM], z, a[CODES], E, sh, err)) ||
        (s = clvae_vq_counts(net->ctx, work(net, L, i, COUNTS), work(net, L, i, SUMS), a[ROWS],
                             a[CODES], sh, err)) ||
        (net->training && (s = update(net, L, i, sh, err))))
        return s;
    return clvae_vq_stats(net->ctx, work(net, L, i, STATS), work(net, L, i, COUNTS),
                          restarts ? work(net, L, i, FLAGS) : none, sh, err);
}

/* The straight-through gradient plus the commitment term's (weight vq_beta), and with
 * update = loss the codebook term's gradient into the weight; both terms scaled per example
 * by the net's scale (1/B: the batch mean). */
static clvae_status_t backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_vq_shape_t sh = shape_of(L, net->B);
    clvae_buf_t dz = clvae_net_din(net, i, 0);
    clvae_status_t s;
    if (dz.mem && (s = clvae_vq_backward(net->ctx, dz, net->dpre[i], clvae_net_in(net, i, 0),
                                         net->pre[i], L->vq_beta, net->kl_scale, sh, err)))
        return s;
    if (L->vq_ema) return CLVAE_OK;
    return clvae_vq_codebook_grad(net->ctx, clvae_net_weight(net, net->grads, i),
                                  codebook(net, L, i), work(net, L, i, COUNTS),
                                  work(net, L, i, SUMS), net->kl_scale, sh, err);
}

int clvae_net_vq(const clvae_net_t *net, clvae_net_vq_t *out)
{
    memset(out, 0, sizeof *out);
    int i = net->d->latent;
    if (i < 0 || i >= net->d->nlayers || net->d->layers[i].kind != CLVAE_LAYER_VQ) return 0;
    const clvae_layer_t *L = &net->d->layers[i];
    out->codes = net->aux[i][CODES];
    out->term = net->aux[i][TERM];
    out->stats = work(net, L, i, STATS);
    out->codebook = codebook(net, L, i);
    out->K = L->vq_codes;
    out->D = L->vq_dim;
    out->P = clvae_layer_in_size(L) / L->vq_dim;
    out->layer = i;
    return 1;
}

static const char *const keys[] = {"codes", "dim", "commitment", "update", "decay", "eps",
                                   "restart", NULL};

const clvae_layer_kind_ops_t clvae_layer_vq_ops = {
    .name = "vq", .keys = keys, .max_from = 1, .resolve = resolve,
    .weight_shape = weight_shape, .aux_size = aux_size, .state_tensor = state_tensor,
    .init = init, .forward = forward, .backward = backward,
};
