/* Checkpoints: a model's parameters, optimizer state and training position in one safetensors file. */
#ifndef CLVAE_CHECKPOINT_H
#define CLVAE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/train/objective.h"

/* Where a training run stands. */
typedef struct clvae_train_state {
    long epoch;          /* epochs finished */
    long step;           /* optimizer steps taken */
    size_t cursor;       /* batches done in the unfinished epoch (0 at an epoch boundary) */
    int ncols;           /* the objective's loss columns (clvae_objective_columns) */
    double sums[CLVAE_OBJECTIVE_MAX_COLUMNS]; /* that epoch's loss sums so far, per column,
                                                 weighted by batch */
    size_t seen;         /* examples those sums cover */
    double seconds;      /* training time spent in the unfinished epoch */
} clvae_train_state_t;

/* A checkpoint read into host memory. */
typedef struct clvae_checkpoint {
    char *config;             /* the model's config text (INI) */
    char *metrics;            /* metrics.csv text so far ("" when none) */
    char version[32];         /* clvae version that wrote it */
    float *params;            /* [nparams] in the model's flat layout, once bound to a model */
    float *m1, *m2;           /* optimizer moments [nparams], or NULL when not stored */
    float *ema;               /* the weights' moving average [nparams] ([train] ema), or NULL */
    float *buffers;           /* non-trained state [nstate] (running statistics), once bound */
    int has_state;            /* the training position below is valid */
    clvae_train_state_t state;
    void *file;               /* the loaded safetensors file (internal) */
} clvae_checkpoint_t;

/* Writes the model's parameters (PyTorch state_dict names, see clvae_net_tensor), and
 * unless state is NULL the optimizer moments and training position, with the config text,
 * version, metrics and a SHA-256 of all tensor data in the metadata; atomically (the previous
 * file stays intact on failure). A model whose parameters or moments hold a NaN or an infinity
 * is not saved: CLVAE_ERR_CORRUPT naming the file and the first such tensor. */
clvae_status_t clvae_checkpoint_save(const char *path, clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_model_desc_t *desc, const char *config_text,
                                     const clvae_train_state_t *state, const char *metrics,
                                     clvae_error_t *err);

/* One network of an objective in a checkpoint: its tensors are named "prefix.<name>" (the
 * empty prefix: the bare names, as a single-network model's) for its parameters (PyTorch
 * state_dict names, clvae_net_tensor) and its optimizer's moments (optimizer.exp_avg,
 * optimizer.exp_avg_sq). */
typedef struct clvae_checkpoint_net {
    const char *prefix;              /* "" for a single network, else e.g. "generator" */
    const clvae_model_desc_t *desc;  /* the network's layers: its tensor names and shapes */
    clvae_buf_t params;              /* [desc->nparams] on the device */
    clvae_buf_t moment1, moment2;    /* its optimizer's state (saved with a training state) */
    clvae_buf_t state;               /* [desc->nstate] non-trained state (running statistics,
                                        clvae_net_state_tensor's names); NULL view when none */
    clvae_buf_t ema;                 /* the weights' moving average ([train] ema; saved with a
                                        training state as optimizer.ema); NULL view when none */
} clvae_checkpoint_net_t;

/* clvae_checkpoint_save for an objective of several networks, each under its prefix; desc is
 * the objective's config (its loss columns). */
clvae_status_t clvae_checkpoint_save_nets(const char *path, clvae_ctx_t *ctx,
                                          const clvae_checkpoint_net_t *nets, int nnets,
                                          const clvae_model_desc_t *desc, const char *config_text,
                                          const clvae_train_state_t *state, const char *metrics,
                                          clvae_error_t *err);

/* Reads a checkpoint and checks its data checksum and metadata (CLVAE_ERR_CORRUPT with a
 * message naming the file when anything is wrong); parameters are bound with
 * clvae_checkpoint_bind. */
clvae_status_t clvae_checkpoint_read(const char *path, clvae_checkpoint_t *ck, clvae_error_t *err);

/* Copies the checkpoint's tensors into the model's flat layout (ck->params, ck->buffers, and
 * ck->m1/m2 when stored). Every parameter and state tensor of desc must be present with the
 * same shape; a mismatch is CLVAE_ERR_INVALID naming the tensor and both shapes. */
clvae_status_t clvae_checkpoint_bind(clvae_checkpoint_t *ck, const clvae_model_desc_t *desc,
                                     const char *path, clvae_error_t *err);

/* clvae_checkpoint_bind for the network saved under prefix (clvae_checkpoint_net_t); a
 * missing tensor is named with its prefix. */
clvae_status_t clvae_checkpoint_bind_net(clvae_checkpoint_t *ck, const clvae_model_desc_t *desc,
                                         const char *prefix, const char *path, clvae_error_t *err);

/* Uploads bound parameters and state (and moments when present and want_moments) into the
 * model. */
clvae_status_t clvae_checkpoint_apply(const clvae_checkpoint_t *ck, clvae_ctx_t *ctx,
                                      clvae_objective_t *model, size_t nparams, int want_moments,
                                      clvae_error_t *err);

/* What clvae_checkpoint_restore loads besides parameters and state. */
enum {
    CLVAE_RESTORE_MOMENTS = 1, /* the optimizer's moments and the weights' average (training) */
    CLVAE_RESTORE_RAW = 2      /* in use: the trained weights even when an average is kept */
};

/* Binds and uploads every network of the objective from a read checkpoint (each under its
 * name prefix, clvae_objective_net_name): parameters, state, and with CLVAE_RESTORE_MOMENTS in
 * how the optimizer moments and the weights' average when stored (a network that keeps an
 * average but finds none starts it at its weights). Without it (a model in use, not trained
 * on) a network whose file keeps an average gets the average as its weights, unless how has
 * CLVAE_RESTORE_RAW. Errors name the file and the tensor. */
clvae_status_t clvae_checkpoint_restore(clvae_checkpoint_t *ck, clvae_ctx_t *ctx,
                                        clvae_objective_t *model, int how, const char *path,
                                        clvae_error_t *err);

/* Frees the checkpoint (a zeroed one is fine). */
void clvae_checkpoint_free(clvae_checkpoint_t *ck);

/* Loads only weights from any safetensors file with clvae's tensor names (e.g. exported from
 * the equivalent PyTorch model) into the model: clvae_checkpoint_read without the clvae
 * metadata requirements, then bind and apply. */
clvae_status_t clvae_checkpoint_load_weights(const char *path, clvae_ctx_t *ctx,
                                             clvae_objective_t *model, const clvae_model_desc_t *desc,
                                             clvae_error_t *err);

#endif
