/* Model config files: INI-style sections parsed, overridden from the command line, resolved to layers. */
#ifndef CLVAE_CONFIG_H
#define CLVAE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/ops/activation.h"
#include "clvae/ops/conv.h"
#include "clvae/ops/diffusion.h"
#include "clvae/io/error.h"
#include "clvae/ops/noise.h"

/* One `key = value` line. */
typedef struct clvae_cfg_entry {
    char *key;
    char *value;
    int line;         /* 1-based line in the file; 0 for a --set override */
} clvae_cfg_entry_t;

/* One `[section]` with its entries, in file order. */
typedef struct clvae_cfg_section {
    char *name;
    int line;
    clvae_cfg_entry_t *entries;
    int nentries;
} clvae_cfg_section_t;

/* A parsed config file: sections in order, and the file name for messages. */
typedef struct clvae_cfg {
    char *path;                      /* for messages: the file, or "checkpoint" */
    clvae_cfg_section_t *sections;
    int nsections;
} clvae_cfg_t;

/* Parses INI text: `[name]` headers, `key = value` lines, comments starting with # or ;
 * (whole lines, or after whitespace at the end of a line), CRLF or LF line endings, blank
 * lines. Errors (CLVAE_ERR_INVALID) name path:line: a key before any section, a line that is
 * neither, an empty key or value, a duplicate key in one section, NUL bytes, an empty file. */
clvae_status_t clvae_cfg_parse(clvae_cfg_t *cfg, const char *text, size_t len, const char *path,
                               clvae_error_t *err);

/* Reads and parses a file (missing: CLVAE_ERR_NOT_FOUND). */
clvae_status_t clvae_cfg_load(clvae_cfg_t *cfg, const char *path, clvae_error_t *err);

/* Applies `SECTION.KEY=VALUE`, where SECTION is a section that appears once, or NAME#K for the
 * K-th (1-based) section of that name (e.g. conv#2.filters=48). Replaces the value or adds the
 * key. Errors name the override: no '=', unknown or ambiguous section, empty value, a value
 * that a config file could not hold (a line break, or # or ; after a blank: a comment). */
clvae_status_t clvae_cfg_set(clvae_cfg_t *cfg, const char *assignment, clvae_error_t *err);

/* Writes the config back as INI text (malloc'd, NUL-terminated): what a checkpoint stores. */
char *clvae_cfg_format(const clvae_cfg_t *cfg);

/* Frees the config (a zeroed one is fine). */
void clvae_cfg_free(clvae_cfg_t *cfg);

/* Kinds of layers. */
typedef enum clvae_layer_kind {
    CLVAE_LAYER_INPUT,
    CLVAE_LAYER_CONV,
    CLVAE_LAYER_DECONV,
    CLVAE_LAYER_DENSE,
    CLVAE_LAYER_FLATTEN,
    CLVAE_LAYER_RESHAPE,
    CLVAE_LAYER_LATENT,
    CLVAE_LAYER_CONCAT,     /* its inputs joined along channels */
    CLVAE_LAYER_ADD,        /* the sum of inputs of one shape */
    CLVAE_LAYER_LABELS,     /* implicit ([model] conditional): its input + one-hot label channels */
    CLVAE_LAYER_BATCHNORM,  /* batch normalization per channel, with running statistics */
    CLVAE_LAYER_VQ,         /* vector quantization: each position's vector -> its nearest code */
    CLVAE_LAYER_GROUPNORM,  /* group normalization per example and group of channels */
    CLVAE_LAYER_UPSAMPLE,   /* nearest upsampling of a map by an integer factor */
    CLVAE_LAYER_TIME_EMBED, /* sinusoidal features of each example's time step (no input layer) */
    CLVAE_LAYER_KINDS       /* the number of kinds */
} clvae_layer_kind_t;

/* Most inputs a layer takes (from = a, b, ...). */
#define CLVAE_LAYER_MAX_FROM 8

/* A resolved layer: its hyperparameters, shapes and parameter placement. */
typedef struct clvae_layer {
    clvae_layer_kind_t kind;
    int line;                      /* of its section header */
    char name[32];                 /* name = (default: the kind and its index, "conv3") */
    int from[CLVAE_LAYER_MAX_FROM];/* indices of the layers it reads (earlier ones); default the
                                      layer above */
    int nfrom;
    int implicit;                  /* added by the resolver, not a section of the file */
    int flat;                      /* the output is a flat vector (dense, flatten, latent) */
    size_t in_c, in_h, in_w;       /* input shape of one example (of from[0]; [concat]: the
                                      channels of all inputs) */
    size_t out_c, out_h, out_w;    /* output shape (dense/latent: units x 1 x 1) */
    size_t units;                  /* dense units; latent size */
    clvae_conv_params_t conv;      /* conv / deconv hyperparameters */
    clvae_conv_mask_t mask;        /* [conv] mask = A | B: causal mask of the taps (PixelCNN);
                                      0 none, 1 A, 2 B. The stored weights stay whole; the
                                      forward uses a masked copy (see layer_conv.c) */
    int bias;                      /* has a bias */
    clvae_act_t act;               /* activation after the layer */
    float slope;                   /* LeakyReLU slope */
    size_t w_off, w_len;           /* weights in the flat parameter array (floats) */
    size_t b_off, b_len;           /* bias */
    size_t w2_off, b2_off;         /* latent (VAE): the z_log_var head's weight and bias */
    size_t s_off, s_len;           /* non-trained state (running statistics) in the flat state
                                      array (floats) */
    float momentum, norm_eps;      /* batchnorm: running statistics' momentum, eps (also
                                      groupnorm's eps) */
    size_t groups;                 /* groupnorm: G groups of in_c / G channels */
    size_t up_factor;              /* upsample: each pixel becomes up_factor x up_factor */
    float embed_max_period;        /* time_embed: the longest period (units: its dim D) */
    size_t vq_codes, vq_dim;       /* vq: K codes of D values (D: the input's channels) */
    float vq_beta;                 /* vq: the commitment term's weight */
    float vq_decay, vq_eps;        /* vq: the moving averages' decay, Laplace smoothing */
    int vq_ema;                    /* vq: update = ema (the codebook is state), else loss (the
                                      codebook is a weight trained by the codebook term) */
    long vq_restart;               /* vq: a code unused for this many steps restarts (0: never) */
    double flops;                  /* forward FLOPs per example */
} clvae_layer_t;

/* Reconstruction losses. */
typedef enum clvae_recon {
    CLVAE_RECON_BCE,        /* summed BCE on probabilities (fused with a sigmoid output) */
    CLVAE_RECON_MSE_SUM,    /* summed squared error */
    CLVAE_RECON_MSE_MEAN    /* mean squared error */
} clvae_recon_t;

/* How the KL weight beta changes over the epochs (clvae_beta_at in anneal.h). */
typedef enum clvae_beta_schedule {
    CLVAE_BETA_CONSTANT,    /* beta every epoch */
    CLVAE_BETA_LINEAR,      /* beta_start to beta_end over warmup_epochs, then beta_end */
    CLVAE_BETA_CYCLICAL     /* repeated: a ramp from beta_start to beta_end, then beta_end */
} clvae_beta_schedule_t;

/* A resolved model: every setting with its default filled in, and the layers. */
typedef struct clvae_model_desc {
    char name[64];                 /* [model] name */
    int variational;               /* [model] kind: vae (1) or ae (0) */
    int classes;                   /* [model] kind = classifier: the class count (the last
                                      dense layer's units, its logits); 0 for the other kinds */
    char train_data[256];          /* [data] train: a dataset spec (see data.h) */
    char test_data[256];           /* [data] test */
    long epochs;                   /* [train] */
    size_t batch;
    size_t limit;                  /* use the first N training examples; 0 = all */
    size_t test_limit;             /* the test pass after an epoch: the first N test examples;
                                      0 = all */
    long test_every;               /* a test pass every N epochs (and after the last one) */
    long snapshot_every;           /* [train] snapshot_every: the latent scatter of the first
                                      2,000 test images every N epochs (and after the last)
                                      into DIR/latent/ (0: none; models that encode) */
    char optimizer[16];            /* adam | sgd */
    float lr, beta1, beta2, eps, weight_decay, momentum;
    float ema;                     /* [train] ema: the decay of an exponential moving average of
                                      the weights, kept beside them (every command but train
                                      uses it); 0: none */
    uint64_t seed;
    int shuffle;                   /* shuffle each epoch */
    int sample_latent;             /* 1: z = mu + sigma eps while training; 0: z = mu */
    long max_skipped;              /* consecutive skipped steps (non-finite loss or gradient)
                                      that stop the run; 0: the first one stops it */
    clvae_recon_t recon;           /* [loss] reconstruction */
    int noise_line;                /* the [noise] section's line (0: none) */
    float beta;                    /* [loss] KL weight */
    clvae_beta_schedule_t beta_schedule; /* [loss] beta_schedule */
    float beta_start, beta_end;    /* [loss] the schedule's first and final KL weight */
    long warmup_epochs;            /* [loss] linear: epochs of the ramp */
    long cycle_epochs;             /* [loss] cyclical: epochs per cycle */
    float beta_ramp;               /* [loss] ramp: cyclical: the rising fraction of a cycle */
    clvae_noise_spec_t noise;      /* [noise]: corruption of the training input (denoising) */
    size_t conditional;            /* [model] conditional: classes K of the one-hot label joined
                                      to the encoder input and to z; 0 = unconditional */
    clvae_layer_t *layers;
    int nlayers;
    int latent;                    /* index of the latent layer (a classifier has none:
                                      nlayers, so every layer is before it) */
    size_t nparams;                /* floats in the flat parameter array */
    size_t nstate;                 /* floats in the flat state array (running statistics:
                                      saved, not trained) */
    /* [model] kind = gan: this description's layers are the generator's (z -> image; its
     * [input] is z), disc is the discriminator's (image -> one logit), each with its own
     * optimizer settings ([generator] / [discriminator] lr, beta1, beta2) */
    int gan;
    struct clvae_model_desc *disc;
    int vqvae;                     /* [model] kind = vqvae: the [vq] layer is the latent */
    int prior;                     /* [model] kind = prior: an autoregressive model of a
                                      VQ-VAE's code maps (one-hot input, logits per position) */
    char codes_run[256];           /* [data] codes: the prior's VQ-VAE run (folder or file) */
    char codes_sha256[65];         /* [data] codes_sha256: its checkpoint's sha256 (written by
                                      train; "" = not yet known) */
    const struct clvae_layer *image; /* a prior's samples: its VQ-VAE's input layer, once that
                                        run is opened (NULL before) */
    long d_steps;                  /* [train] d_steps: discriminator steps per generator step */
    int saturating;                /* [loss] generator_loss = saturating: minimise
                                      log(1 - D(G(z))) (the seed's form) instead of
                                      -log D(G(z)) */
    float real_label;              /* [loss] real_label: the discriminator's target for real
                                      images (1; 0.9 is one-sided label smoothing) */
    /* [model] kind = ddpm: a denoiser (x_t, t) -> eps, its image the [input] and the last
     * layer's shape, a [time_embed] inside; [diffusion] its noise schedule */
    int ddpm;
    size_t diff_steps;             /* [diffusion] steps: T (1000) */
    clvae_schedule_kind_t diff_schedule; /* [diffusion] schedule: linear | cosine */
    float diff_beta_start, diff_beta_end; /* [diffusion] the linear schedule's ends (1e-4,
                                             0.02) */
    float diff_uncond;             /* [diffusion] uncond: with [model] conditional = K, the share
                                      of training examples whose label is dropped (the null
                                      class K) for classifier-free guidance (0.1) */
    int diff_line;                 /* the [diffusion] section's line (0: none) */
} clvae_model_desc_t;

/* Resolves a parsed config into a model: checks every section and key (unknown ones are
 * errors listing the allowed keys), every value (with what is allowed), infers shapes layer by
 * layer (impossible shapes, e.g. a reshape whose size does not match, are errors), places the
 * parameters. Messages are "path:line: [section] key = value: what is wrong". */
clvae_status_t clvae_model_resolve(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                   clvae_error_t *err);

/* Frees the model description. */
void clvae_model_desc_free(clvae_model_desc_t *m);

/* Forward FLOPs per example of the whole model (encoder, latent, decoder). */
double clvae_model_flops(const clvae_model_desc_t *m);

/* Bytes (4 per float) layer i moves in one step of `batch` examples, under a traffic model that
 * touches each tensor once: the forward reads the layer's inputs and parameters and writes its
 * output; the backward reads the output's gradient, the inputs and the parameters and writes
 * the parameters' gradients and the inputs' gradients (none for an input that is the data).
 * The input layer and views ([flatten], [reshape]) move nothing: 0 and 0. */
void clvae_layer_traffic(const clvae_model_desc_t *m, int i, size_t batch, double *fwd,
                         double *bwd);

/* The layer whose activation gives the network's output: the last layer, or the source of a
 * last [flatten] / [reshape] (a view of it). */
const clvae_layer_t *clvae_model_output_act_layer(const clvae_model_desc_t *m);

/* [model] kind as the config names it: "ae", "vae", "classifier", "gan", "vqvae", "prior" or
 * "ddpm". */
const char *clvae_model_kind(const clvae_model_desc_t *m);

/* The layer kind's section name ("conv"). */
const char *clvae_layer_kind_name(clvae_layer_kind_t k);

#endif
