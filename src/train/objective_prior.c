/* The prior objective: an autoregressive model (PixelCNN) of a VQ-VAE's code maps, trained by
 * the softmax cross-entropy over the K codes at every position; sampling draws a map position
 * by position on the device and decodes it with the VQ-VAE. */
#include <math.h>
#include <stdlib.h>

#include "clvae/ops/basic.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"
#include "clvae/ops/vq.h"
#include "clvae/ops/xent.h"
#include "train/objective_internal.h"

/* K codes at P positions of the maps. */
static size_t codes_k(const clvae_objective_t *m) { return m->d->layers[0].out_c; }
static size_t positions(const clvae_objective_t *m)
{
    return m->d->layers[0].out_h * m->d->layers[0].out_w;
}

/* One-hot planes [B, K, P] of code maps [B, P] into the input: the VQ embedding with the
 * identity as codebook. */
static clvae_status_t one_hot(clvae_objective_t *m, clvae_buf_t codes, size_t B,
                              clvae_error_t *err)
{
    size_t K = codes_k(m);
    clvae_vq_shape_t sh = {B, K, positions(m), K};
    clvae_buf_t none = {0};
    return clvae_vq_embed(m->ctx, clvae_net_input(m->net), none, none, codes, m->eye, sh, err);
}

clvae_status_t clvae_objective_prior_setup(clvae_objective_t *m, clvae_error_t *err)
{
    size_t K = codes_k(m);
    float *eye = calloc(K * K, sizeof *eye);
    if (!eye) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t k = 0; k < K; k++) eye[k * K + k] = 1.0f;
    clvae_status_t s = clvae_objective_alloc(m, K * K, &m->eye, err);
    if (!s) s = clvae_buf_upload(m->ctx, m->eye, eye, K * K, err);
    free(eye);
    return s;
}

/* losses = [cross-entropy per map (nats), bits per code, accuracy]: per example into rec_ex
 * (the cross-entropy summed over the positions) and kl_ex (the positions whose most likely
 * code is the true one). */
static clvae_status_t losses(clvae_objective_t *m, clvae_error_t *err)
{
    size_t B = m->B, K = codes_k(m), P = positions(m);
    clvae_buf_t logits = clvae_net_output(m->net, m->last, 0), none = {0};
    clvae_reduce_shape_t one = {1, 1, B, 0, 0};
    float inv = 1.0f / (float)B;
    clvae_status_t s;
    if ((s = clvae_xent_spatial_forward(m->ctx, m->rec_ex, none, logits, m->target, B, K, P,
                                        err)) ||
        (s = clvae_xent_spatial_correct(m->ctx, m->kl_ex, logits, m->target, B, K, P, err)) ||
        (s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f, one,
                                  err)) ||
        (s = clvae_reduce_forward(m->ctx, clvae_buf_at(m->losses, 1), m->rec_ex,
                                  CLVAE_REDUCE_SUM, inv / ((float)P * 0.69314718f), 0.0f, one,
                                  err)))
        return s;
    return clvae_reduce_forward(m->ctx, clvae_buf_at(m->losses, 2), m->kl_ex, CLVAE_REDUCE_SUM,
                                inv / (float)P, 0.0f, one, err);
}

/* The cross-entropy's gradient into the logits (the last conv's dpre: identity output). */
static clvae_status_t loss_backward(clvae_objective_t *m, int *pre, clvae_error_t *err)
{
    size_t K = codes_k(m), P = positions(m);
    clvae_buf_t dpre = clvae_net_output_grad(m->net, m->last, 1);
    *pre = 1;
    clvae_status_t s = clvae_fill_forward(m->ctx, dpre.mem, dpre.off, 0.0f, m->B * K * P, err);
    if (s) return s;
    return clvae_xent_spatial_backward(m->ctx, dpre, clvae_net_output(m->net, m->last, 0),
                                       m->target, 1.0f / (float)m->B, m->B, K, P, err);
}

/* The batch's code maps into the targets, their one-hot planes into the input. */
static clvae_status_t load(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                           const clvae_data_dev_t *labels, cl_mem idx, size_t start, size_t B,
                           long step, clvae_error_t *err)
{
    (void)labels;
    (void)step;
    clvae_status_t s = clvae_data_gather(m->ctx, m->target_buf, pixels, idx, start, B, err);
    return s ? s : one_hot(m, m->target_buf, B, err);
}

static clvae_status_t train_forward(clvae_objective_t *m, size_t B, long step, clvae_error_t *err)
{
    (void)step;
    return clvae_objective_forward(m, B, 0, 0, 0, m->target_buf, err);
}


size_t clvae_objective_sample_dim(const clvae_objective_t *m)
{
    if (m->d->prior) return m->decoder ? clvae_objective_example_dim(m->decoder) : 0;
    return m->D;
}

void clvae_objective_set_decoder(clvae_objective_t *m, clvae_objective_t *vqvae)
{
    m->decoder = vqvae;
}

clvae_status_t clvae_objective_prior_sample(clvae_objective_t *m, size_t n, uint64_t seed,
                                            float temperature, float *out, clvae_error_t *err)
{
    if (!m->d->prior)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a prior", m->d->name);
    if (!m->decoder)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the prior %s has no VQ-VAE to decode its "
                          "codes (clvae_objective_set_decoder)", m->d->name);
    size_t K = codes_k(m), P = positions(m), D = clvae_objective_example_dim(m->decoder);
    size_t mb = clvae_objective_max_batch(m);
    if (clvae_objective_max_batch(m->decoder) < mb) mb = clvae_objective_max_batch(m->decoder);
    clvae_buf_t logits = clvae_net_output(m->net, m->last, 0);
    clvae_status_t s = CLVAE_OK;
    uint64_t offset = 0;
    for (size_t st = 0; st < n && !s; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        /* the map starts all code 0; position p's draw sees only positions before it (the
         * masked convolutions), so what the later positions hold does not matter */
        s = clvae_fill_forward(m->ctx, m->target_buf.mem, m->target_buf.off, 0.0f, B * P, err);
        for (size_t p = 0; p < P && !s; p++) {
            if ((s = one_hot(m, m->target_buf, B, err)) ||
                (s = clvae_net_forward(m->net, B, err)) ||
                (s = clvae_xent_sample_position(m->ctx, m->target_buf, logits, p, temperature,
                                                seed, offset, B, K, P, err)))
                break;
            offset += clvae_rng_blocks(mb);
        }
        if (!s) s = clvae_objective_decode_codes(m->decoder, m->target_buf, B, out + st * D, err);
    }
    return s;
}

static size_t label_classes(const clvae_model_desc_t *d)
{
    (void)d;
    return 0;
}

static const char *const columns[] = {"loss", "bits", "accuracy", NULL};

const clvae_objective_kind_t clvae_objective_prior = {
    .name = "prior", .columns = columns, .can = CLVAE_CAN_SAMPLE,
    .losses = losses, .loss_backward = loss_backward, .label_classes = label_classes,
    .load = load, .train_forward = train_forward, .test = clvae_objective_test_means,
};
