/* The VQ-VAE objective: reconstruction + codebook term + beta * commitment term, with the
 * quantizer's perplexity, codes in use and restarts as columns. */
#include <stdlib.h>

#include "clvae/ops/basic.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"
#include "clvae/ops/vq.h"
#include "train/objective_internal.h"

enum { TOTAL, RECON, CODEBOOK, COMMITMENT, PERPLEXITY, CODES, RESTARTS };

/* The [vq] layer of the network (the model's latent). */
static clvae_net_vq_t vq_of(const clvae_objective_t *m)
{
    clvae_net_vq_t q;
    clvae_net_vq(m->net, &q);
    return q;
}

/* losses = [total, recon, codebook, commitment, perplexity, codes, restarts]: the batch means
 * of the per-example terms (term: sum of ||z - q||^2 over the example's positions; the codebook
 * term has the same value, and is 0 when moving averages train the codebook), then the
 * quantizer's statistics. kl_ex keeps the per-example term. */
static clvae_status_t losses_forward(clvae_objective_t *m, clvae_error_t *err)
{
    const clvae_layer_t *L = &m->d->layers[m->d->latent];
    clvae_net_vq_t q = vq_of(m);
    clvae_reduce_shape_t one = {1, 1, m->B, 0, 0};
    float inv = 1.0f / (float)m->B, w = L->vq_beta + (L->vq_ema ? 0.0f : 1.0f);
    clvae_status_t s;
    if ((s = clvae_objective_recon_forward(m, err)) ||
        (s = clvae_buf_copy(m->ctx, m->kl_ex, q.term, m->B, err)) ||
        (s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f, one,
                                  err)) ||
        (s = clvae_reduce_forward(m->ctx, m->losses, q.term, CLVAE_REDUCE_SUM, inv * w, 1.0f,
                                  one, err)) ||
        (s = clvae_reduce_forward(m->ctx, clvae_buf_at(m->losses, COMMITMENT), q.term,
                                  CLVAE_REDUCE_SUM, inv, 0.0f, one, err)) ||
        (s = clvae_buf_copy(m->ctx, clvae_buf_at(m->losses, PERPLEXITY), q.stats, 3, err)))
        return s;
    clvae_buf_t cb = clvae_buf_at(m->losses, CODEBOOK);
    if (L->vq_ema) return clvae_fill_forward(m->ctx, cb.mem, cb.off, 0.0f, 1, err);
    return clvae_buf_copy(m->ctx, cb, clvae_buf_at(m->losses, COMMITMENT), 1, err);
}

/* A training step's forward: no latent noise to draw; the step's stream (seed, step) names the
 * rows that restart dead codes. */
static clvae_status_t train_forward(clvae_objective_t *m, size_t B, long step, clvae_error_t *err)
{
    uint64_t per_step = clvae_rng_blocks(m->max_batch * m->J);
    return clvae_objective_forward(m, B, 0, m->d->seed,
                                   clvae_objective_stream_step(m, step) * per_step, m->target_buf,
                                   err);
}


static size_t label_classes(const clvae_model_desc_t *d)
{
    (void)d;
    return 0;
}

static const char *const columns[] = {"loss", "recon", "codebook", "commitment",
                                      "perplexity", "codes", "restarts", NULL};

const clvae_objective_kind_t clvae_objective_vqvae = {
    .name = "vqvae", .columns = columns, .can = CLVAE_CAN_RECONSTRUCT,
    .losses = losses_forward, .loss_backward = clvae_objective_recon_backward,
    .label_classes = label_classes, .load = clvae_objective_autoencoder_load,
    .train_forward = train_forward, .test = clvae_objective_test_means,
};

clvae_status_t clvae_objective_encode_codes(clvae_objective_t *m, size_t B, float *codes,
                                            clvae_error_t *err)
{
    clvae_net_vq_t q;
    if (!clvae_net_vq(m->net, &q))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a VQ-VAE: it has no codes",
                          m->d->name);
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "codes of %zu images (the model holds 1 to "
                          "%zu)", B, m->max_batch);
    m->B = B;
    clvae_status_t s = clvae_net_forward_range(m->net, B, 1, q.layer, err);
    return s ? s : clvae_buf_download(m->ctx, codes, q.codes, B * q.P, err);
}

clvae_status_t clvae_objective_decode_codes(clvae_objective_t *m, clvae_buf_t codes, size_t B,
                                            float *out, clvae_error_t *err)
{
    clvae_net_vq_t q;
    if (!clvae_net_vq(m->net, &q))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a VQ-VAE: it has no codes",
                          m->d->name);
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "decode of %zu code maps (the model holds 1 "
                          "to %zu)", B, m->max_batch);
    m->B = B;
    clvae_vq_shape_t sh = {B, q.D, q.P, q.K};
    clvae_buf_t none = {0};
    clvae_status_t s = clvae_vq_embed(m->ctx, clvae_net_output(m->net, q.layer, 0), none, none,
                                      codes, q.codebook, sh, err);
    if (!s) s = clvae_net_forward_range(m->net, B, q.layer + 1, m->last, err);
    return s ? s : clvae_objective_outputs(m, out, err);
}
