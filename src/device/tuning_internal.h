/* The context's tuned-parameter table, shared by tuning.c, tune.c and blas.c (not public). */
#ifndef CLVAE_TUNING_INTERNAL_H
#define CLVAE_TUNING_INTERNAL_H

#include "clvae/device/tuning.h"

/* The most numbers one recorded op shape holds. */
#define CLVAE_TUNE_OP_DIMS 16
/* The longest family name of a recorded op, without its NUL. */
#define CLVAE_TUNE_FAMILY_MAX 15

/* An op call recorded for the tuner, opaque to this layer: the op family that recorded it
 * ("conv"), the numbers that family packed its shape into (only it knows their meaning), and
 * how many calls with that shape one training step makes. */
typedef struct clvae_tune_op {
    char family[CLVAE_TUNE_FAMILY_MAX + 1];
    int ndims;
    size_t dims[CLVAE_TUNE_OP_DIMS];
    int calls;
} clvae_tune_op_t;

/* A context's parameters: from the cache file (once), or set by the tuner. */
typedef struct clvae_tuning {
    int loaded;                 /* the cache was looked for */
    clvae_tuning_state_t state;
    int n;
    char key[CLVAE_TUNING_MAX_PARAMS][CLVAE_TUNING_KEY_MAX + 1];
    int value[CLVAE_TUNING_MAX_PARAMS];
    unsigned generation;        /* changes whenever a value changes */
    int tuning;                 /* the tuner is timing candidates: a GEMM that fails to launch
                                   fails (no retry with other parameters) */
    int recording;              /* clvae_gemm notes its calls into shapes[] (blas.c; equal
                                   calls of one layer and pass counted together) */
    int layer, backward;        /* while recording: the layer (and pass) running (-1: none) */
    clvae_gemm_shape_t *shapes;
    int nshapes, cap;
    int record_failed;          /* out of host memory while recording */
    clvae_tune_op_t *ops;       /* op shapes noted while recording (kept until the next) */
    int nops, capops;
    clvae_buf_t cbuf[7];        /* the tuner's conv operands: x, y, dy, dx, w, dw, bias */
} clvae_tuning_t;

/* The context's table, loaded from the cache on first use; NULL only when out of memory. */
clvae_tuning_t *clvae_tuning_get(clvae_ctx_t *ctx);

/* 1 and *value when the context has the key (ignores CLVAE_TUNING: values set explicitly). */
int clvae_tuning_find(clvae_ctx_t *ctx, const char *key, int *value);

/* The network says whose forward (backward 0) or backward runs now, layer -1 when none: the
 * calls recorded meanwhile are that layer's. */
void clvae_tuning_note_layer(clvae_ctx_t *ctx, int layer, int backward);

/* An op reports a call here, its shape packed into ndims (<= CLVAE_TUNE_OP_DIMS) numbers under
 * its family's name (kept while recording; calls with equal family and numbers are counted
 * together). conv.c reports each conv forward whose C*kh*kw is at most 64. */
void clvae_tuning_note_op(clvae_ctx_t *ctx, const char *family, const size_t *dims, int ndims);

/* A CLBlast kernel whose parameters clvae sets: CLBlast's kernel name, the prefix of its keys
 * in the tuning table ("xgemm." + "MWG"), its parameter names (all must be given). */
typedef struct clvae_clblast_kernel {
    const char *kernel;
    const char *prefix;
    int n;
    const char *names[16];
} clvae_clblast_kernel_t;

/* Xgemm, XgemmDirect and GemmRoutine (XGEMM_MIN_INDIRECT_SIZE), in that order. */
extern const clvae_clblast_kernel_t clvae_clblast_kernels[3];

/* The Xgemm parameters clvae uses on pocl's CPU device when nothing is tuned. */
extern const int clvae_xgemm_pocl_defaults[16];

/* 1 when the context's device is pocl's CPU device. */
int clvae_device_is_pocl_cpu(const clvae_ctx_t *ctx);

#endif
