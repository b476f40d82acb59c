/* The layer graph on the device: buffers, forward in section order, backward in reverse with fan-out sums. */
#include "clvae/net/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/ops/activation.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/rng.h"
#include "device/tuning_internal.h"
#include "net/layer.h"

static int is_view(const clvae_layer_t *L)
{
    return L->kind == CLVAE_LAYER_FLATTEN || L->kind == CLVAE_LAYER_RESHAPE;
}

/* The layer whose buffers layer i uses (itself, or the source of a chain of views). */
static int source_of(const clvae_model_desc_t *d, int i)
{
    while (i > 0 && is_view(&d->layers[i])) i = d->layers[i].from[0];
    return i;
}

/* Whether layer i's activation runs in place (pre[i] is act[i]: one buffer, and its kind's
 * forward applies the activation itself): a kind that fuses it (conv, deconv), an activation
 * whose gradient follows from its output (all but SiLU: act_df), and not the layer whose
 * output the objective reads (the last, or the source of a last view: objectives read its
 * pre-activation values, the logits). */
static int act_in_place(const clvae_model_desc_t *d, int i)
{
    const clvae_layer_t *L = &d->layers[i];
    return clvae_layer_kind(L->kind)->fuses_act && L->act != CLVAE_ACT_IDENTITY &&
           L->act != CLVAE_ACT_SILU && i != d->nlayers - 1 && i != source_of(d, d->nlayers - 1);
}

static clvae_status_t zero(clvae_net_t *net, clvae_buf_t b, size_t n, clvae_error_t *err)
{
    return clvae_fill_forward(net->ctx, b.mem, b.off, 0.0f, n, err);
}

clvae_net_footprint_t clvae_net_footprint(const clvae_model_desc_t *d, int input_grad)
{
    clvae_net_footprint_t f = {2 * (d->nparams ? d->nparams : 1) + d->nstate, 1, 0, 0};
    for (int i = 0; i < d->nlayers; i++) {
        const clvae_layer_t *L = &d->layers[i];
        if (i > 0 && is_view(L)) continue;
        size_t S = clvae_layer_size(L);
        int grads = i > 0 || input_grad;
        f.per += (L->act != CLVAE_ACT_IDENTITY ? 2 : 1) * S * (grads ? 2 : 1);
        if (act_in_place(d, i)) f.per -= S; /* no pre */
        const clvae_layer_kind_ops_t *k = clvae_layer_kind(L->kind);
        for (int a = 0; k->aux_size && a < CLVAE_LAYER_AUX; a++) {
            size_t fixed;
            f.per += k->aux_size(L, d, a, &fixed);
            f.fixed += fixed;
        }
        if (S > f.largest) {
            f.largest = S;
            f.at = i;
        }
    }
    return f;
}

static clvae_status_t alloc(clvae_net_t *net, size_t n, clvae_buf_t *out, clvae_error_t *err)
{
    if (net->nowned == net->cap) {
        int cap = net->cap ? 2 * net->cap : 32;
        clvae_buf_t *o = realloc(net->owned, (size_t)cap * sizeof *o);
        if (!o) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        net->owned = o;
        net->cap = cap;
    }
    clvae_status_t s = clvae_buf_alloc(net->ctx, n, out, err);
    if (!s) {
        net->owned[net->nowned++] = *out;
        net->bytes += n * sizeof(float);
        s = zero(net, *out, n, err);
    }
    return s;
}

/* Buffers of layer i (not a view): act, pre, their gradients, the kind's aux buffers. */
static clvae_status_t alloc_layer(clvae_net_t *net, int i, int input_grad, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t n = net->max_batch * clvae_layer_size(L);
    int grads = i > 0 || input_grad;
    clvae_status_t s;
    if ((s = alloc(net, n, &net->act[i], err))) return s;
    if (i > 0 && (s = alloc(net, n, &net->dact[i], err))) return s;
    net->pre[i] = net->act[i];
    net->dpre[i] = net->dact[i];
    if (L->act != CLVAE_ACT_IDENTITY &&
        ((!act_in_place(net->d, i) && (s = alloc(net, n, &net->pre[i], err))) ||
         (grads && (s = alloc(net, n, &net->dpre[i], err)))))
        return s;
    const clvae_layer_kind_ops_t *k = clvae_layer_kind(L->kind);
    for (int a = 0; k->aux_size && a < CLVAE_LAYER_AUX; a++) {
        size_t fixed, n_aux = net->max_batch * k->aux_size(L, net->d, a, &fixed) + fixed;
        if (n_aux && (s = alloc(net, n_aux, &net->aux[i][a], err))) return s;
    }
    return CLVAE_OK;
}

/* net->one_writer: a layer (not the input, not the source of the last layer, whose gradient
 * the caller gives) read by exactly one layer (its views' readers counted as its own), whose
 * kind sets_din, and that through its input 0. */
static void one_writers(clvae_net_t *net)
{
    const clvae_model_desc_t *d = net->d;
    int n = d->nlayers, last = net->src[n - 1];
    int *readers = calloc((size_t)n, sizeof *readers);
    if (!readers) return; /* every gradient zeroed first, as without this */
    for (int i = 1; i < n; i++) {
        const clvae_layer_t *L = &d->layers[i];
        if (is_view(L)) continue;
        for (int k = 0; k < L->nfrom; k++) readers[net->src[L->from[k]]]++;
    }
    for (int i = 1; i < n; i++) {
        const clvae_layer_t *L = &d->layers[i];
        if (is_view(L) || !clvae_layer_kind(L->kind)->sets_din) continue;
        int j = net->src[L->from[0]];
        net->one_writer[j] = j > 0 && j != last && readers[j] == 1;
    }
    free(readers);
}

clvae_status_t clvae_net_init(clvae_net_t **out, clvae_ctx_t *ctx, const clvae_model_desc_t *d,
                              size_t max_batch, int input_grad, clvae_error_t *err)
{
    *out = NULL;
    if (max_batch == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch size 0");
    if (d->nlayers < 1) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a network without layers");
    clvae_net_t *net = calloc(1, sizeof *net);
    size_t L = (size_t)d->nlayers;
    if (net) {
        net->src = calloc(L, sizeof *net->src);
        net->act = calloc(L, sizeof *net->act);
        net->pre = calloc(L, sizeof *net->pre);
        net->dact = calloc(L, sizeof *net->dact);
        net->dpre = calloc(L, sizeof *net->dpre);
        net->aux = calloc(L, sizeof *net->aux);
        net->fwd_flag = calloc(L, sizeof *net->fwd_flag);
        net->one_writer = calloc(L, sizeof *net->one_writer);
    }
    if (!net || !net->src || !net->act || !net->pre || !net->dact || !net->dpre || !net->aux ||
        !net->fwd_flag || !net->one_writer) {
        clvae_net_free(net);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    net->ctx = ctx;
    net->d = d;
    net->max_batch = max_batch;
    net->sample = 0;
    clvae_status_t s = CLVAE_OK;
    size_t P = d->nparams ? d->nparams : 1;
    if ((s = alloc(net, P, &net->params, err)) || (s = alloc(net, P, &net->grads, err)) ||
        (d->nstate && (s = alloc(net, d->nstate, &net->state, err))) ||
        (d->conditional && (s = alloc(net, max_batch, &net->labels, err))))
        goto fail;
    for (int i = 0; i < d->nlayers && !net->times.mem; i++)
        if (d->layers[i].kind == CLVAE_LAYER_TIME_EMBED &&
            (s = alloc(net, max_batch, &net->times, err)))
            goto fail;
    for (int i = 0; i < d->nlayers; i++) {
        const clvae_layer_t *ly = &d->layers[i];
        if (i > 0 && is_view(ly)) {
            int j = net->src[ly->from[0]];
            net->src[i] = j;
            net->act[i] = net->pre[i] = net->act[j];
            net->dact[i] = net->dpre[i] = net->dact[j];
            continue;
        }
        net->src[i] = i;
        if ((s = alloc_layer(net, i, input_grad, err))) goto fail;
    }
    one_writers(net);
    *out = net;
    return CLVAE_OK;
fail:
    clvae_net_free(net);
    return s;
}

static void marks_release(clvae_net_t *net)
{
    for (int i = 0; i < net->nmarks; i++) clReleaseEvent(net->marks[i]);
    net->nmarks = 0;
}

static void reads_release(clvae_net_t *net)
{
    for (int i = 0; i < net->nrd; i++) clReleaseEvent(net->rd_ev[i]);
    net->nrd = 0;
}

void clvae_net_watch_grads(clvae_net_t *net, float *host)
{
    reads_release(net);
    net->watch = host;
}

int clvae_net_grad_reads(const clvae_net_t *net, const cl_event **events, const size_t **from)
{
    *events = net->rd_ev;
    *from = net->rd_from;
    return net->nrd;
}

/* After layer i's backward: the read of its parameters' gradients [w_off, end) into the
 * watch copy; *end becomes w_off. */
static clvae_status_t read_layer(clvae_net_t *net, int i, size_t *end, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    if (!net->watch || L->w_off >= *end || L->w_len + L->b_len == 0) return CLVAE_OK;
    if (!net->rd_ev) {
        net->rd_ev = malloc((size_t)net->d->nlayers * sizeof *net->rd_ev);
        net->rd_from = malloc((size_t)net->d->nlayers * sizeof *net->rd_from);
        if (!net->rd_ev || !net->rd_from)
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    cl_event e;
    clvae_status_t s = clvae_buf_download_start(net->ctx, net->watch + L->w_off,
                                                clvae_buf_at(net->grads, L->w_off),
                                                *end - L->w_off, &e, err);
    if (s) return s;
    net->rd_ev[net->nrd] = e;
    net->rd_from[net->nrd++] = L->w_off;
    *end = L->w_off;
    return CLVAE_OK;
}

void clvae_net_free(clvae_net_t *net)
{
    if (!net) return;
    reads_release(net);
    free(net->rd_ev);
    free(net->rd_from);
    for (int i = 0; net->owned && i < net->nowned; i++) clvae_buf_free(&net->owned[i]);
    free(net->owned);
    marks_release(net);
    free(net->marks);
    free(net->mark_layer);
    free(net->mark_phase);
    free(net->src);
    free(net->act);
    free(net->pre);
    free(net->dact);
    free(net->dpre);
    free(net->aux);
    free(net->fwd_flag);
    free(net->one_writer);
    free(net);
}

clvae_buf_t clvae_net_params(const clvae_net_t *net) { return net->params; }
clvae_buf_t clvae_net_grads(const clvae_net_t *net) { return net->grads; }
clvae_buf_t clvae_net_input(const clvae_net_t *net) { return net->act[0]; }
clvae_buf_t clvae_net_labels(const clvae_net_t *net) { return net->labels; }
clvae_buf_t clvae_net_times(const clvae_net_t *net) { return net->times; }
clvae_buf_t clvae_net_state(const clvae_net_t *net) { return net->state; }
void clvae_net_set_training(clvae_net_t *net, int on) { net->training = on; }
size_t clvae_net_device_bytes(const clvae_net_t *net) { return net->bytes; }

clvae_buf_t clvae_net_output(const clvae_net_t *net, int i, int pre)
{
    return pre ? net->pre[i] : net->act[i];
}

clvae_buf_t clvae_net_output_grad(const clvae_net_t *net, int i, int pre)
{
    return pre ? net->dpre[i] : net->dact[i];
}

clvae_buf_t clvae_net_latent(const clvae_net_t *net, int k)
{
    clvae_buf_t none = {0};
    int lat = net->d->latent;
    if (lat < 0 || lat >= net->d->nlayers || k < 0 || k >= CLVAE_LAYER_AUX) return none;
    return net->aux[lat][k];
}

void clvae_net_set_sampling(clvae_net_t *net, int sample, uint64_t seed, uint64_t offset)
{
    net->sample = sample;
    net->seed = seed;
    net->offset = offset;
}

void clvae_net_set_kl(clvae_net_t *net, float beta, float scale)
{
    net->kl_beta = beta;
    net->kl_scale = scale;
}

clvae_buf_t clvae_net_in(const clvae_net_t *net, int i, int k)
{
    return net->act[net->d->layers[i].from[k]];
}

clvae_buf_t clvae_net_din(const clvae_net_t *net, int i, int k)
{
    return net->dact[net->d->layers[i].from[k]];
}

int clvae_net_din_set(const clvae_net_t *net, int i, int k)
{
    const clvae_layer_t *L = &net->d->layers[i];
    return k == 0 && !is_view(L) && clvae_layer_kind(L->kind)->sets_din &&
           net->one_writer[net->src[L->from[0]]];
}

clvae_buf_t clvae_net_weight(const clvae_net_t *net, clvae_buf_t p, int i)
{
    return clvae_buf_at(p, net->d->layers[i].w_off);
}

clvae_buf_t clvae_net_bias(const clvae_net_t *net, clvae_buf_t p, int i)
{
    const clvae_layer_t *L = &net->d->layers[i];
    clvae_buf_t none = {0};
    return L->bias ? clvae_buf_at(p, L->b_off) : none;
}

void clvae_net_mark(clvae_net_t *net, int layer, int phase)
{
    if (!net->profile || net->nmarks >= net->maxmarks) return;
    cl_event e;
    if (clEnqueueMarkerWithWaitList(clvae_ctx_queue(net->ctx), 0, NULL, &e) != CL_SUCCESS) return;
    net->marks[net->nmarks] = e;
    net->mark_layer[net->nmarks] = layer;
    net->mark_phase[net->nmarks] = phase;
    net->nmarks++;
}

clvae_status_t clvae_net_profile(clvae_net_t *net, int on, clvae_error_t *err)
{
    if (on && !net->marks) {
        net->maxmarks = 2 * net->d->nlayers + 4;
        size_t n = (size_t)net->maxmarks;
        net->marks = calloc(n, sizeof *net->marks);
        net->mark_layer = calloc(n, sizeof *net->mark_layer);
        net->mark_phase = calloc(n, sizeof *net->mark_phase);
        if (!net->marks || !net->mark_layer || !net->mark_phase)
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    marks_release(net);
    net->profile = on;
    return CLVAE_OK;
}

clvae_status_t clvae_net_profile_read(clvae_net_t *net, double *fwd_ns, double *bwd_ns,
                                      clvae_error_t *err)
{
    clvae_status_t s = clvae_ctx_finish(net->ctx, err);
    if (s) return s;
    cl_ulong prev = 0;
    for (int i = 0; i < net->nmarks; i++) {
        cl_ulong t;
        cl_int rc = clGetEventProfilingInfo(net->marks[i], CL_PROFILING_COMMAND_END, sizeof t, &t,
                                            NULL);
        if (rc != CL_SUCCESS) {
            marks_release(net);
            return clvae_error_cl(err, rc, "clGetEventProfilingInfo", __FILE__, __LINE__);
        }
        int L = net->mark_layer[i];
        if (L >= 0 && i > 0) (net->mark_phase[i] ? bwd_ns : fwd_ns)[L] += (double)(t - prev);
        prev = t;
    }
    marks_release(net);
    return CLVAE_OK;
}

clvae_status_t clvae_net_init_params(clvae_net_t *net, uint64_t seed, clvae_error_t *err)
{
    const clvae_model_desc_t *d = net->d;
    size_t P = d->nparams;
    if (P == 0) return CLVAE_OK; /* no layer with parameters: none with state either */
    float *host = calloc(P, sizeof *host), *u = NULL;
    if (!host) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    uint64_t offset = 0;
    for (int i = 0; i < d->nlayers; i++) {
        const clvae_layer_t *L = &d->layers[i];
        const clvae_layer_kind_ops_t *k = clvae_layer_kind(L->kind);
        if (L->w_len == 0 || !k->fans) continue;
        double fi, fo;
        k->fans(L, &fi, &fo);
        double limit = sqrt(6.0 / (fi + fo));
        int heads = (L->kind == CLVAE_LAYER_LATENT && d->variational) ? 2 : 1;
        for (int h = 0; h < heads; h++) {
            size_t off = h ? L->w2_off : L->w_off;
            free(u);
            u = malloc(L->w_len * sizeof *u);
            if (!u) {
                free(host);
                return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
            }
            clvae_rng_uniform_host(u, L->w_len, seed, offset);
            offset += clvae_rng_blocks(L->w_len);
            for (size_t j = 0; j < L->w_len; j++)
                host[off + j] = (float)((2.0 * u[j] - 1.0) * limit);
        }
    }
    free(u);
    float *state = calloc(d->nstate ? d->nstate : 1, sizeof *state);
    if (!state) {
        free(host);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    for (int i = 0; i < d->nlayers; i++) {
        const clvae_layer_kind_ops_t *k = clvae_layer_kind(d->layers[i].kind);
        /* each layer's own stream, apart from the Glorot draws (seed, offset 0 ...) */
        if (k->init) k->init(&d->layers[i], host, state, seed ^ (0x1417ULL * (uint64_t)(i + 1)));
    }
    clvae_status_t s = clvae_buf_upload(net->ctx, net->params, host, P, err);
    if (!s && d->nstate) s = clvae_buf_upload(net->ctx, net->state, state, d->nstate, err);
    free(host);
    free(state);
    return s;
}

/* Layer i's kind forward, then its activation (pre[i] -> act[i]) unless the kind applied it
 * (act_in_place). */
static clvae_status_t layer_forward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    if (is_view(L)) return CLVAE_OK;
    clvae_status_t s = clvae_layer_kind(L->kind)->forward(net, i, err);
    if (s || L->act == CLVAE_ACT_IDENTITY || act_in_place(net->d, i)) return s;
    return clvae_act_forward(net->ctx, net->act[i], net->pre[i], L->act, L->slope,
                             net->B * clvae_layer_size(L), err);
}

clvae_status_t clvae_net_forward_range(clvae_net_t *net, size_t B, int first, int last,
                                       clvae_error_t *err)
{
    if (B == 0 || B > net->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch of %zu examples (the network holds 1 to "
                          "%zu)", B, net->max_batch);
    if (first < 1 || last >= net->d->nlayers || first > last + 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "layers %d..%d of a network of %d", first, last,
                          net->d->nlayers);
    net->B = B;
    net->fwd_training = net->training;
    clvae_status_t s = CLVAE_OK;
    for (int i = first; i <= last && !s; i++) {
        clvae_tuning_note_layer(net->ctx, i, 0); /* `clvae tune` records whose GEMMs run */
        s = layer_forward(net, i, err);
        if (!s && i < net->d->nlayers - 1)
            clvae_net_mark(net, i, 0); /* the caller closes the last */
    }
    clvae_tuning_note_layer(net->ctx, -1, 0);
    return s;
}

clvae_status_t clvae_net_forward(clvae_net_t *net, size_t B, clvae_error_t *err)
{
    marks_release(net);
    clvae_net_mark(net, -1, 0);
    return clvae_net_forward_range(net, B, 1, net->d->nlayers - 1, err);
}

clvae_status_t clvae_net_zero_grads(clvae_net_t *net, clvae_error_t *err)
{
    if (!net->d->nparams) return CLVAE_OK;
    return zero(net, net->grads, net->d->nparams, err);
}

/* dpre[i] = act'(pre[i]) * dact[i] (written, not added: no zeroing pass before it). */
static clvae_status_t act_backward(clvae_net_t *net, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &net->d->layers[i];
    size_t n = net->B * clvae_layer_size(L);
    return clvae_act_backward_set(net->ctx, net->dpre[i], net->dact[i], net->pre[i], net->act[i],
                                  L->act, L->slope, n, err);
}

/* Backward of layers last .. stop + 1: dact[stop] gets the gradient of layer stop's output
 * (stop 0: the input's, into din when din.mem). */
static clvae_status_t backward_down_to(clvae_net_t *net, int dout_is_pre, int stop,
                                       clvae_buf_t din, clvae_error_t *err)
{
    const clvae_model_desc_t *d = net->d;
    int last = d->nlayers - 1;
    clvae_status_t s = CLVAE_OK;
    /* the input's gradient goes to din (its views follow it); every other layer's gradient
     * starts at zero, so that consumers add into it (a fan-out sums) */
    if (stop == 0) {
        if (din.mem && (s = zero(net, din, net->B * clvae_layer_size(&d->layers[0]), err)))
            return s;
        for (int i = 0; i < d->nlayers; i++)
            if (net->src[i] == 0) net->dact[i] = din;
    }
    for (int i = stop > 1 ? stop : 1; i < last; i++) {
        /* the caller's output gradient may live in the source of a last view: keep it */
        if (net->src[i] != i || i == net->src[last] || net->one_writer[i]) continue;
        if ((s = zero(net, net->dact[i], net->B * clvae_layer_size(&d->layers[i]), err))) return s;
    }
    reads_release(net);
    size_t end = d->nparams;
    for (int i = last; i > stop; i--) {
        const clvae_layer_t *L = &d->layers[i];
        if (is_view(L)) continue;
        clvae_tuning_note_layer(net->ctx, i, 1);
        /* the output's gradient is the caller's: before the activation when dout_is_pre, of
         * the last layer or of the source of a last view */
        if (L->act != CLVAE_ACT_IDENTITY && !(i == net->src[last] && dout_is_pre) &&
            (s = act_backward(net, i, err)))
            break;
        if ((s = clvae_layer_kind(L->kind)->backward(net, i, err)) ||
            (s = read_layer(net, i, &end, err)))
            break;
        clvae_net_mark(net, i, 1);
    }
    clvae_tuning_note_layer(net->ctx, -1, 0);
    return s;
}

clvae_status_t clvae_net_backward(clvae_net_t *net, int dout_is_pre, clvae_buf_t din,
                                  clvae_error_t *err)
{
    return backward_down_to(net, dout_is_pre, 0, din, err);
}

clvae_status_t clvae_net_backward_to(clvae_net_t *net, int dout_is_pre, int stop,
                                     clvae_error_t *err)
{
    const clvae_model_desc_t *d = net->d;
    if (stop < 1 || stop >= d->nlayers - 1 || net->src[stop] != stop)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "backward to layer %d of %s: want a layer "
                          "between the input and the output that is not a view", stop, d->name);
    /* a layer at or below stop whose output a later layer reads (a skip connection) would
     * need its gradient, which this backward leaves out */
    for (int i = stop + 1; i < d->nlayers; i++)
        for (int k = 0; k < d->layers[i].nfrom; k++)
            if (net->src[d->layers[i].from[k]] < stop)
                return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "backward to layer %d of %s: layer %d "
                                  "reads layer %d, before it", stop, d->name, i,
                                  d->layers[i].from[k]);
    return backward_down_to(net, dout_is_pre, stop, (clvae_buf_t){0}, err);
}

/* The PyTorch state_dict prefix of layer li: "encoder.N" for the N-th layer section after
 * [input] (before the latent), "decoder.N" for the N-th after [latent]; implicit layers are
 * not sections. */
static void layer_prefix(const clvae_model_desc_t *d, int li, char *out, size_t size)
{
    int enc = 0, dec = 0;
    for (int j = 0; j <= li; j++) {
        const clvae_layer_t *L = &d->layers[j];
        if (L->implicit || j == d->latent) continue;
        if (j < d->latent) enc++;
        else dec++;
    }
    int before = li < d->latent;
    snprintf(out, size, "%s.%d", before ? "encoder" : "decoder", before ? enc - 2 : dec - 1);
}

int clvae_net_tensor(const clvae_model_desc_t *d, int i, char *name, size_t size, size_t *off,
                     int *ndim, uint64_t shape[4])
{
    int k = 0;
    for (int li = 0; li < d->nlayers; li++) {
        const clvae_layer_t *L = &d->layers[li];
        if (L->w_len == 0) continue;
        int heads = L->kind == CLVAE_LAYER_LATENT ? (d->variational ? 2 : 1) : 1;
        int per = heads * (L->bias ? 2 : 1);
        if (i >= k + per) {
            k += per;
            continue;
        }
        int h = (i - k) / (L->bias ? 2 : 1), wb = (i - k) % (L->bias ? 2 : 1);
        char prefix[64];
        if (L->kind == CLVAE_LAYER_LATENT)
            snprintf(prefix, sizeof prefix, "%s",
                     d->variational ? (h ? "fc_logvar" : "fc_mu") : "fc_z");
        else
            layer_prefix(d, li, prefix, sizeof prefix);
        snprintf(name, size, "%s.%s", prefix, wb ? "bias" : "weight");
        *off = wb ? (h ? L->b2_off : L->b_off) : (h ? L->w2_off : L->w_off);
        const clvae_layer_kind_ops_t *kind = clvae_layer_kind(L->kind);
        if (wb) {
            *ndim = 1;
            shape[0] = L->out_c;
        } else if (kind->weight_shape) {
            *ndim = kind->weight_shape(L, shape);
        } else {
            *ndim = 2;
            shape[0] = L->units;
            shape[1] = clvae_layer_in_size(L);
        }
        return 1;
    }
    return 0;
}

int clvae_net_state_tensor(const clvae_model_desc_t *d, int i, char *name, size_t size,
                           size_t *off, int *ndim, uint64_t shape[4])
{
    int k = 0;
    for (int li = 0; li < d->nlayers; li++) {
        const clvae_layer_t *L = &d->layers[li];
        const clvae_layer_kind_ops_t *kind = clvae_layer_kind(L->kind);
        if (!L->s_len || !kind->state_tensor) continue;
        const char *suffix;
        for (int t = 0; kind->state_tensor(L, t, &suffix, off, ndim, shape); t++, k++) {
            if (k != i) continue;
            char prefix[64];
            layer_prefix(d, li, prefix, sizeof prefix);
            snprintf(name, size, "%s.%s", prefix, suffix);
            *off += L->s_off;
            return 1;
        }
    }
    return 0;
}

int clvae_net_is_state_name(const char *name)
{
    size_t n = strlen(name);
    for (int k = 0; k < CLVAE_LAYER_KINDS; k++) {
        const clvae_layer_kind_ops_t *kind = clvae_layer_kind((clvae_layer_kind_t)k);
        clvae_layer_t L;
        memset(&L, 0, sizeof L);
        /* every option on, so that each kind lists all of its state names */
        L.in_c = L.vq_codes = L.vq_dim = 1;
        L.vq_ema = 1;
        const char *suffix;
        size_t off;
        int ndim;
        uint64_t shape[4];
        for (int t = 0; kind->state_tensor && kind->state_tensor(&L, t, &suffix, &off, &ndim,
                                                                 shape); t++) {
            size_t m = strlen(suffix);
            if (n > m && name[n - m - 1] == '.' && strcmp(name + n - m, suffix) == 0) return 1;
        }
    }
    return 0;
}
