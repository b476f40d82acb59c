/* A model on the device: a network (src/net/net.c) with its loss, optimizer state and latents. */
#include "clvae/train/objective.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/net/net.h"
#include "clvae/data/labels.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/reduce.h"
#include "train/objective_internal.h"

/*
 * Shape key: B examples, D = the input's size, J the latent size (a classifier: K classes).
 * The network holds the layers' buffers; the model adds
 *   m1, m2    [nparams]  the optimizer's moments
 *   rec_ex    [B]        per-example reconstruction (a classifier: cross-entropy)
 *   kl_ex     [B]        per-example KL (a classifier: 1 for a hit)
 *   losses    [ncols+1]  the batch means of the loss columns, then the non-finite count
 */

static clvae_status_t zero(clvae_objective_t *m, clvae_buf_t b, size_t n, clvae_error_t *err)
{
    return clvae_fill_forward(m->ctx, b.mem, b.off, 0.0f, n, err);
}

/* Values per example of layer L's output. */
static size_t out_size(const clvae_layer_t *L) { return L->out_c * L->out_h * L->out_w; }

/* The network's footprint plus the model's own buffers (a GAN: both networks, the
 * discriminator's with its input gradient, and the real images and targets). */
static clvae_net_footprint_t footprint_of(const clvae_model_desc_t *d)
{
    clvae_net_footprint_t f = clvae_net_footprint(d, 0);
    f.fixed += 2 * (d->nparams ? d->nparams : 1) + 4 + CLVAE_OBJECTIVE_MAX_COLUMNS;
    f.per += 2;
    if (d->ddpm) f.per += 2 * (size_t)(d->layers[0].out_c * d->layers[0].out_h * d->layers[0].out_w);
    if (d->gan && d->disc) {
        clvae_net_footprint_t g = clvae_net_footprint(d->disc, 1);
        f.fixed += g.fixed + 2 * (d->disc->nparams ? d->disc->nparams : 1);
        f.per += g.per + g.largest + 3;
        if (g.largest > f.largest) f.largest = g.largest;
    }
    return f;
}

/* The largest batch <= want that footprint f allows on the device. */
static size_t fit_batch(const clvae_device_info_t *dev, clvae_net_footprint_t f, size_t want)
{
    uint64_t alloc = dev->max_alloc / sizeof(float), global = dev->global_mem / sizeof(float);
    if (f.fixed / 4 > alloc || f.fixed > global || f.largest == 0) return 0;
    uint64_t b1 = alloc / f.largest, b2 = (global - f.fixed) / (f.per ? f.per : 1);
    uint64_t b = b1 < b2 ? b1 : b2;
    return b < want ? (size_t)b : want;
}

/* The model has its parts: an encoder and a decoder around the latent, or a classifier's
 * layers after the input. */
static int has_parts(const clvae_model_desc_t *d)
{
    if (d->gan) return d->disc && d->nlayers >= 2 && d->disc->nlayers >= 2;
    if (d->classes) return d->classes > 0 && d->nlayers >= 2 && d->latent == d->nlayers;
    if (d->prior || d->ddpm) return d->nlayers >= 2 && d->latent == d->nlayers;
    return d->latent >= 1 && d->nlayers >= d->latent + 2;
}

/* The kind of objective a config trains. */
static const clvae_objective_kind_t *kind_of(const clvae_model_desc_t *d)
{
    if (d->gan) return &clvae_objective_gan;
    if (d->vqvae) return &clvae_objective_vqvae;
    if (d->prior) return &clvae_objective_prior;
    if (d->ddpm) return &clvae_objective_ddpm;
    return d->classes ? &clvae_objective_classifier : &clvae_objective_autoencoder;
}

const char *clvae_objective_kind_name(const clvae_model_desc_t *d) { return kind_of(d)->name; }
unsigned clvae_objective_can(const clvae_model_desc_t *d)
{
    unsigned can = kind_of(d)->can;
    return can & CLVAE_CAN_DECODE ? can | CLVAE_CAN_SAMPLE : can;
}

const clvae_layer_t *clvae_objective_image_layer(const clvae_model_desc_t *d)
{
    if (d->prior && d->image) return d->image;
    return &d->layers[d->gan ? d->nlayers - 1 : 0];
}

int clvae_objective_columns(const clvae_model_desc_t *d, const char *const **names)
{
    int n = 0;
    *names = kind_of(d)->columns;
    while ((*names)[n]) n++;
    return n;
}

size_t clvae_objective_fit_batch(const clvae_ctx_t *ctx, const clvae_model_desc_t *d, size_t want)
{
    if (!has_parts(d)) return 0;
    return fit_batch(clvae_ctx_device(ctx), footprint_of(d), want);
}

/* "12.5 MiB", "3.0 KiB" or "812 bytes". */
static const char *size_text(double bytes, char *buf, size_t size)
{
    if (bytes >= 1048576.0) snprintf(buf, size, "%.1f MiB", bytes / 1048576.0);
    else if (bytes >= 1024.0) snprintf(buf, size, "%.1f KiB", bytes / 1024.0);
    else snprintf(buf, size, "%.0f bytes", bytes);
    return buf;
}

/* Why batches of B do not fit the device, and the batch to use instead (0: none fits). */
static clvae_status_t no_room(const clvae_model_desc_t *d, clvae_net_footprint_t f, size_t B,
                              const char *why, size_t fit, clvae_error_t *err)
{
    char advice[160], all[32], big[32], fixed[32];
    if (fit)
        snprintf(advice, sizeof advice, "use a batch of %zu or less (train.batch)", fit);
    else
        snprintf(advice, sizeof advice, "the model does not fit this device even for one "
                 "example: use a smaller model or a device with more memory");
    return CLVAE_FAIL(err, CLVAE_ERR_DEVICE_MEMORY,
                      "out of device memory: a batch of %zu needs %s for the model's buffers "
                      "(the largest, layer %d [%s], %s; parameters and optimizer state %s); %s: "
                      "%s",
                      B, size_text((double)(f.fixed + B * f.per) * 4.0, all, sizeof all), f.at,
                      clvae_layer_kind_name(d->layers[f.at].kind),
                      size_text((double)(B * f.largest) * 4.0, big, sizeof big),
                      size_text((double)f.fixed * 4.0, fixed, sizeof fixed), why, advice);
}

clvae_status_t clvae_objective_init(clvae_objective_t **out, clvae_ctx_t *ctx,
                                const clvae_model_desc_t *d, size_t max_batch, clvae_error_t *err)
{
    *out = NULL;
    if (max_batch == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch size 0");
    if (!has_parts(d))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "model has no encoder or decoder");
    /* what cannot fit is said before anything is allocated, with the batch that fits */
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    clvae_net_footprint_t f = footprint_of(d);
    size_t fit = fit_batch(dev, f, max_batch);
    if (fit < max_batch) {
        char why[200], lim[32];
        if ((uint64_t)(f.fixed / 4) > dev->max_alloc / 4 ||
            (uint64_t)max_batch * f.largest > dev->max_alloc / 4)
            snprintf(why, sizeof why, "one buffer exceeds the device's maximum allocation of %s",
                     size_text((double)dev->max_alloc, lim, sizeof lim));
        else
            snprintf(why, sizeof why, "all of them exceed the device's global memory of %s",
                     size_text((double)dev->global_mem, lim, sizeof lim));
        return no_room(d, f, max_batch, why, fit, err);
    }
    clvae_objective_t *m = calloc(1, sizeof *m);
    if (!m) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    m->ctx = ctx;
    m->d = d;
    m->max_batch = max_batch;
    m->nranks = 1;
    m->last = d->nlayers - 1;
    m->J = d->gan ? out_size(&d->layers[0])
           : d->classes ? (size_t)d->classes
           : d->prior   ? d->layers[0].out_h * d->layers[0].out_w /* the code map's positions */
           : d->ddpm    ? out_size(&d->layers[0]) /* x_T: one value per pixel */
                        : d->layers[d->latent].units;
    m->D = out_size(&d->layers[d->gan ? m->last : 0]);
    m->out_lo = d->gan && clvae_model_output_act_layer(d)->act == CLVAE_ACT_TANH ? -1.0f : 0.0f;
    m->beta = d->beta;
    m->kind = kind_of(d);
    clvae_buf_t *bufs[3] = {&m->rec_ex, &m->kl_ex, &m->losses};
    const char *const *cols;
    m->ncols = clvae_objective_columns(d, &cols);
    size_t sizes[3] = {max_batch, max_batch, (size_t)m->ncols + 1};
    clvae_status_t s = clvae_net_init(&m->net, ctx, d, max_batch, 0, err);
    if (!s) s = clvae_optimizer_init(&m->opt, ctx, d, d->nparams, err);
    if (!s && d->gan) {
        m->d2 = d->disc;
        s = clvae_net_init(&m->net2, ctx, d->disc, max_batch, 1, err);
        if (!s) s = clvae_optimizer_init(&m->opt2, ctx, d->disc, d->disc->nparams, err);
        clvae_buf_t *g[4] = {&m->real, &m->t_real, &m->t_fake, &m->t_one};
        float v[4] = {0.0f, d->real_label, 0.0f, 1.0f};
        for (int i = 0; !s && i < 4; i++) {
            s = clvae_objective_alloc(m, max_batch * (i ? 1 : m->D), g[i], err);
            if (!s && i) s = clvae_fill_forward(ctx, g[i]->mem, g[i]->off, v[i], max_batch, err);
        }
    }
    if (!s && (d->classes || d->prior || d->ddpm || d->noise.kind != CLVAE_NOISE_NONE)) {
        size_t n = max_batch * (d->classes ? 1 : d->prior ? m->J : m->D);
        s = clvae_buf_alloc(ctx, n, &m->target_buf, err);
        m->bytes += n * sizeof(float);
    }
    for (int i = 0; !s && i < 3; i++) {
        s = clvae_buf_alloc(ctx, sizes[i], bufs[i], err);
        if (!s) s = zero(m, *bufs[i], sizes[i], err);
        m->bytes += sizes[i] * sizeof(float);
    }
    if (!s && d->prior) s = clvae_objective_prior_setup(m, err);
    if (!s && d->ddpm) s = clvae_objective_ddpm_setup(m, err);
    if (!s) {
        *out = m;
        return CLVAE_OK;
    }
    clvae_objective_free(m);
    if (s == CLVAE_ERR_DEVICE_MEMORY) {
        char inner[sizeof err->msg + 32];
        snprintf(inner, sizeof inner, "the driver refused: %s", err->msg);
        return no_room(d, f, max_batch, inner, max_batch / 2, err);
    }
    return s;
}

void clvae_objective_free(clvae_objective_t *m)
{
    if (!m) return;
    clvae_net_free(m->net);
    clvae_optimizer_free(m->opt);
    clvae_net_free(m->net2);
    clvae_optimizer_free(m->opt2);
    clvae_buf_free(&m->real);
    clvae_buf_free(&m->t_real);
    clvae_buf_free(&m->t_fake);
    clvae_buf_free(&m->t_one);
    clvae_buf_free(&m->rec_ex);
    clvae_buf_free(&m->kl_ex);
    clvae_buf_free(&m->losses);
    clvae_buf_free(&m->target_buf);
    clvae_buf_free(&m->eye);
    clvae_buf_free(&m->coef);
    clvae_schedule_free(&m->sched);
    free(m);
}

clvae_buf_t clvae_objective_params(const clvae_objective_t *m) { return clvae_net_params(m->net); }
clvae_buf_t clvae_objective_grads(const clvae_objective_t *m) { return clvae_net_grads(m->net); }
clvae_buf_t clvae_objective_moment1(const clvae_objective_t *m) { return clvae_optimizer_state(m->opt, 0); }
clvae_buf_t clvae_objective_moment2(const clvae_objective_t *m) { return clvae_optimizer_state(m->opt, 1); }
clvae_buf_t clvae_objective_state(const clvae_objective_t *m) { return clvae_net_state(m->net); }
size_t clvae_objective_nstate(const clvae_objective_t *m) { return m->d->nstate; }
clvae_buf_t clvae_objective_input(const clvae_objective_t *m) { return clvae_net_input(m->net); }
clvae_buf_t clvae_objective_loss_buf(const clvae_objective_t *m) { return m->losses; }
clvae_buf_t clvae_objective_labels(const clvae_objective_t *m) { return clvae_net_labels(m->net); }
clvae_buf_t clvae_objective_times(const clvae_objective_t *m) { return clvae_net_times(m->net); }
size_t clvae_objective_classes(const clvae_objective_t *m) { return m->d->conditional; }
clvae_ctx_t *clvae_objective_ctx(const clvae_objective_t *m) { return m->ctx; }
void clvae_objective_set_beta(clvae_objective_t *m, float beta) { m->beta = beta; }
size_t clvae_objective_latent_dim(const clvae_objective_t *m) { return m->J; }
size_t clvae_objective_max_batch(const clvae_objective_t *m) { return m->max_batch; }
size_t clvae_objective_example_dim(const clvae_objective_t *m) { return m->D; }

size_t clvae_objective_device_bytes(const clvae_objective_t *m)
{
    size_t b = m->bytes + clvae_net_device_bytes(m->net) + clvae_optimizer_device_bytes(m->opt);
    if (m->net2) b += clvae_net_device_bytes(m->net2) + clvae_optimizer_device_bytes(m->opt2);
    return b;
}

clvae_status_t clvae_objective_alloc(clvae_objective_t *m, size_t n, clvae_buf_t *out,
                                     clvae_error_t *err)
{
    clvae_status_t s = clvae_buf_alloc(m->ctx, n, out, err);
    if (s) return s;
    m->bytes += n * sizeof(float);
    return zero(m, *out, n, err);
}

int clvae_objective_nets(const clvae_objective_t *m) { return m->net2 ? 2 : 1; }

void clvae_objective_set_stop(clvae_objective_t *m, volatile sig_atomic_t *stop) { m->stop = stop; }

void clvae_objective_watch_grads(clvae_objective_t *m, int k, float *host)
{
    clvae_net_watch_grads(k ? m->net2 : m->net, host);
}

int clvae_objective_grad_reads(const clvae_objective_t *m, int k, const cl_event **events,
                               const size_t **from)
{
    return clvae_net_grad_reads(k ? m->net2 : m->net, events, from);
}

clvae_status_t clvae_objective_recount(clvae_objective_t *m, int k, clvae_error_t *err)
{
    return clvae_objective_count_nonfinite(m, clvae_objective_net_grads(m, k),
                                           clvae_objective_net_desc(m, k)->nparams, m->losses, 1,
                                           err);
}

void clvae_objective_set_ranks(clvae_objective_t *m, int rank, int nranks)
{
    m->rank = rank;
    m->nranks = nranks > 0 ? nranks : 1;
}
int clvae_objective_stopped(const clvae_objective_t *m) { return m->stop && *m->stop; }

const char *clvae_objective_net_name(const clvae_objective_t *m, int k)
{
    if (!m->net2) return "";
    return k ? "discriminator" : "generator";
}

const clvae_model_desc_t *clvae_objective_net_desc(const clvae_objective_t *m, int k)
{
    return k ? m->d2 : m->d;
}

clvae_buf_t clvae_objective_net_params(const clvae_objective_t *m, int k)
{
    return clvae_net_params(k ? m->net2 : m->net);
}

clvae_buf_t clvae_objective_net_grads(const clvae_objective_t *m, int k)
{
    return clvae_net_grads(k ? m->net2 : m->net);
}

clvae_buf_t clvae_objective_net_moment(const clvae_objective_t *m, int k, int which)
{
    return clvae_optimizer_state(k ? m->opt2 : m->opt, which);
}

clvae_buf_t clvae_objective_net_ema(const clvae_objective_t *m, int k)
{
    return clvae_optimizer_ema(k ? m->opt2 : m->opt);
}

clvae_status_t clvae_objective_net_ema_reset(clvae_objective_t *m, int k, clvae_error_t *err)
{
    return clvae_optimizer_ema_reset(k ? m->opt2 : m->opt, clvae_objective_net_params(m, k), err);
}

clvae_buf_t clvae_objective_net_state(const clvae_objective_t *m, int k)
{
    return clvae_net_state(k ? m->net2 : m->net);
}

clvae_status_t clvae_objective_profile(clvae_objective_t *m, int on, clvae_error_t *err)
{
    return clvae_net_profile(m->net, on, err);
}

clvae_status_t clvae_objective_profile_read(clvae_objective_t *m, double *fwd_ns, double *bwd_ns,
                                        clvae_error_t *err)
{
    return clvae_net_profile_read(m->net, fwd_ns, bwd_ns, err);
}

clvae_status_t clvae_objective_init_params(clvae_objective_t *m, uint64_t seed, clvae_error_t *err)
{
    clvae_status_t s = clvae_net_init_params(m->net, seed, err);
    /* a second network draws from its own stream */
    if (!s && m->net2) s = clvae_net_init_params(m->net2, seed ^ 0xd15cULL, err);
    for (int k = 0; !s && k < clvae_objective_nets(m); k++) s = clvae_objective_net_ema_reset(m, k, err);
    return s;
}

clvae_status_t clvae_objective_forward(clvae_objective_t *m, size_t B, int sample, uint64_t seed,
                                   uint64_t offset, clvae_buf_t target, clvae_error_t *err)
{
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch of %zu examples (the model holds 1 to %zu)",
                          B, m->max_batch);
    if (!m->kind->losses)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a %s has no single forward and loss: it "
                          "trains with clvae_objective_train_step", m->kind->name);
    m->B = B;
    /* a classifier's and a prior's losses need their targets (labels, codes) */
    int classifier = m->d->classes > 0, labelled = classifier || m->d->prior;
    m->target = labelled || target.mem ? target : clvae_net_input(m->net);
    clvae_net_set_sampling(m->net, classifier ? 0 : sample, seed, offset);
    clvae_status_t s = clvae_net_forward(m->net, B, err);
    if (s) return s;
    if (!labelled || target.mem) s = m->kind->losses(m, err);
    if (s) return s;
    clvae_net_mark(m->net, m->last, 0);
    return CLVAE_OK;
}

clvae_status_t clvae_objective_count_nonfinite(clvae_objective_t *m, clvae_buf_t grads, size_t n,
                                               clvae_buf_t loss, int accumulate,
                                               clvae_error_t *err)
{
    clvae_buf_t bad = clvae_buf_at(m->losses, (size_t)m->ncols);
    clvae_reduce_shape_t one = {1, 1, 1, 0, 0}, all = {1, 1, n, 0, 0};
    clvae_status_t s;
    if (n && (s = clvae_reduce_forward(m->ctx, bad, grads, CLVAE_REDUCE_NONFINITE, 1.0f,
                                       accumulate ? 1.0f : 0.0f, all, err)))
        return s;
    return clvae_reduce_forward(m->ctx, bad, loss, CLVAE_REDUCE_NONFINITE, 1.0f,
                                n || accumulate ? 1.0f : 0.0f, one, err);
}

/* The step guard: NaN and infinities in the gradients and the total loss, counted into
 * losses[ncols] on the device. */
static clvae_status_t count_nonfinite(clvae_objective_t *m, clvae_error_t *err)
{
    return clvae_objective_count_nonfinite(m, clvae_net_grads(m->net), m->d->nparams, m->losses,
                                           0, err);
}


clvae_status_t clvae_objective_backward(clvae_objective_t *m, clvae_error_t *err)
{
    clvae_buf_t none = {0};
    int pre;
    clvae_status_t s;
    if (m->d->classes && !m->target.mem)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "classifier backward without labels: the "
                          "forward pass was given none");
    if (!m->kind->loss_backward)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a %s has no single backward: it trains with "
                          "clvae_objective_train_step", m->kind->name);
    clvae_net_mark(m->net, -1, 1);
    if ((s = clvae_net_zero_grads(m->net, err)) || (s = m->kind->loss_backward(m, &pre, err)))
        return s;
    clvae_net_set_kl(m->net, m->beta, 1.0f / (float)m->B);
    return clvae_net_backward(m->net, pre, none, err);
}

clvae_status_t clvae_objective_step(clvae_objective_t *m, long step, clvae_error_t *err)
{
    clvae_status_t s = count_nonfinite(m, err);
    if (s) return s;
    return clvae_optimizer_step(m->opt, clvae_net_params(m->net), clvae_net_grads(m->net), step,
                                clvae_buf_at(m->losses, (size_t)m->ncols), err);
}

clvae_status_t clvae_objective_losses(clvae_objective_t *m, float *values, clvae_error_t *err)
{
    return clvae_buf_download(m->ctx, values, m->losses, (size_t)m->ncols, err);
}

clvae_status_t clvae_objective_example_losses(clvae_objective_t *m, float *recon, float *kl,
                                          clvae_error_t *err)
{
    clvae_status_t s = CLVAE_OK;
    if (recon) s = clvae_buf_download(m->ctx, recon, m->rec_ex, m->B, err);
    if (!s && kl) s = clvae_buf_download(m->ctx, kl, m->kl_ex, m->B, err);
    return s;
}

clvae_status_t clvae_objective_latents(clvae_objective_t *m, float *mu, float *logvar, float *z,
                                   float *eps, clvae_error_t *err)
{
    size_t n = m->B * m->J;
    clvae_status_t s = CLVAE_OK;
    if (m->d->vqvae) { /* the quantized map is the code: no log variance, no noise */
        if (logvar || eps)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a VQ-VAE's latent has no log variance or "
                              "noise");
        clvae_buf_t q = clvae_net_output(m->net, m->d->latent, 0);
        if (mu) s = clvae_buf_download(m->ctx, mu, q, n, err);
        if (!s && z) s = clvae_buf_download(m->ctx, z, q, n, err);
        return s;
    }
    if (mu) s = clvae_buf_download(m->ctx, mu, clvae_net_latent(m->net, 0), n, err);
    if (!s && logvar) s = clvae_buf_download(m->ctx, logvar, clvae_net_latent(m->net, 1), n, err);
    if (!s && z) s = clvae_buf_download(m->ctx, z, clvae_net_output(m->net, m->d->latent, 0), n, err);
    if (!s && eps) s = clvae_buf_download(m->ctx, eps, clvae_net_latent(m->net, 2), n, err);
    return s;
}

clvae_status_t clvae_objective_outputs(clvae_objective_t *m, float *out, clvae_error_t *err)
{
    return clvae_buf_download(m->ctx, out, clvae_net_output(m->net, m->last, 0),
                              m->B * out_size(&m->d->layers[m->last]), err);
}

clvae_status_t clvae_objective_activations(clvae_objective_t *m, int layer, float *out, clvae_error_t *err)
{
    if (layer < 0 || layer >= m->d->nlayers)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "layer %d of a model of %d layers", layer,
                          m->d->nlayers);
    return clvae_buf_download(m->ctx, out, clvae_net_output(m->net, layer, 0),
                              m->B * out_size(&m->d->layers[layer]), err);
}

clvae_status_t clvae_objective_decode(clvae_objective_t *m, const float *z, size_t B, float *out,
                                  clvae_error_t *err)
{
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "decode of %zu latents (the model holds 1 to %zu)",
                          B, m->max_batch);
    if (m->d->classes)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a classifier has no decoder to decode latents");
    m->B = B;
    int lat = m->d->latent;
    clvae_status_t s = clvae_buf_upload(m->ctx, clvae_net_output(m->net, lat, 0), z, B * m->J, err);
    /* a conditional model decodes with the labels in clvae_objective_labels */
    if (!s) s = clvae_net_forward_range(m->net, B, lat + 1, m->last, err);
    if (!s) s = clvae_objective_outputs(m, out, err);
    /* images in [0, 1] whatever the output's range (a tanh generator's is [-1, 1]) */
    for (size_t i = 0; !s && m->out_lo < 0.0f && i < B * m->D; i++) out[i] = 0.5f * (out[i] + 1.0f);
    return s;
}

clvae_status_t clvae_objective_labels_upload(clvae_ctx_t *ctx, const clvae_model_desc_t *d,
                                             const clvae_dataset_t *ds, clvae_data_dev_t *out,
                                             clvae_error_t *err)
{
    const clvae_objective_kind_t *k = kind_of(d);
    size_t classes = k->label_classes(d);
    if (!classes) return CLVAE_OK;
    clvae_status_t s = k->labels_usable ? k->labels_usable(d, ds, err) : CLVAE_OK;
    return s ? s : clvae_labels_upload(ctx, ds, classes, out, err);
}

clvae_status_t clvae_objective_load(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                                    const clvae_data_dev_t *labels, cl_mem idx, size_t start,
                                    size_t B, long step, clvae_error_t *err)
{
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch of %zu examples (the model holds 1 to %zu)",
                          B, m->max_batch);
    if (m->kind->label_classes(m->d) && (!labels || !labels->n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a %s reads its examples' labels: load it with "
                          "clvae_objective_labels_upload's", m->kind->name);
    return m->kind->load(m, pixels, labels, idx, start, B, step, err);
}

clvae_status_t clvae_objective_train_step(clvae_objective_t *m, size_t B, long step,
                                          clvae_objective_hook_t hook, void *user,
                                          clvae_error_t *err)
{
    if (m->kind->train_step) return m->kind->train_step(m, B, step, hook, user, err);
    clvae_status_t s;
    if ((s = clvae_objective_train_forward(m, B, step, err)) ||
        (s = clvae_objective_backward(m, err)) || (s = count_nonfinite(m, err)) ||
        (hook && (s = hook(user, m, 0, err))))
        return s;
    return clvae_optimizer_step(m->opt, clvae_net_params(m->net), clvae_net_grads(m->net), step,
                                clvae_buf_at(m->losses, (size_t)m->ncols), err);
}

clvae_status_t clvae_objective_train_forward(clvae_objective_t *m, size_t B, long step,
                                             clvae_error_t *err)
{
    /* training mode for this forward only (batch statistics, running ones moved); every other
     * forward (tests, figures, evaluation) runs in evaluation mode */
    clvae_net_set_training(m->net, 1);
    clvae_status_t s = m->kind->train_forward(m, B, step, err);
    clvae_net_set_training(m->net, 0);
    return s;
}

clvae_status_t clvae_objective_test(clvae_objective_t *m, const clvae_dataset_t *ds,
                                    const clvae_data_dev_t *pixels, const clvae_data_dev_t *labels,
                                    size_t n, size_t batch, double *values, clvae_error_t *err)
{
    return m->kind->test(m, ds, pixels, labels, n, batch, values, err);
}

clvae_status_t clvae_objective_test_means(clvae_objective_t *m, const clvae_dataset_t *ds,
                                          const clvae_data_dev_t *pixels,
                                          const clvae_data_dev_t *labels, size_t n,
                                          size_t batch, double *values, clvae_error_t *err)
{
    (void)ds;
    float v[CLVAE_OBJECTIVE_MAX_COLUMNS];
    cl_mem idx = NULL;
    for (int c = 0; c < m->ncols; c++) values[c] = 0;
    if (n == 0 || batch == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a test pass of no examples");
    uint32_t *perm = malloc(n * sizeof *perm);
    if (!perm) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    clvae_status_t s = clvae_data_upload_indices(m->ctx, &idx, perm, n, pixels->n, err);
    free(perm);
    if (s) return s;
    size_t done = 0;
    for (size_t start = 0; start < n && !clvae_objective_stopped(m); start += batch) {
        size_t B = n - start < batch ? n - start : batch;
        if ((s = m->kind->load(m, pixels, labels, idx, start, B, 0, err)) ||
            (s = m->kind->train_forward(m, B, 0, err)) ||
            (s = clvae_objective_losses(m, v, err)))
            break;
        for (int c = 0; c < m->ncols; c++) values[c] += (double)v[c] * (double)B;
        done += B;
    }
    for (int c = 0; c < m->ncols && done && !s; c++) values[c] /= (double)done;
    clReleaseMemObject(idx);
    return s;
}
