/* Inside the net layer: what a layer kind provides (one file per kind), and the net's buffers. */
#ifndef CLVAE_NET_LAYER_H
#define CLVAE_NET_LAYER_H

#include <CL/cl.h>

#include "clvae/net/config.h"
#include "clvae/net/net.h"

/*
 * Shape key: B examples; S_i the size of layer i's output per example (out_c*out_h*out_w).
 * Per layer i (views - flatten, reshape - share their source's buffers, see src[i]):
 *   act[i]   [B, S_i]  output after the activation (layer 0: the input batch)
 *   pre[i]   [B, S_i]  output before it (the same buffer as act[i] for identity)
 *   dact[i], dpre[i]   their gradients; dact[0] is the caller's din during a backward
 *   aux[i][] the kind's own buffers (the latent: mu, logvar, eps, dmu, dlogvar)
 */
#define CLVAE_LAYER_AUX 5

struct clvae_net {
    clvae_ctx_t *ctx;
    const clvae_model_desc_t *d;
    size_t max_batch, B;
    int *src;                    /* [nlayers] the layer whose buffers layer i uses (itself, or
                                    a view's source) */
    clvae_buf_t *act, *pre, *dact, *dpre;
    clvae_buf_t (*aux)[CLVAE_LAYER_AUX];
    int *fwd_flag;               /* [nlayers] what a kind's last forward of layer i tells its
                                    backward (a conv: that aux holds x's im2col); 0 before any */
    int *one_writer;             /* [nlayers] 1: layer i's output gradient has one writer, the
                                    backward of a kind with sets_din (not zeroed first) */
    clvae_buf_t params, grads;   /* [nparams] each, one allocation */
    clvae_buf_t state;           /* [nstate] non-trained state (running statistics) */
    int training;                /* forwards use batch statistics and update the state */
    int fwd_training;            /* the last forward's mode (its backward follows it) */
    clvae_buf_t labels;          /* [max_batch] class indices as floats (conditional models) */
    clvae_buf_t times;           /* [max_batch] time steps as floats (a model with [time_embed]) */
    clvae_buf_t *owned;          /* every allocation, for freeing */
    int nowned, cap;
    size_t bytes;
    /* the latent layer's settings for the next forward/backward */
    int sample, sampled;         /* draw eps (clvae_net_set_sampling); the last forward drew */
    uint64_t seed, offset;
    float kl_beta, kl_scale;     /* KL gradient weight and per-example scale (0: none) */
    /* profiling: markers between layers (clvae_net_profile) */
    int profile;
    cl_event *marks;
    int *mark_layer, *mark_phase;
    int nmarks, maxmarks;
    /* clvae_net_watch_grads: the host copy and the last backward's reads */
    float *watch;
    cl_event *rd_ev;
    size_t *rd_from;
    int nrd;
};

/* What a layer reads while resolving: the config, its section, the inputs' descriptions. */
typedef struct clvae_layer_resolve {
    const clvae_cfg_t *cfg;
    const clvae_cfg_section_t *s;
    const clvae_model_desc_t *m;     /* the model so far (variational, conditional) */
    const clvae_layer_t *in[CLVAE_LAYER_MAX_FROM];
    int nin;
    char where[160];                 /* "file:line: [section]" for messages */
} clvae_layer_resolve_t;

/* One layer kind: its section name, keys and functions. */
typedef struct clvae_layer_kind_ops {
    const char *name;
    const char *const *keys;   /* allowed keys besides name and from (NULL-terminated) */
    int max_from;              /* inputs it takes at most (1 for most kinds) */
    /* output shape, w_len/b_len (bias: b_len = out_c when L->bias), act, flops, flat */
    clvae_status_t (*resolve)(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                              clvae_error_t *err);
    /* Glorot fans of the weight; NULL for kinds without weights */
    void (*fans)(const clvae_layer_t *L, double *fan_in, double *fan_out);
    /* weight shape in PyTorch's layout; returns ndim (NULL: [units, inputs]) */
    int (*weight_shape)(const clvae_layer_t *L, uint64_t shape[4]);
    /* the kind's aux buffer k: floats per example, and *fixed floats besides (NULL: none) */
    size_t (*aux_size)(const clvae_layer_t *L, const clvae_model_desc_t *d, int k,
                       size_t *fixed);
    /* forward: act/pre[i] from the inputs (the activation is applied by the net, except as
     * fuses_act says) */
    clvae_status_t (*forward)(clvae_net_t *net, int i, clvae_error_t *err);
    /* non-trained state tensor k (PyTorch's buffer name suffix, e.g. "running_mean"; offset
     * from L->s_off; shape): 0 past the last (NULL: the kind has none) */
    int (*state_tensor)(const clvae_layer_t *L, int k, const char **suffix, size_t *off,
                        int *ndim, uint64_t shape[4]);
    /* initial values other than Glorot weights and zero biases: into the layer's parameters
     * (params + 0 is the flat array) and state, random ones from the stream of seed
     * (NULL: none) */
    void (*init)(const clvae_layer_t *L, float *params, float *state, uint64_t seed);
    /* backward: dpre[i] is known; ADDS the inputs' gradients (dact of each from, when that
     * view is not NULL; written instead where clvae_net_din_set says so) and the parameter
     * gradients */
    clvae_status_t (*backward)(clvae_net_t *net, int i, clvae_error_t *err);
    /* 1: where the net gives layer i one buffer for pre[i] and act[i] (src/net/net.c
     * act_in_place), forward writes act(...) there itself, and backward never reads pre[i] */
    int fuses_act;
    /* 1: backward writes input 0's gradient (=, not +=) when clvae_net_din_set says so */
    int sets_din;
} clvae_layer_kind_ops_t;

/* The table of kinds, indexed by clvae_layer_kind_t (src/net/layers.c). */
const clvae_layer_kind_ops_t *clvae_layer_kind(clvae_layer_kind_t k);

/* Each kind's table (src/net/layer_*.c). */
extern const clvae_layer_kind_ops_t clvae_layer_input_ops, clvae_layer_conv_ops,
    clvae_layer_deconv_ops, clvae_layer_dense_ops, clvae_layer_flatten_ops,
    clvae_layer_reshape_ops, clvae_layer_latent_ops, clvae_layer_concat_ops, clvae_layer_add_ops,
    clvae_layer_labels_ops, clvae_layer_batchnorm_ops, clvae_layer_vq_ops,
    clvae_layer_groupnorm_ops, clvae_layer_upsample_ops, clvae_layer_time_embed_ops;

/* Values per example of a layer's output. */
static inline size_t clvae_layer_size(const clvae_layer_t *L)
{
    return L->out_c * L->out_h * L->out_w;
}

/* Values per example of a layer's first input. */
static inline size_t clvae_layer_in_size(const clvae_layer_t *L)
{
    return L->in_c * L->in_h * L->in_w;
}

/* The buffers layer i reads as input k, and where that input's gradient goes (a NULL view:
 * nowhere, e.g. into the data). */
clvae_buf_t clvae_net_in(const clvae_net_t *net, int i, int k);
clvae_buf_t clvae_net_din(const clvae_net_t *net, int i, int k);
/* 1 when layer i's backward is the one writer of input k's gradient (clvae_net_din), which the
 * net then does not zero first: the kind writes it (=), not adds to it (+=). 0 for any kind
 * without sets_din and any k but 0. */
int clvae_net_din_set(const clvae_net_t *net, int i, int k);

/* Layer i's weight and bias views in the parameters (p = params) or gradients (p = grads). */
clvae_buf_t clvae_net_weight(const clvae_net_t *net, clvae_buf_t p, int i);
clvae_buf_t clvae_net_bias(const clvae_net_t *net, clvae_buf_t p, int i);

/* Config getters shared by the resolvers (src/net/config.c). Messages name file:line. */
clvae_cfg_entry_t *clvae_cfg_find_entry(const clvae_cfg_section_t *s, const char *key);
size_t clvae_cfg_mul_values(size_t a, size_t b);
clvae_status_t clvae_cfg_bad_value(clvae_error_t *err, const clvae_cfg_t *cfg,
                                   const clvae_cfg_section_t *s, const clvae_cfg_entry_t *e,
                                   const char *what);
clvae_status_t clvae_cfg_check_keys(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                    const char *const *allowed, clvae_error_t *err);
clvae_status_t clvae_cfg_get_int(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                 const char *key, long long lo, long long hi, int required,
                                 long long *out, clvae_error_t *err);
clvae_status_t clvae_cfg_get_size(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                  const char *key, long long lo, long long hi, int required,
                                  size_t *out, clvae_error_t *err);
clvae_status_t clvae_cfg_get_float(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                   const char *key, double lo, double hi, float *out,
                                   clvae_error_t *err);
clvae_status_t clvae_cfg_get_word(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                  const char *key, const char *const *words, int *out,
                                  clvae_error_t *err);
clvae_status_t clvae_cfg_get_pair(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                  const char *key, long lo, long hi, size_t *a, size_t *b,
                                  clvae_error_t *err);
clvae_status_t clvae_cfg_get_act(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                 clvae_layer_t *L, clvae_error_t *err);

/* "bias = 0|1" and "activation/slope" of a layer with weights. */
clvae_status_t clvae_layer_get_bias_act(clvae_layer_t *L, const clvae_layer_resolve_t *r,
                                        clvae_error_t *err);

#endif
