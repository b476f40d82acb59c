/* A model on the device: parameters, optimizer state, activations; forward, backward, step. */
#ifndef CLVAE_OBJECTIVE_H
#define CLVAE_OBJECTIVE_H

#include <signal.h>

#include "clvae/data/data.h"
#include "clvae/net/config.h"
#include "clvae/device/tensor.h"

/* What an objective can do, for the commands to ask (clvae_objective_can). */
enum {
    CLVAE_CAN_RECONSTRUCT = 1, /* inputs to outputs of their own shape (reconstruct, denoise) */
    CLVAE_CAN_ENCODE = 2,      /* inputs to latent codes (latent, interpolate) */
    CLVAE_CAN_DECODE = 4,      /* latent codes to images (manifold; implies SAMPLE) */
    CLVAE_CAN_CLASSIFY = 8,    /* inputs to class logits (score's judge) */
    CLVAE_CAN_SAMPLE = 16      /* draws new images (sample, score, compare): z through the
                                  decoder, or a prior's codes through its VQ-VAE */
};

/* Most loss columns an objective names. */
#define CLVAE_OBJECTIVE_MAX_COLUMNS 8

/* The objective of a resolved config: "autoencoder" or "classifier". */
const char *clvae_objective_kind_name(const clvae_model_desc_t *desc);

/* The layer whose output shape is the model's images (C x H x W): the input of an autoencoder
 * or a classifier, the generator's last layer of a GAN. */
const clvae_layer_t *clvae_objective_image_layer(const clvae_model_desc_t *desc);

/* What it can do (CLVAE_CAN_* bits). */
unsigned clvae_objective_can(const clvae_model_desc_t *desc);

/* Its loss columns, the total first ("loss", "recon", "kl"; a classifier "loss", "xent",
 * "acc"): the count, and the names through *names (NULL-terminated). */
int clvae_objective_columns(const clvae_model_desc_t *desc, const char *const **names);

/* A data set's labels on the device as the objective reads them (a conditional model's
 * classes, a classifier's targets), each checked against its classes (CLVAE_ERR_INVALID naming
 * the data set); *out stays empty for an objective that reads none. */
clvae_status_t clvae_objective_labels_upload(clvae_ctx_t *ctx, const clvae_model_desc_t *desc,
                                             const clvae_dataset_t *ds, clvae_data_dev_t *out,
                                             clvae_error_t *err);

/* Opaque device state of one model. */
typedef struct clvae_objective clvae_objective_t;

/* Allocates the model's buffers for batches of up to max_batch examples. desc must outlive
 * the model. Parameters start at zero: call clvae_objective_init_params or load them. Buffers that
 * cannot fit the device (one over its maximum allocation, all together over its global memory,
 * or an allocation the driver refuses) are CLVAE_ERR_DEVICE_MEMORY with the sizes and the
 * largest batch that fits. */
clvae_status_t clvae_objective_init(clvae_objective_t **out, clvae_ctx_t *ctx,
                                const clvae_model_desc_t *desc, size_t max_batch,
                                clvae_error_t *err);

/* Frees everything (NULL is fine). */
void clvae_objective_free(clvae_objective_t *m);

/* Glorot-uniform weights (Keras' default, fans from the kernel shape) and zero biases, drawn
 * from the Philox host stream keyed by seed: the same seed gives the same weights everywhere;
 * the weights' moving average ([train] ema) starts at them. */
clvae_status_t clvae_objective_init_params(clvae_objective_t *m, uint64_t seed, clvae_error_t *err);

/* The flat arrays, desc->nparams floats each: parameters, gradients, Adam's m and v. */
clvae_buf_t clvae_objective_params(const clvae_objective_t *m);
clvae_buf_t clvae_objective_grads(const clvae_objective_t *m);
clvae_buf_t clvae_objective_moment1(const clvae_objective_t *m);
clvae_buf_t clvae_objective_moment2(const clvae_objective_t *m);

/* The network's non-trained state (running statistics; clvae_net_state) and its floats. */
clvae_buf_t clvae_objective_state(const clvae_objective_t *m);
size_t clvae_objective_nstate(const clvae_objective_t *m);

/* The input batch buffer [max_batch, D]: fill it (e.g. clvae_data_gather) before forward. */
clvae_buf_t clvae_objective_input(const clvae_objective_t *m);

/* Forward over the first B examples of the input: encoder, latent (z = mu + sigma eps with
 * eps from the Philox stream (seed, offset) when sample is 1, else z = mu), decoder, losses
 * against the input (or against target when target.mem is not NULL, e.g. clean images for a
 * denoising AE). Losses stay on the device (clvae_objective_losses reads them).
 * A classifier (desc->classes > 0) runs all its layers; target is then its labels [B] (class
 * indices as floats, see xent.h) for the softmax cross-entropy and the hit flags, or a NULL
 * view for logits and activations only (no loss; backward refuses). sample/seed/offset are
 * unused there. Per-example values: recon = cross-entropy, kl = 1 for a hit else 0. */
clvae_status_t clvae_objective_forward(clvae_objective_t *m, size_t B, int sample, uint64_t seed,
                                   uint64_t offset, clvae_buf_t target, clvae_error_t *err);

/* Backward of the last forward's mean loss: gradients are zeroed, then filled. */
clvae_status_t clvae_objective_backward(clvae_objective_t *m, clvae_error_t *err);

/* One optimizer step (Adam or SGD per desc) over all parameters; step is 1-based. First the
 * count of NaN and infinite values among the total loss and the gradients goes to the loss
 * buffer's fourth float, on the device (no readback); the step is skipped on the device
 * (parameters and optimizer state untouched) when it is not 0. */
clvae_status_t clvae_objective_step(clvae_objective_t *m, long step, clvae_error_t *err);

/* Device view of the last forward's batch means [total, recon, kl] and, after a backward, the
 * non-finite count that decides whether the step is skipped (columns + 1 floats), so a loop can
 * copy them aside without a readback. */
clvae_buf_t clvae_objective_loss_buf(const clvae_objective_t *m);

/* The network's time steps [max_batch] (floats) that its [time_embed] reads (a diffusion
 * model's load and sampler fill it); a NULL view for a model without [time_embed]. */
clvae_buf_t clvae_objective_times(const clvae_objective_t *m);

/* A conditional model's labels buffer [max_batch]: class indices as floats (0.0f ... K-1), read
 * by forward (joined to the input and to z) and by decode; fill it (e.g. clvae_labels_gather)
 * before them. A NULL view for other models. */
clvae_buf_t clvae_objective_labels(const clvae_objective_t *m);

/* The classes K of a conditional model ([model] conditional); 0 for an unconditional one. */
size_t clvae_objective_classes(const clvae_objective_t *m);

/* The context the model lives on. */
clvae_ctx_t *clvae_objective_ctx(const clvae_objective_t *m);

/* Sets the KL weight of the next forwards and backwards (KL annealing); it starts at the
 * config's [loss] beta. */
void clvae_objective_set_beta(clvae_objective_t *m, float beta);

/* Reads the last forward's batch means, one per loss column (clvae_objective_columns: a VAE's
 * total = recon + beta * kl, recon, kl; a classifier's cross-entropy twice and the accuracy),
 * into values (one readback). */
clvae_status_t clvae_objective_losses(clvae_objective_t *m, float *values, clvae_error_t *err);

/* Reads per-example values of the last forward into host arrays of B floats each (NULL
 * skips): reconstruction term and KL term. */
clvae_status_t clvae_objective_example_losses(clvae_objective_t *m, float *recon, float *kl,
                                          clvae_error_t *err);

/* Reads the last forward's latent values into host arrays of B x J floats (NULL skips):
 * mu (z_mean), logvar (z_log_var; zeros for an AE), z (what the decoder got), eps. */
clvae_status_t clvae_objective_latents(clvae_objective_t *m, float *mu, float *logvar, float *z,
                                   float *eps, clvae_error_t *err);

/* Decodes B latent vectors z (host, B x J) into images (host, B x D, the output activation). */
clvae_status_t clvae_objective_decode(clvae_objective_t *m, const float *z, size_t B, float *out,
                                  clvae_error_t *err);

/* Reads the last forward's outputs (B x D, after the output activation; a classifier's
 * B x classes logits) into out. */
/* Inpainting by the latent (a VAE): B codes z [B, J] (host; the start, e.g. the encoder's means,
 * and the result) take `steps` Adam steps (rate lr) on the device on the mean over the B
 * examples of recon(decode(z), x) over the values where known [B, D] is not 0 plus |z|^2 / 2:
 * -log p(x_known | z) - log p(z) up to constants. The decoded images of the final z into out
 * [B, D] (NULL: none). A conditional model decodes with the labels in clvae_objective_labels.
 * The weights are untouched (their gradients are not: zero them before training). */
clvae_status_t clvae_objective_fit_latents(clvae_objective_t *m, size_t B, const float *x,
                                           const float *known, float *z, int steps, float lr,
                                           float *out, clvae_error_t *err);

clvae_status_t clvae_objective_outputs(clvae_objective_t *m, float *out, clvae_error_t *err);

/* Reads the last forward's output of layer i (after its activation; B x the layer's C*H*W)
 * into out: e.g. a classifier's penultimate features, layer nlayers - 2. */
clvae_status_t clvae_objective_activations(clvae_objective_t *m, int layer, float *out, clvae_error_t *err);

/* Profiling (needs a context opened with profiling): with on, forward and backward enqueue
 * markers between layers; clvae_objective_profile_read then ADDS each layer's device time of the
 * last forward and backward (ns) into fwd_ns[layer] and bwd_ns[layer] (arrays of nlayers).
 * The loss is counted with the last layer's forward; the latent's backward includes the
 * activation gradient of the encoder's top layer. */
clvae_status_t clvae_objective_profile(clvae_objective_t *m, int on, clvae_error_t *err);
clvae_status_t clvae_objective_profile_read(clvae_objective_t *m, double *fwd_ns, double *bwd_ns,
                                        clvae_error_t *err);

/* Bytes of device memory the model allocated (parameters, optimizer state, activations). */
size_t clvae_objective_device_bytes(const clvae_objective_t *m);

/* The largest batch of at most want examples whose model buffers fit ctx's device (each under
 * its maximum allocation, all under its global memory; the ops' workspaces not counted); 0 when
 * not even one example fits. */
size_t clvae_objective_fit_batch(const clvae_ctx_t *ctx, const clvae_model_desc_t *d, size_t want);

/* The largest batch the model holds. */
size_t clvae_objective_max_batch(const clvae_objective_t *m);

/* The latent size J and the example size D. */
size_t clvae_objective_latent_dim(const clvae_objective_t *m);
size_t clvae_objective_example_dim(const clvae_objective_t *m);

/* The autoencoder objective's evaluation (src/train/objective_autoencoder.c). */
/* Result of an evaluation. */
typedef struct clvae_eval_result {
    size_t n;              /* examples */
    double loss, recon, kl;/* means per example; loss = recon + kl whatever the model's beta:
                              for a VAE the negative ELBO (beta = 1); with [noise] the input
                              is corrupted and the target clean (denoising) */
    double plain_recon;    /* with [noise]: reconstruction of the clean input; else recon */
    int iwae_k;            /* samples of the importance-weighted bound, 0 when not computed */
    double log_px;         /* IWAE estimate of log p(x) in nats per example (BCE models) */
} clvae_eval_result_t;

/* Evaluates the model on the first n examples of dd in batches of the model's size: z = mu
 * (sample 0) or z = mu + sigma eps with the Philox stream (seed) (sample 1); with iwae_k > 0
 * also the IWAE estimate of log p(x) from iwae_k samples (VAE with BCE only). */
clvae_status_t clvae_evaluate(clvae_ctx_t *ctx, clvae_objective_t *model,
                              const clvae_model_desc_t *desc, const clvae_data_dev_t *dd,
                              size_t n, size_t batch, int sample, uint64_t seed, int iwae_k,
                              clvae_eval_result_t *out, clvae_error_t *err);

/* clvae_evaluate with the examples' labels on the device (clvae_labels_upload), which a
 * conditional model needs (NULL for others; clvae_evaluate is this with NULL). A model with
 * [noise] sees its inputs corrupted by the Philox noise stream (seed) and is scored against the
 * clean images, then once more on the clean images (plain_recon). */
clvae_status_t clvae_evaluate_labels(clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_model_desc_t *desc, const clvae_data_dev_t *dd,
                                     const clvae_data_dev_t *labels, size_t n, size_t batch,
                                     int sample, uint64_t seed, int iwae_k,
                                     clvae_eval_result_t *out, clvae_error_t *err);

/* What the trainer runs between an objective's backward and its optimizer step (the gradient
 * hook: an all-reduce over devices; nothing for one device): network k's gradients
 * (clvae_objective_net_grads) and the step's non-finite count (the last float of
 * clvae_objective_loss_buf) are on the device, and the guarded optimizer step that follows
 * reads both as the hook leaves them. */
typedef clvae_status_t (*clvae_objective_hook_t)(void *user, clvae_objective_t *m, int k,
                                                 clvae_error_t *err);

/* One training step of the loaded batch (clvae_objective_load) of step `step`: for one network
 * train_forward, backward, hook, step; a GAN its discriminator step (and, every d_steps steps,
 * its generator step), each with the hook before its guarded optimizer step. The batch's loss
 * columns and non-finite count are in clvae_objective_loss_buf afterwards. */
clvae_status_t clvae_objective_train_step(clvae_objective_t *m, size_t B, long step,
                                          clvae_objective_hook_t hook, void *user,
                                          clvae_error_t *err);

/* A stop flag (set asynchronously, e.g. by a signal handler; NULL: none) that the test passes
 * (clvae_objective_test, clvae_evaluate, the classifier's) check between batches: when it is
 * set they return early with partial values, and clvae_objective_stopped says so. */
void clvae_objective_set_stop(clvae_objective_t *m, volatile sig_atomic_t *stop);
int clvae_objective_stopped(const clvae_objective_t *m);

/* Network k's gradient read-back during its backward passes (clvae_net_watch_grads: host holds
 * its nparams floats; NULL stops it) and the last backward's reads (clvae_net_grad_reads). */
void clvae_objective_watch_grads(clvae_objective_t *m, int k, float *host);
int clvae_objective_grad_reads(const clvae_objective_t *m, int k, const cl_event **events,
                               const size_t **from);

/* Adds the NaN and infinite values of network k's gradients (as a hook left them) to the
 * step's non-finite count (the last float of clvae_objective_loss_buf). */
clvae_status_t clvae_objective_recount(clvae_objective_t *m, int k, clvae_error_t *err);

/* Data-parallel training: this process is rank `rank` of `nranks` (0 of 1 alone); training
 * step s then draws its noise (a VAE's eps, a DDPM's t and eps, a GAN's z, a DAE's corruption)
 * from the Philox streams of step (s - 1) nranks + rank + 1, so that the ranks' examples get
 * independent noise; one process keeps step s's. */
void clvae_objective_set_ranks(clvae_objective_t *m, int rank, int nranks);

/* The networks it owns (1, or 2 for a GAN), each one's name ("" for a single network, else
 * "generator", "discriminator": its checkpoint prefix), description, and arrays. */
int clvae_objective_nets(const clvae_objective_t *m);
const char *clvae_objective_net_name(const clvae_objective_t *m, int k);
const clvae_model_desc_t *clvae_objective_net_desc(const clvae_objective_t *m, int k);
clvae_buf_t clvae_objective_net_params(const clvae_objective_t *m, int k);
clvae_buf_t clvae_objective_net_grads(const clvae_objective_t *m, int k);
clvae_buf_t clvae_objective_net_moment(const clvae_objective_t *m, int k, int which);
clvae_buf_t clvae_objective_net_state(const clvae_objective_t *m, int k);
/* Network k's moving average of the weights ([train] ema; a NULL view without), and its reset
 * to the network's weights (done by init_params, and by a checkpoint restore that has none). */
clvae_buf_t clvae_objective_net_ema(const clvae_objective_t *m, int k);
clvae_status_t clvae_objective_net_ema_reset(clvae_objective_t *m, int k, clvae_error_t *err);

/* Loads the batch of training step `step` (1-based): the images of examples idx[start ..
 * start + B) and, for an objective that reads them, their labels (from
 * clvae_objective_labels_upload); a denoising model's input gets the [noise] of the Philox
 * stream (seed, step), its clean images become the target. */
clvae_status_t clvae_objective_load(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                                    const clvae_data_dev_t *labels, cl_mem idx, size_t start,
                                    size_t B, long step, clvae_error_t *err);

/* Forward of the loaded batch of training step `step`, with its latent noise (a VAE's eps of
 * the stream (seed, step)) and its target. */
clvae_status_t clvae_objective_train_forward(clvae_objective_t *m, size_t B, long step,
                                             clvae_error_t *err);

/* The test pass after an epoch: each loss column's mean over the first n examples of ds
 * (images in pixels, labels as clvae_objective_labels_upload gives them) into values. */
clvae_status_t clvae_objective_test(clvae_objective_t *m, const clvae_dataset_t *ds,
                                    const clvae_data_dev_t *pixels, const clvae_data_dev_t *labels,
                                    size_t n, size_t batch, double *values, clvae_error_t *err);

/* A VQ-VAE's code maps: the encoder and quantizer of B images already in the input, the code
 * indices [B, P] (as floats) into codes; and the decoder's images [B, D] into out from code
 * maps on the device (codes [B, P], indices as floats). Other kinds: CLVAE_ERR_INVALID. */
clvae_status_t clvae_objective_encode_codes(clvae_objective_t *m, size_t B, float *codes,
                                            clvae_error_t *err);
clvae_status_t clvae_objective_decode_codes(clvae_objective_t *m, clvae_buf_t codes, size_t B,
                                            float *out, clvae_error_t *err);

/* A prior: the VQ-VAE objective that decodes its code maps (owned by the caller, alive while
 * the prior samples); n samples drawn position by position on the device (each code from the
 * softmax of its logits / temperature, uniforms of the stream (seed, offsets from 0)) and
 * decoded into out [n, D] (D: the VQ-VAE's image size). */
void clvae_objective_set_decoder(clvae_objective_t *m, clvae_objective_t *vqvae);
/* The size of one generated image: a prior's VQ-VAE's image (0 before set_decoder), else the
 * example size. */
size_t clvae_objective_sample_dim(const clvae_objective_t *m);
clvae_status_t clvae_objective_prior_sample(clvae_objective_t *m, size_t n, uint64_t seed,
                                            float temperature, float *out, clvae_error_t *err);

/* A diffusion model's sampler: DDIM over `steps` evenly spaced steps (2 to T) with eta in
 * [0, 1] (0: deterministic given x_T; 1 with steps = T: ancestral DDPM with sigma_t^2 the
 * posterior variance), or ancestral DDPM over all T steps with sigma_t^2 = beta_t (ancestral 1;
 * steps and eta unused). */
typedef struct clvae_ddpm_sampler {
    size_t steps;
    float eta;
    int ancestral;
    float guidance; /* classifier-free guidance of a conditional model: eps = eps_u + g (eps_c -
                       eps_u), 1 the conditional eps alone (one forward per step; else two), 0
                       the unconditional one; 0 to 100, and only 1 for an unconditional model */
    int clip;       /* 1: the predicted x_0 clipped to [-1, 1] at each step (the images' range;
                       Ho et al.'s clip_denoised), 0: the step as the seed writes it */
} clvae_ddpm_sampler_t;

/* The sampler that sample, score and compare use (clvae_objective_ddpm_sample with NULL); it
 * starts as DDIM over min(T, 50) steps, eta 0, guidance 1, x_0 clipped. CLVAE_ERR_INVALID for
 * a model that is not a diffusion model, steps outside 2..T, eta outside [0, 1], or a guidance outside
 * [0, 100] or other than 1 for an unconditional model. */
clvae_status_t clvae_objective_ddpm_set_sampler(clvae_objective_t *m,
                                                const clvae_ddpm_sampler_t *smp,
                                                clvae_error_t *err);

/* A diffusion model's n samples into out [n, D] in [0, 1] ((x_0 + 1) / 2, clipped): x_T drawn
 * from the normal stream (seed, offset 0), then every step on the device (the time steps
 * filled in, the network's eps, one step kernel with z from the stream (seed, offsets after
 * x_T's)), no readback until x_0; smp NULL: the model's sampler. Batches of the model's size.
 * labels: a conditional model's class for each sample (n ints below K; required), NULL for an
 * unconditional model. */
clvae_status_t clvae_objective_ddpm_sample(clvae_objective_t *m, size_t n, uint64_t seed,
                                           const clvae_ddpm_sampler_t *smp, const int *labels,
                                           float *out, clvae_error_t *err);

/* Inpainting with a diffusion model: clvae_objective_ddpm_sample's draws, with the values of x
 * [n, D] (images in [0, 1]) where known [n, D] is not 0 put over x_t after every step (and x_T),
 * forward-noised to that step (sqrt(abar_t) (2 x - 1) + sqrt(1 - abar_t) z, z from normal
 * streams of their own), exactly at the last; out [n, D] as there. */
clvae_status_t clvae_objective_ddpm_inpaint(clvae_objective_t *m, size_t n, uint64_t seed,
                                            const clvae_ddpm_sampler_t *smp, const int *labels,
                                            const float *x, const float *known, float *out,
                                            clvae_error_t *err);

/* The denoising chain of n samples (up to one batch): clvae_objective_ddpm_sample's draws, with
 * F frames (2 to S + 1) of x kept on the way: frame f after round(f S / (F - 1)) of the S steps
 * (frame 0 x_T, frame F - 1 x_0), into frames [F, n, D] in [0, 1] ((x + 1) / 2, clipped), and
 * the step each holds into t_of [F] (T for x_T, -1 for x_0). */
clvae_status_t clvae_objective_ddpm_chain(clvae_objective_t *m, size_t n, uint64_t seed,
                                          const clvae_ddpm_sampler_t *smp, const int *labels,
                                          size_t F, float *frames, long *t_of, clvae_error_t *err);

#endif
