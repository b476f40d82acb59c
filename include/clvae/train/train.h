/* Training runs (epochs over a dataset on the device, checkpoints, metrics) and evaluation. */
#ifndef CLVAE_TRAIN_H
#define CLVAE_TRAIN_H

#include <signal.h>

#include "clvae/train/checkpoint.h"
#include "clvae/train/comm.h"
#include "clvae/data/data.h"
#include "clvae/train/objective.h"

/* One row of metrics.csv. */
typedef struct clvae_epoch_metrics {
    long epoch;            /* 1-based */
    int ncols;             /* the objective's loss columns (clvae_objective_columns) */
    double train[CLVAE_OBJECTIVE_MAX_COLUMNS]; /* each column's mean over the epoch's batches
                                                  (per example): loss, recon, kl or loss, xent,
                                                  acc */
    double test[CLVAE_OBJECTIVE_MAX_COLUMNS];  /* the same on the test set */
    double seconds;        /* training time of the epoch (without the test pass) */
    double images_per_s;   /* training images per second */
    double beta;           /* the KL weight of the epoch's training loss (KL annealing) */
} clvae_epoch_metrics_t;

/* What a progress callback is told. */
typedef struct clvae_progress {
    int epoch_done;        /* 0: during an epoch; 1: the epoch finished (metrics is set) */
    long epoch, epochs;    /* 1-based epoch, total */
    size_t batch, nbatches;/* batches done in this epoch */
    double loss;           /* running mean loss of the epoch */
    double seconds;        /* elapsed in this epoch */
    double images_per_s;
    const clvae_epoch_metrics_t *metrics;
    long skipped;          /* steps of this epoch skipped for a NaN or infinite loss or gradient
                              (counted since this call of clvae_train_run) */
    clvae_objective_t *model; /* at the end of an epoch: the model as saved (e.g. to draw its
                                 samples of the epoch); NULL during an epoch */
    double test_seconds;   /* at the end of an epoch: its test pass (0: none this epoch) */
    size_t test_n;         /* at the end of an epoch: the test examples it covered; during an
                              epoch (not 0): its test pass over that many examples begins */
    int fresh;             /* during an epoch: 1 when the losses were just read back (a row of
                              steps.csv; loss is then up to date), 0 after a batch whose losses
                              stay on the device (loss: as of the last readback) */
    long step;             /* optimizer steps taken */
    size_t seen;           /* examples of this epoch whose losses were read back */
} clvae_progress_t;

/* Where a data-parallel rank's steps went (clvae_train_opts_t's stats; seconds summed over
 * the steps of this call). */
typedef struct clvae_train_comm_stats {
    long steps;            /* training steps taken */
    double step_s;         /* whole steps: load, forward, backward, the hook, optimizer */
    double readback_s;     /* gradients and the non-finite count to the host (after the
                              device finished the step's work) */
    double wait_s;         /* waiting for the other ranks to reach the sum (a barrier) */
    double sum_s;          /* the sum over the ranks: MPI calls and the ordered additions */
    double writeback_s;    /* the summed gradients back to the device */
    double bytes_sent;     /* by this rank, in the gradient sums */
    double pieces;         /* pieces of the gradient sums */
    int overlapped;        /* the sum overlapped the backward pass: readback_s is then the wait
                              for the device's gradients (its backward included), wait_s 0 */
} clvae_train_comm_stats_t;

/* How to train. */
typedef struct clvae_train_opts {
    const char *out_dir;      /* run folder: checkpoint.safetensors, metrics.csv */
    const char *config_text;  /* resolved config text stored in checkpoints */
    const char *data_dir;     /* where dataset specs are looked up */
    int resume;               /* continue from out_dir/checkpoint.safetensors */
    const char *init_path;    /* start from these weights (safetensors), or NULL */
    int log_every;            /* batches between loss readbacks (0: 20) */
    void (*progress)(void *user, const clvae_progress_t *p);
    void *user;
    volatile sig_atomic_t *stop; /* set asynchronously (signal): save and return early */
    /* data-parallel training (NULL or a communicator of one rank: this process alone): each
     * rank trains on its slice of every global batch (train.batch, which must split evenly
     * over the ranks), gradients are summed in rank order after each backward (in pieces of
     * bucket_floats floats, 0: 262144, 1 MiB), the ranks decide together to stop, skip a step
     * or give up, and rank 0 alone writes the run folder */
    clvae_comm_t *comm;
    size_t bucket_floats;
    /* called after each network's backward (and the gradient sum over the ranks), before its
     * guarded optimizer step, with network k's gradients on the device; the guard counts the
     * non-finite values the hook leaves there; NULL: nothing */
    clvae_objective_hook_t grad_hook;
    clvae_train_comm_stats_t *stats; /* filled when not NULL (data-parallel runs) */
    int no_overlap;           /* 1: the sum waits for the whole backward pass (else it starts
                                 with the last layers' gradients while the first layers'
                                 backward still runs) */
} clvae_train_opts_t;

/* Trains desc on its [data] train set for its epochs, evaluating on the test set after each
 * epoch, writing the checkpoint and then metrics.csv every epoch (and the checkpoint alone when
 * *stop is set, after the current batch). *interrupted tells whether it returned early.
 * A step whose loss or gradient holds a NaN or an infinity is skipped on the device (weights
 * and optimizer state untouched) and left out of the epoch's losses; more than
 * desc->max_skipped such steps in a row (or a whole epoch of them) stop the run with
 * CLVAE_ERR_INVALID naming the epoch and batches; no checkpoint is written from that state.
 * A failed save stops the run with its cause and what the run folder still holds; with
 * resume, metrics.csv is first rewritten from the checkpoint's own copy. Leftover temp files
 * of a killed writer are removed. A checkpoint saved in the middle of an epoch resumes only
 * with the same batch size, limit, seed, shuffling and training data (else CLVAE_ERR_INVALID
 * naming the setting). Without resume, a run folder that already holds a checkpoint
 * is refused (CLVAE_ERR_INVALID) rather than overwritten. Test hook: CLVAE_FAULT_NAN_BATCH=B or B-C puts a NaN into
 * the input of training steps B to C (1-based, counted across epochs). */
clvae_status_t clvae_train_run(clvae_ctx_t *ctx, const clvae_model_desc_t *desc,
                               const clvae_train_opts_t *o, int *interrupted, clvae_error_t *err);

/* The metrics.csv header of an objective with these loss columns into buf: epoch, train_<c>
 * for each column, test_<c> for each, seconds, images_per_s, beta. */
void clvae_metrics_header_of(const char *const *columns, int ncols, char *buf, size_t size);

/* The metrics.csv header line of an autoencoder (without newline). */
const char *clvae_metrics_header(void);

/* The first 7 metrics.csv columns of a classifier, whose recon and KL columns hold the
 * cross-entropy and the accuracy (0..1); the columns after them are clvae_metrics_header()'s. */
const char *clvae_metrics_columns_classifier(void);

/* Parses metrics.csv text into rows (malloc'd, *n of them): the header says the loss columns
 * (train_<c> ...); bad lines are CLVAE_ERR_CORRUPT. */
clvae_status_t clvae_metrics_parse(const char *text, clvae_epoch_metrics_t **rows, size_t *n,
                                   clvae_error_t *err);

#endif
