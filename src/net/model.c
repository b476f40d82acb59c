/* A model on the device: a network (src/net/net.c) with its loss, optimizer state and latents. */
#include "clvae/net/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/net/net.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/loss.h"
#include "clvae/ops/optim.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/xent.h"

/*
 * Shape key: B examples, D = the input's size, J the latent size (a classifier: K classes).
 * The network holds the layers' buffers; the model adds
 *   m1, m2    [nparams]  the optimizer's moments
 *   rec_ex    [B]        per-example reconstruction (a classifier: cross-entropy)
 *   kl_ex     [B]        per-example KL (a classifier: 1 for a hit)
 *   losses    [4]        total, recon, kl, non-finite count (loss, gradients)
 */
struct clvae_model {
    clvae_ctx_t *ctx;
    const clvae_model_desc_t *d;
    clvae_net_t *net;
    size_t max_batch, B, J, D;
    int last;                    /* the output layer */
    clvae_buf_t m1, m2, rec_ex, kl_ex, losses;
    clvae_buf_t target;          /* the target of the last forward */
    float beta;                  /* the KL weight (clvae_model_set_beta; starts at desc's) */
    size_t bytes;                /* device memory the model allocated besides the network */
};

static clvae_status_t zero(clvae_model_t *m, clvae_buf_t b, size_t n, clvae_error_t *err)
{
    return clvae_fill_forward(m->ctx, b.mem, b.off, 0.0f, n, err);
}

/* Values per example of layer L's output. */
static size_t out_size(const clvae_layer_t *L) { return L->out_c * L->out_h * L->out_w; }

/* The network's footprint plus the model's own buffers. */
static clvae_net_footprint_t footprint_of(const clvae_model_desc_t *d)
{
    clvae_net_footprint_t f = clvae_net_footprint(d, 0);
    f.fixed += 2 * (d->nparams ? d->nparams : 1) + 4;
    f.per += 2;
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
    if (d->classes) return d->classes > 0 && d->nlayers >= 2 && d->latent == d->nlayers;
    return d->latent >= 1 && d->nlayers >= d->latent + 2;
}

size_t clvae_model_fit_batch(const clvae_ctx_t *ctx, const clvae_model_desc_t *d, size_t want)
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

clvae_status_t clvae_model_init(clvae_model_t **out, clvae_ctx_t *ctx,
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
    clvae_model_t *m = calloc(1, sizeof *m);
    if (!m) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    m->ctx = ctx;
    m->d = d;
    m->max_batch = max_batch;
    m->last = d->nlayers - 1;
    m->J = d->classes ? (size_t)d->classes : d->layers[d->latent].units;
    m->D = out_size(&d->layers[0]);
    m->beta = d->beta;
    size_t P = d->nparams ? d->nparams : 1;
    clvae_buf_t *bufs[5] = {&m->m1, &m->m2, &m->rec_ex, &m->kl_ex, &m->losses};
    size_t sizes[5] = {P, P, max_batch, max_batch, 4};
    clvae_status_t s = clvae_net_init(&m->net, ctx, d, max_batch, 0, err);
    for (int i = 0; !s && i < 5; i++) {
        s = clvae_buf_alloc(ctx, sizes[i], bufs[i], err);
        if (!s) s = zero(m, *bufs[i], sizes[i], err);
        m->bytes += sizes[i] * sizeof(float);
    }
    if (!s) {
        *out = m;
        return CLVAE_OK;
    }
    clvae_model_free(m);
    if (s == CLVAE_ERR_DEVICE_MEMORY) {
        char inner[sizeof err->msg + 32];
        snprintf(inner, sizeof inner, "the driver refused: %s", err->msg);
        return no_room(d, f, max_batch, inner, max_batch / 2, err);
    }
    return s;
}

void clvae_model_free(clvae_model_t *m)
{
    if (!m) return;
    clvae_net_free(m->net);
    clvae_buf_free(&m->m1);
    clvae_buf_free(&m->m2);
    clvae_buf_free(&m->rec_ex);
    clvae_buf_free(&m->kl_ex);
    clvae_buf_free(&m->losses);
    free(m);
}

clvae_buf_t clvae_model_params(const clvae_model_t *m) { return clvae_net_params(m->net); }
clvae_buf_t clvae_model_grads(const clvae_model_t *m) { return clvae_net_grads(m->net); }
clvae_buf_t clvae_model_moment1(const clvae_model_t *m) { return m->m1; }
clvae_buf_t clvae_model_moment2(const clvae_model_t *m) { return m->m2; }
clvae_buf_t clvae_model_input(const clvae_model_t *m) { return clvae_net_input(m->net); }
clvae_buf_t clvae_model_loss_buf(const clvae_model_t *m) { return m->losses; }
clvae_buf_t clvae_model_labels(const clvae_model_t *m) { return clvae_net_labels(m->net); }
size_t clvae_model_classes(const clvae_model_t *m) { return m->d->conditional; }
clvae_ctx_t *clvae_model_ctx(const clvae_model_t *m) { return m->ctx; }
void clvae_model_set_beta(clvae_model_t *m, float beta) { m->beta = beta; }
size_t clvae_model_latent_dim(const clvae_model_t *m) { return m->J; }
size_t clvae_model_max_batch(const clvae_model_t *m) { return m->max_batch; }
size_t clvae_model_example_dim(const clvae_model_t *m) { return m->D; }
clvae_net_t *clvae_model_net(const clvae_model_t *m) { return m->net; }

size_t clvae_model_device_bytes(const clvae_model_t *m)
{
    return m->bytes + clvae_net_device_bytes(m->net);
}

clvae_status_t clvae_model_profile(clvae_model_t *m, int on, clvae_error_t *err)
{
    return clvae_net_profile(m->net, on, err);
}

clvae_status_t clvae_model_profile_read(clvae_model_t *m, double *fwd_ns, double *bwd_ns,
                                        clvae_error_t *err)
{
    return clvae_net_profile_read(m->net, fwd_ns, bwd_ns, err);
}

clvae_status_t clvae_model_init_params(clvae_model_t *m, uint64_t seed, clvae_error_t *err)
{
    return clvae_net_init_params(m->net, seed, err);
}

/* The output layer uses fused sigmoid + BCE (BCE with logits on pre) when it can. */
static int fused_bce(const clvae_model_t *m)
{
    return m->d->recon == CLVAE_RECON_BCE && m->d->layers[m->last].act == CLVAE_ACT_SIGMOID;
}

/* Per-example reconstruction and KL, and their means into losses [total, recon, kl]. */
static clvae_status_t losses_forward(clvae_model_t *m, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    clvae_buf_t t = m->target, out = clvae_net_output(m->net, m->last, 0);
    clvae_status_t s;
    clvae_buf_t rec_mean = clvae_buf_at(m->losses, 1), kl_mean = clvae_buf_at(m->losses, 2);
    if (fused_bce(m))
        s = clvae_bce_logits_forward(m->ctx, m->rec_ex, rec_mean,
                                     clvae_net_output(m->net, m->last, 1), t, m->B, m->D, err);
    else if (d->recon == CLVAE_RECON_BCE)
        s = clvae_bce_forward(m->ctx, m->rec_ex, rec_mean, out, t, m->B, m->D, err);
    else
        s = clvae_mse_forward(m->ctx, m->rec_ex, rec_mean, out, t, m->B, m->D,
                              d->recon == CLVAE_RECON_MSE_SUM ? CLVAE_MSE_SUM : CLVAE_MSE_MEAN,
                              err);
    if (s) return s;
    if (d->variational) {
        /* unweighted KL per example; the total adds beta times it */
        if ((s = clvae_kl_forward(m->ctx, m->kl_ex, kl_mean, clvae_net_latent(m->net, 0),
                                  clvae_net_latent(m->net, 1), 1.0f, m->B, m->J, err)))
            return s;
    }
    /* total = recon + beta * kl, on the device: sum of the per-example terms, averaged */
    clvae_reduce_shape_t one = {1, 1, m->B, 0, 0};
    float inv = 1.0f / (float)m->B;
    if ((s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f, one,
                                  err)))
        return s;
    if (d->variational && m->beta != 0.0f)
        s = clvae_reduce_forward(m->ctx, m->losses, m->kl_ex, CLVAE_REDUCE_SUM, inv * m->beta, 1.0f,
                                 one, err);
    return s;
}

/* kind = classifier: the softmax cross-entropy per example into rec_ex and the hit flags into
 * kl_ex; losses = [mean cross-entropy, the same, accuracy]. */
static clvae_status_t classifier_losses(clvae_model_t *m, clvae_buf_t labels, clvae_error_t *err)
{
    size_t B = m->B, K = (size_t)m->d->classes;
    clvae_buf_t logits = clvae_net_output(m->net, m->last, 0);
    clvae_reduce_shape_t one = {1, 1, B, 0, 0};
    float inv = 1.0f / (float)B;
    clvae_status_t s;
    if ((s = clvae_xent_forward(m->ctx, m->rec_ex, clvae_buf_at(m->losses, 1), logits, labels, B,
                                K, err)) ||
        (s = clvae_xent_correct(m->ctx, m->kl_ex, logits, labels, B, K, err)) ||
        (s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f, one,
                                  err)))
        return s;
    return clvae_reduce_forward(m->ctx, clvae_buf_at(m->losses, 2), m->kl_ex, CLVAE_REDUCE_SUM,
                                inv, 0.0f, one, err);
}

clvae_status_t clvae_model_forward(clvae_model_t *m, size_t B, int sample, uint64_t seed,
                                   uint64_t offset, clvae_buf_t target, clvae_error_t *err)
{
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch of %zu examples (the model holds 1 to %zu)",
                          B, m->max_batch);
    m->B = B;
    int classifier = m->d->classes > 0;
    m->target = classifier || target.mem ? target : clvae_net_input(m->net);
    clvae_net_set_sampling(m->net, classifier ? 0 : sample, seed, offset);
    clvae_status_t s = clvae_net_forward(m->net, B, err);
    if (s) return s;
    if (classifier) s = target.mem ? classifier_losses(m, target, err) : CLVAE_OK;
    else s = losses_forward(m, err);
    if (s) return s;
    clvae_net_mark(m->net, m->last, 0);
    return CLVAE_OK;
}

/* The step guard: NaN and infinities in the gradients and the total loss, counted into
 * losses[3] on the device. */
static clvae_status_t count_nonfinite(clvae_model_t *m, clvae_error_t *err)
{
    size_t P = m->d->nparams;
    clvae_buf_t bad = clvae_buf_at(m->losses, 3);
    clvae_reduce_shape_t one = {1, 1, 1, 0, 0};
    clvae_status_t s;
    if (P && (s = clvae_reduce_all(m->ctx, bad, clvae_net_grads(m->net), CLVAE_REDUCE_NONFINITE,
                                   1.0f, P, err)))
        return s;
    return clvae_reduce_forward(m->ctx, bad, m->losses, CLVAE_REDUCE_NONFINITE, 1.0f,
                                P ? 1.0f : 0.0f, one, err);
}

/* The loss's gradient into the output layer: cross-entropy or BCE with logits into dpre
 * (*pre = 1), else the loss's gradient into dact (*pre = 0). */
static clvae_status_t loss_backward(clvae_model_t *m, int *pre, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    float scale = 1.0f / (float)m->B;
    size_t n_out = m->B * m->D;
    clvae_buf_t dpre = clvae_net_output_grad(m->net, m->last, 1);
    clvae_buf_t dact = clvae_net_output_grad(m->net, m->last, 0);
    clvae_buf_t out = clvae_net_output(m->net, m->last, 0);
    clvae_status_t s;
    *pre = d->classes > 0 || fused_bce(m);
    if (d->classes) {
        size_t K = (size_t)d->classes;
        if ((s = zero(m, dpre, m->B * K, err))) return s;
        return clvae_xent_backward(m->ctx, dpre, out, m->target, scale, m->B, K, err);
    }
    if ((s = zero(m, dpre, n_out, err))) return s;
    if (*pre)
        return clvae_bce_logits_backward(m->ctx, dpre, clvae_net_output(m->net, m->last, 1),
                                         m->target, scale, m->B, m->D, err);
    if ((s = zero(m, dact, n_out, err))) return s;
    if (d->recon == CLVAE_RECON_BCE)
        return clvae_bce_backward(m->ctx, dact, out, m->target, scale, m->B, m->D, err);
    return clvae_mse_backward(m->ctx, dact, out, m->target, scale, m->B, m->D,
                              d->recon == CLVAE_RECON_MSE_SUM ? CLVAE_MSE_SUM : CLVAE_MSE_MEAN,
                              err);
}

clvae_status_t clvae_model_backward(clvae_model_t *m, clvae_error_t *err)
{
    clvae_buf_t none = {0};
    int pre;
    clvae_status_t s;
    if (m->d->classes && !m->target.mem)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "classifier backward without labels: the "
                          "forward pass was given none");
    clvae_net_mark(m->net, -1, 1);
    if ((s = clvae_net_zero_grads(m->net, err)) || (s = loss_backward(m, &pre, err))) return s;
    clvae_net_set_kl(m->net, m->beta, 1.0f / (float)m->B);
    return clvae_net_backward(m->net, pre, none, err);
}

clvae_status_t clvae_model_step(clvae_model_t *m, long step, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    /* the guard counts after whatever changed the gradients since backward (a hook) */
    clvae_status_t s = count_nonfinite(m, err);
    if (s || d->nparams == 0) return s;
    clvae_buf_t bad = clvae_buf_at(m->losses, 3);
    clvae_buf_t params = clvae_net_params(m->net), grads = clvae_net_grads(m->net);
    if (strcmp(d->optimizer, "sgd") == 0) {
        clvae_sgd_params_t hp = {d->lr, d->momentum, 0.0f, d->weight_decay};
        return clvae_sgd_step_guarded(m->ctx, params, grads, m->m1, &hp, step, d->nparams, bad,
                                      err);
    }
    clvae_adam_params_t hp = {d->lr, d->beta1, d->beta2, d->eps, d->weight_decay};
    return clvae_adam_step_guarded(m->ctx, params, grads, m->m1, m->m2, &hp, step, d->nparams,
                                   bad, err);
}

clvae_status_t clvae_model_losses(clvae_model_t *m, clvae_losses_t *out, clvae_error_t *err)
{
    float v[3];
    clvae_status_t s = clvae_buf_download(m->ctx, v, m->losses, 3, err);
    if (s) return s;
    out->total = v[0];
    out->recon = v[1];
    out->kl = (m->d->variational || m->d->classes) ? v[2] : 0.0f;
    return CLVAE_OK;
}

clvae_status_t clvae_model_example_losses(clvae_model_t *m, float *recon, float *kl,
                                          clvae_error_t *err)
{
    clvae_status_t s = CLVAE_OK;
    if (recon) s = clvae_buf_download(m->ctx, recon, m->rec_ex, m->B, err);
    if (!s && kl) s = clvae_buf_download(m->ctx, kl, m->kl_ex, m->B, err);
    return s;
}

clvae_status_t clvae_model_latents(clvae_model_t *m, float *mu, float *logvar, float *z,
                                   float *eps, clvae_error_t *err)
{
    size_t n = m->B * m->J;
    clvae_status_t s = CLVAE_OK;
    if (mu) s = clvae_buf_download(m->ctx, mu, clvae_net_latent(m->net, 0), n, err);
    if (!s && logvar) s = clvae_buf_download(m->ctx, logvar, clvae_net_latent(m->net, 1), n, err);
    if (!s && z) s = clvae_buf_download(m->ctx, z, clvae_net_output(m->net, m->d->latent, 0), n, err);
    if (!s && eps) s = clvae_buf_download(m->ctx, eps, clvae_net_latent(m->net, 2), n, err);
    return s;
}

clvae_status_t clvae_model_outputs(clvae_model_t *m, float *out, clvae_error_t *err)
{
    return clvae_buf_download(m->ctx, out, clvae_net_output(m->net, m->last, 0),
                              m->B * out_size(&m->d->layers[m->last]), err);
}

clvae_status_t clvae_model_activations(clvae_model_t *m, int layer, float *out, clvae_error_t *err)
{
    if (layer < 0 || layer >= m->d->nlayers)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "layer %d of a model of %d layers", layer,
                          m->d->nlayers);
    return clvae_buf_download(m->ctx, out, clvae_net_output(m->net, layer, 0),
                              m->B * out_size(&m->d->layers[layer]), err);
}

clvae_status_t clvae_model_decode(clvae_model_t *m, const float *z, size_t B, float *out,
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
    /* a conditional model decodes with the labels in clvae_model_labels */
    if (!s) s = clvae_net_forward_range(m->net, B, lat + 1, m->last, err);
    if (!s) s = clvae_model_outputs(m, out, err);
    return s;
}

int clvae_model_tensor(const clvae_model_desc_t *d, int i, char *name, size_t size, size_t *off,
                       int *ndim, uint64_t shape[4])
{
    return clvae_net_tensor(d, i, name, size, off, ndim, shape);
}
