/* Per-device tuned parameters: CLBlast's GEMM parameters and the tile / work-group sizes of
 * clvae's own kernels, read from a cache keyed by device and driver, and the tuner that
 * measures them (`clvae tune`). */
#ifndef CLVAE_TUNING_H
#define CLVAE_TUNING_H

#include "clvae/device/device.h"
#include "clvae/device/tensor.h"

struct clvae_model_desc; /* clvae/config.h */
typedef struct clvae_gemm_shape clvae_gemm_shape_t; /* clvae/device/blas.h */

/* The tuned value of an integer parameter of clvae's own kernels for the context's device
 * (e.g. "conv_direct.wg"), or dflt when the device has no tuned value for it or tuning is
 * turned off. Never fails: a bad tuning cache means defaults. */
int clvae_tuning_int(clvae_ctx_t *ctx, const char *key, int dflt);

/* Version of the tuning cache format; part of every cache key. */
#define CLVAE_TUNING_FORMAT 1

/* Longest parameter key (characters) and most parameters one context holds. */
#define CLVAE_TUNING_KEY_MAX 47
#define CLVAE_TUNING_MAX_PARAMS 96

/* Where a context's parameters come from. */
typedef enum clvae_tuning_state {
    CLVAE_TUNING_OFF = 0,  /* CLVAE_TUNING=0: defaults, no cache read */
    CLVAE_TUNING_UNTUNED,  /* no cache file for this device: defaults */
    CLVAE_TUNING_TUNED,    /* the device's cache file was read and is in use */
    CLVAE_TUNING_REJECTED  /* the cache file was unusable (one warning was logged): defaults */
} clvae_tuning_state_t;

/* The state for the context's device (reads the cache on first use). */
clvae_tuning_state_t clvae_tuning_state(clvae_ctx_t *ctx);

/* "tuned", "defaults (CLVAE_TUNING=0)", "defaults (untuned device)", "defaults (tuning cache
 * rejected)". */
const char *clvae_tuning_state_name(clvae_tuning_state_t s);

/* The cache folder: $CLVAE_TUNING_DIR, else $XDG_CACHE_HOME/clvae/tuning, else
 * ~/.cache/clvae/tuning ("" when none can be found). */
void clvae_tuning_dir(char *buf, size_t size);

/* The cache file of the context's device, "" when there is no cache folder. */
void clvae_tuning_path(const clvae_ctx_t *ctx, char *buf, size_t size);

/* The cache key text of the context's device (device name, driver version, platform version,
 * CLBlast version, format version), one item a line. */
void clvae_tuning_key(const clvae_ctx_t *ctx, char *buf, size_t size);

/* Sets a parameter for this context only (not written anywhere): the tuner's candidates, tests.
 * GEMM parameters ("xgemm.*", "xgemmdirect.*", "gemm.*") take effect at the next GEMM, the
 * direct convs' ("conv_direct.*", src/conv.c) at the next conv.
 * CLVAE_ERR_INVALID for a key that is empty, too long or has characters outside [A-Za-z0-9_.],
 * CLVAE_ERR_NOMEM when the table is full. */
clvae_status_t clvae_tuning_set(clvae_ctx_t *ctx, const char *key, int value, clvae_error_t *err);

/* Forgets every parameter of the family prefix (e.g. "xgemm." ; "" for all) in this context. */
void clvae_tuning_unset(clvae_ctx_t *ctx, const char *prefix);

/* One measured GEMM shape, as the tuner reports it and the cache records it. */
typedef struct clvae_tuning_figure {
    int trans_a, trans_b;   /* the transposes the GEMM is called with */
    size_t m, n, k;         /* sizes as clvae_gemm takes them */
    int calls;              /* calls per training step of the tuned models (0: extra shape) */
    double before_gflop_s;  /* with the default parameters */
    double after_gflop_s;   /* with the chosen parameters */
} clvae_tuning_figure_t;

/* Writes the context's parameters and the figures to the device's cache file (atomically:
 * a temporary file renamed over it) with a checksum. CLVAE_ERR_IO when it cannot be written,
 * CLVAE_ERR_NOT_FOUND when there is no cache folder. */
clvae_status_t clvae_tuning_save(clvae_ctx_t *ctx, const clvae_tuning_figure_t *figs, int nfigs,
                                 clvae_error_t *err);

/* Reads a cache file and checks it against the context's device: 0 and the parameters in
 * keys/values (up to max) and their count in *n, or CLVAE_ERR_CORRUPT / CLVAE_ERR_IO /
 * CLVAE_ERR_NOT_FOUND with the reason in err. Used by the loader and `clvae tune --show`. */
clvae_status_t clvae_tuning_read(const clvae_ctx_t *ctx, const char *path,
                                 char (*keys)[CLVAE_TUNING_KEY_MAX + 1], int *values, int max,
                                 int *n, clvae_error_t *err);

/* ---- the tuner --------------------------------------------------------------------------- */

/* What the tuner times candidates on. */
typedef struct clvae_tune_work {
    const clvae_gemm_shape_t *shapes; /* GEMM shapes (from the models, plus a square one) */
    int nshapes;
    int reps;                         /* timed repeats per shape (minimum taken) */
    double cutoff;                    /* a bench may stop once its sum passes this (0: never) */
    clvae_buf_t a, b, c;              /* GEMM operands large enough for every shape */
} clvae_tune_work_t;

/* A tunable parameter: its key and the values the tuner may try. */
typedef struct clvae_tune_param {
    const char *key;  /* e.g. "xgemm.MWG", "conv_direct.wg" */
    int ncand;        /* values in cand */
    int cand[12];     /* candidate values */
} clvae_tune_param_t;

/* A family of parameters tuned together: kernel parameters are added to the tuner as one more
 * entry of this kind (src/tune.c, table `families`). The tuner sets a candidate's values in
 * the context with clvae_tuning_set, then calls bench, which reads them back through
 * clvae_tuning_int (in a fresh context for each candidate when fresh_context is set, for
 * kernels whose parameters are baked into a program built once per context). */
typedef struct clvae_tune_family {
    const char *name;                 /* "xgemm" */
    const char *what;                 /* one line for the progress output */
    const clvae_tune_param_t *params;
    int nparams;
    int fresh_context;                /* each candidate runs in a new context */
    /* How many of the family's constraints this combination of values (params order) breaks
     * on the device: 0 when it may run (the tuner repairs others by changing one value at a
     * time while the count falls); NULL: every combination may run */
    int (*broken)(const clvae_ctx_t *ctx, const int *values);
    /* The starting values for the device (params order): the safe defaults; 0 when none */
    int (*start)(const clvae_ctx_t *ctx, int *values);
    /* 1 when the family's parameters affect this GEMM shape (only those are timed); NULL: all */
    int (*uses)(clvae_ctx_t *ctx, const clvae_gemm_shape_t *shape);
    /* Times the family's work with the context's current parameters: *seconds (the sum over
     * the workload of calls x the fastest repeat) and, when per_shape is not NULL, the time of
     * one call of each shape. An error means the candidate is skipped. */
    clvae_status_t (*bench)(clvae_ctx_t *ctx, const clvae_tune_work_t *work, double *seconds,
                            double *per_shape, clvae_error_t *err);
} clvae_tune_family_t;

/* How to tune. */
typedef struct clvae_tune_opts {
    double budget_s;                 /* seconds of search (the final measurement comes on top) */
    int quick;                       /* fewer repeats and candidates (tests) */
    const clvae_gemm_shape_t *shapes;/* the workload's GEMM shapes */
    int nshapes;
    void (*progress)(void *user, const char *line); /* NULL: quiet */
    void *user;
} clvae_tune_opts_t;

/* What clvae_tune found. */
typedef struct clvae_tune_result {
    int tried, failed;                              /* candidates timed, skipped as failing */
    double before_s, after_s;                       /* workload time with defaults / chosen */
    double conv_before_s, conv_after_s;             /* direct-path convs, timed in turns (0:
                                                       none, or the defaults stayed chosen) */
    int nparams;                                    /* the chosen parameters */
    char keys[CLVAE_TUNING_MAX_PARAMS][CLVAE_TUNING_KEY_MAX + 1];
    int values[CLVAE_TUNING_MAX_PARAMS];
    clvae_tuning_figure_t *figs;                    /* per shape (free with the result) */
    int nfigs;
    double seconds;                                 /* how long the search took */
} clvae_tune_result_t;

/* Forgets the context's parameters (clvae_tuning_unset(ctx, "")), then records the GEMM calls
 * one training step of each model (at its batch) makes, as clvae_bench_record_calls, each
 * distinct call once with its count over the layers (layer -1), merged with those already in
 * *shapes, a growing array: free() it. */
clvae_status_t clvae_tune_record_shapes(clvae_ctx_t *ctx,
                                        const struct clvae_model_desc *const *models, int nmodels,
                                        clvae_gemm_shape_t **shapes, int *nshapes,
                                        clvae_error_t *err);

/* Searches every family's parameters for the workload within the budget (coordinate descent
 * from the safe defaults, candidates that fail to build or launch skipped), leaves the best in
 * the context and measures before / after per shape. The GEMMs' "before" is timed first,
 * before any parameter is given to CLBlast, which keeps them for the rest of the process:
 * CLVAE_ERR_INVALID when this context gave it tuned ones already (no defaults left to time).
 * Does not write the cache. */
clvae_status_t clvae_tune(clvae_ctx_t *ctx, const clvae_tune_opts_t *o, clvae_tune_result_t *r,
                          clvae_error_t *err);

/* Frees the figures of a result. */
void clvae_tune_result_free(clvae_tune_result_t *r);

#endif
