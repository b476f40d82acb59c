/* Inside the objectives: the common state, and what each kind (autoencoder, classifier) provides. */
#ifndef CLVAE_OBJECTIVE_INTERNAL_H
#define CLVAE_OBJECTIVE_INTERNAL_H

#include "clvae/net/net.h"
#include "clvae/ops/diffusion.h"
#include "clvae/train/objective.h"
#include "clvae/train/optimizer.h"

/* One kind of objective: its loss columns, what it can do, its criterion. */
typedef struct clvae_objective_kind {
    const char *name;
    const char *const *columns;   /* loss column names, the total first (NULL-terminated) */
    unsigned can;                 /* CLVAE_CAN_* */
    /* after the network's forward: per-example terms and the batch means into losses */
    clvae_status_t (*losses)(clvae_objective_t *m, clvae_error_t *err);
    /* the loss's gradient into the output layer: into dpre (*pre = 1) or dact (*pre = 0) */
    clvae_status_t (*loss_backward)(clvae_objective_t *m, int *pre, clvae_error_t *err);
    /* the classes of the labels it reads from a data set (0: none), and their check */
    size_t (*label_classes)(const clvae_model_desc_t *d);
    clvae_status_t (*labels_usable)(const clvae_model_desc_t *d, const clvae_dataset_t *ds,
                                    clvae_error_t *err);
    /* a training batch into the inputs and targets (clvae_objective_load) */
    clvae_status_t (*load)(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                           const clvae_data_dev_t *labels, cl_mem idx, size_t start, size_t B,
                           long step, clvae_error_t *err);
    /* the forward of a loaded training batch */
    clvae_status_t (*train_forward)(clvae_objective_t *m, size_t B, long step, clvae_error_t *err);
    /* one training step of a loaded batch: forward, backward, the gradient hook, the guarded
     * optimizer steps (NULL: the common one, clvae_objective_train_step's) */
    clvae_status_t (*train_step)(clvae_objective_t *m, size_t B, long step,
                                 clvae_objective_hook_t hook, void *user, clvae_error_t *err);
    /* the test pass into values (one per column) */
    clvae_status_t (*test)(clvae_objective_t *m, const clvae_dataset_t *ds,
                           const clvae_data_dev_t *pixels, const clvae_data_dev_t *labels,
                           size_t n, size_t batch, double *values, clvae_error_t *err);
} clvae_objective_kind_t;

/* The kinds (src/train/objective_autoencoder.c, objective_classifier.c, objective_gan.c). */
extern const clvae_objective_kind_t clvae_objective_autoencoder, clvae_objective_classifier,
    clvae_objective_gan, clvae_objective_vqvae, clvae_objective_prior, clvae_objective_ddpm;

struct clvae_objective {
    clvae_ctx_t *ctx;
    const clvae_model_desc_t *d;
    clvae_net_t *net;            /* the network (a GAN's generator) */
    clvae_net_t *net2;           /* a GAN's discriminator; NULL for one network */
    const clvae_model_desc_t *d2;
    clvae_optimizer_t *opt2;     /* its optimizer */
    size_t max_batch, B, J, D;
    float out_lo;                /* the outputs' range starts at 0 or -1 (a tanh generator) */
    int last;                    /* the output layer */
    const clvae_objective_kind_t *kind;
    int ncols;                   /* the kind's loss columns: losses holds ncols + 1 floats */
    clvae_optimizer_t *opt;      /* the network's optimizer */
    clvae_buf_t rec_ex, kl_ex, losses;
    clvae_buf_t target_buf;      /* a loaded batch's target: a denoising model's clean images,
                                    a classifier's labels; NULL for the others */
    clvae_buf_t target;          /* the target of the last forward */
    float beta;                  /* the KL weight (clvae_objective_set_beta; starts at desc's) */
    size_t bytes;                /* device memory the model allocated besides the network */
    volatile sig_atomic_t *stop; /* checked between test batches (clvae_objective_set_stop) */
    int rank, nranks;            /* data-parallel: this rank of nranks (clvae_objective_set_ranks;
                                    0 of 1 alone) */
    /* a GAN: real images [max_batch, D] (scaled to the generator's range); the targets of the
     * discriminator's BCE [max_batch] each: real (real_label), fake (0), and 1 */
    clvae_buf_t real, t_real, t_fake, t_one;
    /* a prior: the identity [K, K] that turns code maps into one-hot planes; the VQ-VAE that
     * decodes its samples (not owned; clvae_objective_set_decoder) */
    clvae_buf_t eye;
    clvae_objective_t *decoder;
    /* a diffusion model: its schedule (host, double), the table [T, 2] of sqrt(abar_t) and
     * sqrt(1 - abar_t) on the device, the sampler of sample/score/compare; the clean images of
     * a batch (scaled to [-1, 1]) are in real, the noise eps (the target) in target_buf */
    clvae_schedule_t sched;
    clvae_buf_t coef;
    clvae_ddpm_sampler_t sampler;
};

/* The step whose Philox streams a training step draws from: step s (from 1) of rank r of N
 * draws those of (s - 1) N + r + 1, so that no two ranks share noise and one process keeps s;
 * step 0 (the test passes) stays 0 on every rank. */
static inline uint64_t clvae_objective_stream_step(const clvae_objective_t *m, long step)
{
    if (step <= 0) return 0;
    return (uint64_t)(step - 1) * (uint64_t)m->nranks + (uint64_t)m->rank + 1;
}

/* A prior's own buffers (src/train/objective_prior.c), after the common ones. */
clvae_status_t clvae_objective_prior_setup(clvae_objective_t *m, clvae_error_t *err);

/* A diffusion model's own buffers and schedule (src/train/objective_ddpm.c), after the common
 * ones. */
clvae_status_t clvae_objective_ddpm_setup(clvae_objective_t *m, clvae_error_t *err);

/* The step guard: NaN and infinities of grads (n floats) and of the loss value at loss, ADDED
 * to losses[ncols] (accumulate) or written there. */
clvae_status_t clvae_objective_count_nonfinite(clvae_objective_t *m, clvae_buf_t grads, size_t n,
                                               clvae_buf_t loss, int accumulate,
                                               clvae_error_t *err);

/* The autoencoders' reconstruction (src/train/objective_autoencoder.c, shared with the VQ-VAE):
 * per example into rec_ex and the batch mean into losses[1] (BCE, fused with a sigmoid output
 * when it can, or MSE against the target); its gradient into the output layer: into dpre
 * (*pre = 1) or dact (*pre = 0); a training batch's images (with [noise]: corrupted into the
 * input, clean into the target) and labels. */
clvae_status_t clvae_objective_recon_forward(clvae_objective_t *m, clvae_error_t *err);
clvae_status_t clvae_objective_recon_backward(clvae_objective_t *m, int *pre, clvae_error_t *err);
clvae_status_t clvae_objective_autoencoder_load(clvae_objective_t *m,
                                               const clvae_data_dev_t *pixels,
                                               const clvae_data_dev_t *labels, cl_mem idx,
                                               size_t start, size_t B, long step,
                                               clvae_error_t *err);

/* A test pass whose columns are the batch means of the loss columns: the first n examples in
 * batches, each loaded (kind->load) and forwarded (kind->train_forward, in evaluation mode:
 * no statistics move), every column weighted by its batch's size. */
clvae_status_t clvae_objective_test_means(clvae_objective_t *m, const clvae_dataset_t *ds,
                                          const clvae_data_dev_t *pixels,
                                          const clvae_data_dev_t *labels, size_t n,
                                          size_t batch, double *values, clvae_error_t *err);

/* Allocates n floats of the model's own (counted in its bytes), zeroed. */
clvae_status_t clvae_objective_alloc(clvae_objective_t *m, size_t n, clvae_buf_t *out,
                                     clvae_error_t *err);


#endif
