/* The model on the device: buffers per layer, forward, backward, optimizer step, latents. */
#include "clvae/net/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/ops/basic.h"
#include "clvae/ops/concat.h"
#include "clvae/net/config.h"
#include "clvae/ops/dense.h"
#include "clvae/ops/latent.h"
#include "clvae/ops/loss.h"
#include "clvae/ops/optim.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"
#include "clvae/ops/xent.h"

/*
 * Buffers, per layer i (shape key: B examples of the layer's output size S_i):
 *   act[i]   [B, S_i]  output after the activation (layer 0: the input batch)
 *   pre[i]   [B, S_i]  output before the activation (only when the activation is not identity)
 *   dact[i], dpre[i]   their gradients
 * [flatten] and [reshape] own no buffers: their views are their input's. The latent layer's
 * act is z; mu, logvar, eps live beside it. A conditional model (K classes) feeds layer 1 from
 *   xcat     [B, C+K, H, W]  the input with the one-hot label channels of labels [B]
 * and the first decoder layer from
 *   zcat     [B, J+K]        z with the one-hot label; dzcat its gradient
 */
struct clvae_model {
    clvae_ctx_t *ctx;
    const clvae_model_desc_t *d;
    size_t max_batch, B, J, D;
    int sampled;                 /* the last forward drew eps */
    clvae_buf_t *act, *pre, *dact, *dpre;
    clvae_buf_t *owned;          /* every allocation, for freeing */
    int nowned;
    clvae_buf_t params, grads, m1, m2;
    clvae_buf_t mu, logvar, eps, dmu, dlogvar;
    clvae_buf_t rec_ex, kl_ex;   /* [B] per-example terms */
    clvae_buf_t losses;          /* [4]: total, recon, kl, non-finite count (loss, gradients) */
    clvae_buf_t target;          /* the target of the last forward */
    clvae_buf_t labels, xcat, zcat, dzcat; /* conditional models (see the top) */
    float beta;                  /* the KL weight (clvae_model_set_beta; starts at desc's) */
    size_t bytes;                /* device memory the model allocated */
    int profile;                 /* record markers around layers (clvae_model_profile) */
    cl_event *marks;             /* [2 * nlayers + 4] markers of the last step */
    int *mark_layer;             /* the layer each marker closes, -1 for a start */
    int *mark_phase;             /* 0 forward, 1 backward */
    int nmarks;
};

static clvae_status_t alloc(clvae_model_t *m, size_t n, clvae_buf_t *out, clvae_error_t *err)
{
    clvae_status_t s = clvae_buf_alloc(m->ctx, n, out, err);
    if (!s) {
        m->owned[m->nowned++] = *out;
        m->bytes += n * sizeof(float);
    }
    return s;
}

/* With profiling on, enqueues a marker that closes `layer`'s work in `phase` (layer -1: the
 * start of a phase); the time between consecutive markers is that layer's device time. */
static void mark(clvae_model_t *m, int layer, int phase)
{
    if (!m->profile || m->nmarks >= 2 * m->d->nlayers + 4) return;
    cl_event e;
    if (clEnqueueMarkerWithWaitList(clvae_ctx_queue(m->ctx), 0, NULL, &e) != CL_SUCCESS) return;
    m->marks[m->nmarks] = e;
    m->mark_layer[m->nmarks] = layer;
    m->mark_phase[m->nmarks] = phase;
    m->nmarks++;
}

static void marks_release(clvae_model_t *m)
{
    for (int i = 0; i < m->nmarks; i++) clReleaseEvent(m->marks[i]);
    m->nmarks = 0;
}

clvae_status_t clvae_model_profile(clvae_model_t *m, int on, clvae_error_t *err)
{
    if (on && !m->marks) {
        size_t n = (size_t)(2 * m->d->nlayers + 4);
        m->marks = calloc(n, sizeof *m->marks);
        m->mark_layer = calloc(n, sizeof *m->mark_layer);
        m->mark_phase = calloc(n, sizeof *m->mark_phase);
        if (!m->marks || !m->mark_layer || !m->mark_phase)
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    marks_release(m);
    m->profile = on;
    return CLVAE_OK;
}

clvae_status_t clvae_model_profile_read(clvae_model_t *m, double *fwd_ns, double *bwd_ns,
                                        clvae_error_t *err)
{
    clvae_status_t s = clvae_ctx_finish(m->ctx, err);
    if (s) return s;
    cl_ulong prev = 0;
    for (int i = 0; i < m->nmarks; i++) {
        cl_ulong t;
        cl_int rc = clGetEventProfilingInfo(m->marks[i], CL_PROFILING_COMMAND_END, sizeof t, &t,
                                            NULL);
        if (rc != CL_SUCCESS) {
            marks_release(m);
            return clvae_error_cl(err, rc, "clGetEventProfilingInfo", __FILE__, __LINE__);
        }
        int L = m->mark_layer[i];
        if (L >= 0 && i > 0) (m->mark_phase[i] ? bwd_ns : fwd_ns)[L] += (double)(t - prev);
        prev = t;
    }
    marks_release(m);
    return CLVAE_OK;
}

size_t clvae_model_device_bytes(const clvae_model_t *m) { return m->bytes; }

static size_t out_size(const clvae_layer_t *L) { return L->out_c * L->out_h * L->out_w; }

static int is_view(const clvae_layer_t *L)
{
    return L->kind == CLVAE_LAYER_FLATTEN || L->kind == CLVAE_LAYER_RESHAPE;
}

static clvae_status_t zero(clvae_model_t *m, clvae_buf_t b, size_t n, clvae_error_t *err)
{
    return clvae_fill_forward(m->ctx, b.mem, b.off, 0.0f, n, err);
}

/* What clvae_model_init allocates, in floats: `fixed` whatever the batch, `per` for each
 * example of the batch, `largest` the largest per-example buffer (in layer *at). */
typedef struct footprint {
    size_t fixed, per, largest;
    int at;
} footprint_t;

static footprint_t footprint_of(const clvae_model_desc_t *d)
{
    footprint_t f = {4 * (d->nparams ? d->nparams : 1) + 4, 0, 0, 0};
    for (int i = 0; i < d->nlayers; i++) {
        const clvae_layer_t *ly = &d->layers[i];
        if (i > 0 && is_view(ly)) continue;
        size_t S = out_size(ly);
        f.per += (ly->act != CLVAE_ACT_IDENTITY ? 4 : 2) * S;
        if (S > f.largest) {
            f.largest = S;
            f.at = i;
        }
    }
    size_t J = d->classes ? (size_t)d->classes : d->layers[d->latent].units;
    f.per += 5 * J + 2;
    if (d->conditional) /* labels, xcat, zcat, dzcat */
        f.per += 1 + d->layers[1].in_c * d->layers[1].in_h * d->layers[1].in_w +
                 2 * (J + d->conditional);
    if (J > f.largest) {
        f.largest = J;
        f.at = d->classes ? d->nlayers - 1 : d->latent;
    }
    return f;
}

/* The largest batch <= want that footprint f allows on the device. */
static size_t fit_batch(const clvae_device_info_t *dev, footprint_t f, size_t want)
{
    uint64_t alloc = dev->max_alloc / sizeof(float), global = dev->global_mem / sizeof(float);
    if (f.fixed / 4 > alloc || f.fixed > global || f.largest == 0) return 0;
    uint64_t b1 = alloc / f.largest, b2 = (global - f.fixed) / (f.per ? f.per : 1);
    uint64_t b = b1 < b2 ? b1 : b2;
    return b < want ? (size_t)b : want;
}

/* The model has its parts: an encoder and a decoder around the latent, or a classifier's
 * layers after the input. */
static int has_parts(const clvae_model_desc_t *d)
{
    if (d->classes) return d->classes > 0 && d->nlayers >= 2 && d->latent == d->nlayers;
    return d->latent >= 1 && d->nlayers >= d->latent + 2;
}

size_t clvae_model_fit_batch(const clvae_ctx_t *ctx, const clvae_model_desc_t *d, size_t want)
{
    if (!has_parts(d)) return 0;
    return fit_batch(clvae_ctx_device(ctx), footprint_of(d), want);
}

/* "12.5 MiB", "3.0 KiB" or "812 bytes". */
static const char *size_text(double bytes, char *buf, size_t size)
{
    if (bytes >= 1048576.0) snprintf(buf, size, "%.1f MiB", bytes / 1048576.0);
    else if (bytes >= 1024.0) snprintf(buf, size, "%.1f KiB", bytes / 1024.0);
    else snprintf(buf, size, "%.0f bytes", bytes);
    return buf;
}

/* Why batches of B do not fit the device, and the batch to use instead (0: none fits). */
static clvae_status_t no_room(const clvae_model_desc_t *d, footprint_t f, size_t B,
                              const char *why, size_t fit, clvae_error_t *err)
{
    char advice[160], all[32], big[32], fixed[32];
    if (fit)
        snprintf(advice, sizeof advice, "use a batch of %zu or less (train.batch)", fit);
    else
        snprintf(advice, sizeof advice, "the model does not fit this device even for one "
                 "example: use a smaller model or a device with more memory");
    return CLVAE_FAIL(err, CLVAE_ERR_DEVICE_MEMORY,
                      "out of device memory: a batch of %zu needs %s for the model's buffers "
                      "(the largest, layer %d [%s], %s; parameters and optimizer state %s); %s: "
                      "%s",
                      B, size_text((double)(f.fixed + B * f.per) * 4.0, all, sizeof all), f.at,
                      clvae_layer_kind_name(d->layers[f.at].kind),
                      size_text((double)(B * f.largest) * 4.0, big, sizeof big),
                      size_text((double)f.fixed * 4.0, fixed, sizeof fixed), why, advice);
}

clvae_status_t clvae_model_init(clvae_model_t **out, clvae_ctx_t *ctx,
                                const clvae_model_desc_t *d, size_t max_batch, clvae_error_t *err)
{
    *out = NULL;
    if (max_batch == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch size 0");
    if (!has_parts(d))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "model has no encoder or decoder");
    /* what cannot fit is said before anything is allocated, with the batch that fits */
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    footprint_t f = footprint_of(d);
    size_t fit = fit_batch(dev, f, max_batch);
    if (fit < max_batch) {
        char why[200], lim[32];
        if ((uint64_t)(f.fixed / 4) > dev->max_alloc / 4 ||
            (uint64_t)max_batch * f.largest > dev->max_alloc / 4)
            snprintf(why, sizeof why, "one buffer exceeds the device's maximum allocation of %s",
                     size_text((double)dev->max_alloc, lim, sizeof lim));
        else
            snprintf(why, sizeof why, "all of them exceed the device's global memory of %s",
                     size_text((double)dev->global_mem, lim, sizeof lim));
        return no_room(d, f, max_batch, why, fit, err);
    }
    clvae_model_t *m = calloc(1, sizeof *m);
    int L = d->nlayers;
    if (m) {
        m->act = calloc((size_t)L, sizeof *m->act);
        m->pre = calloc((size_t)L, sizeof *m->pre);
        m->dact = calloc((size_t)L, sizeof *m->dact);
        m->dpre = calloc((size_t)L, sizeof *m->dpre);
        m->owned = calloc((size_t)(4 * L + 24), sizeof *m->owned);
    }
    if (!m || !m->act || !m->pre || !m->dact || !m->dpre || !m->owned) {
        clvae_model_free(m);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    m->ctx = ctx;
    m->d = d;
    m->max_batch = max_batch;
    m->J = d->classes ? (size_t)d->classes : d->layers[d->latent].units;
    m->D = out_size(&d->layers[0]);
    m->beta = d->beta;
    clvae_status_t s = CLVAE_OK;
    size_t P = d->nparams ? d->nparams : 1;
    if ((s = alloc(m, P, &m->params, err)) || (s = alloc(m, P, &m->grads, err)) ||
        (s = alloc(m, P, &m->m1, err)) || (s = alloc(m, P, &m->m2, err)))
        goto fail;
    if (d->conditional) {
        const clvae_layer_t *l1 = &d->layers[1];
        size_t nz = max_batch * (m->J + d->conditional);
        if ((s = alloc(m, max_batch, &m->labels, err)) ||
            (s = alloc(m, max_batch * l1->in_c * l1->in_h * l1->in_w, &m->xcat, err)) ||
            (s = alloc(m, nz, &m->zcat, err)) || (s = alloc(m, nz, &m->dzcat, err)) ||
            (s = zero(m, m->labels, max_batch, err)))
            goto fail;
    }
    for (int i = 0; i < L; i++) {
        const clvae_layer_t *ly = &d->layers[i];
        size_t n = max_batch * out_size(ly);
        if (i > 0 && is_view(ly)) {
            /* a view of the concatenated input has no gradient: nothing flows into data */
            m->act[i] = i == 1 && d->conditional ? m->xcat : m->act[i - 1];
            m->dact[i] = i == 1 && d->conditional ? (clvae_buf_t){0} : m->dact[i - 1];
            continue;
        }
        if ((s = alloc(m, n, &m->act[i], err)) || (s = alloc(m, n, &m->dact[i], err))) goto fail;
        if (ly->act != CLVAE_ACT_IDENTITY &&
            ((s = alloc(m, n, &m->pre[i], err)) || (s = alloc(m, n, &m->dpre[i], err))))
            goto fail;
        if (ly->act == CLVAE_ACT_IDENTITY) {
            m->pre[i] = m->act[i];
            m->dpre[i] = m->dact[i];
        }
    }
    size_t nj = max_batch * m->J;
    if ((s = alloc(m, nj, &m->mu, err)) || (s = alloc(m, nj, &m->logvar, err)) ||
        (s = alloc(m, nj, &m->eps, err)) || (s = alloc(m, nj, &m->dmu, err)) ||
        (s = alloc(m, nj, &m->dlogvar, err)) || (s = alloc(m, max_batch, &m->rec_ex, err)) ||
        (s = alloc(m, max_batch, &m->kl_ex, err)) || (s = alloc(m, 4, &m->losses, err)))
        goto fail;
    if ((s = zero(m, m->params, P, err)) || (s = zero(m, m->m1, P, err)) ||
        (s = zero(m, m->m2, P, err)) || (s = zero(m, m->logvar, nj, err)) ||
        (s = zero(m, m->eps, nj, err)) || (s = zero(m, m->kl_ex, max_batch, err)) ||
        (s = zero(m, m->losses, 4, err)))
        goto fail;
    *out = m;
    return CLVAE_OK;
fail:
    clvae_model_free(m);
    if (s == CLVAE_ERR_DEVICE_MEMORY) {
        char inner[sizeof err->msg + 32];
        snprintf(inner, sizeof inner, "the driver refused: %s", err->msg);
        return no_room(d, f, max_batch, inner, max_batch / 2, err);
    }
    return s;
}

void clvae_model_free(clvae_model_t *m)
{
    if (!m) return;
    for (int i = 0; m->owned && i < m->nowned; i++) clvae_buf_free(&m->owned[i]);
    free(m->owned);
    marks_release(m);
    free(m->marks);
    free(m->mark_layer);
    free(m->mark_phase);
    free(m->act);
    free(m->pre);
    free(m->dact);
    free(m->dpre);
    free(m);
}

clvae_buf_t clvae_model_params(const clvae_model_t *m) { return m->params; }
clvae_buf_t clvae_model_grads(const clvae_model_t *m) { return m->grads; }
clvae_buf_t clvae_model_moment1(const clvae_model_t *m) { return m->m1; }
clvae_buf_t clvae_model_moment2(const clvae_model_t *m) { return m->m2; }
clvae_buf_t clvae_model_input(const clvae_model_t *m) { return m->act[0]; }
clvae_buf_t clvae_model_loss_buf(const clvae_model_t *m) { return m->losses; }
clvae_buf_t clvae_model_labels(const clvae_model_t *m) { return m->labels; }
size_t clvae_model_classes(const clvae_model_t *m) { return m->d->conditional; }
clvae_ctx_t *clvae_model_ctx(const clvae_model_t *m) { return m->ctx; }
void clvae_model_set_beta(clvae_model_t *m, float beta) { m->beta = beta; }
size_t clvae_model_latent_dim(const clvae_model_t *m) { return m->J; }
size_t clvae_model_max_batch(const clvae_model_t *m) { return m->max_batch; }
size_t clvae_model_example_dim(const clvae_model_t *m) { return m->D; }

/* Fan-in and fan-out of a weight as Keras computes them for Glorot init. */
static void fans(const clvae_layer_t *L, double *fan_in, double *fan_out)
{
    double rf = (double)(L->conv.kh * L->conv.kw);
    if (L->kind == CLVAE_LAYER_CONV) {
        *fan_in = rf * (double)L->in_c;
        *fan_out = rf * (double)L->out_c;
    } else if (L->kind == CLVAE_LAYER_DECONV) {
        /* Keras' Conv2DTranspose kernel is (kh, kw, filters, in): fans swap roles */
        *fan_in = rf * (double)L->out_c;
        *fan_out = rf * (double)L->in_c;
    } else {
        *fan_in = (double)(L->in_c * L->in_h * L->in_w);
        *fan_out = (double)L->units;
    }
}

clvae_status_t clvae_model_init_params(clvae_model_t *m, uint64_t seed, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    size_t P = d->nparams;
    if (P == 0) return CLVAE_OK;
    float *host = calloc(P, sizeof *host), *u = NULL;
    if (!host) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    uint64_t offset = 0;
    for (int i = 0; i < d->nlayers; i++) {
        const clvae_layer_t *L = &d->layers[i];
        if (L->w_len == 0) continue;
        double fi, fo;
        fans(L, &fi, &fo);
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
            for (size_t k = 0; k < L->w_len; k++)
                host[off + k] = (float)((2.0 * u[k] - 1.0) * limit);
        }
    }
    free(u);
    clvae_status_t s = clvae_buf_upload(m->ctx, m->params, host, P, err);
    free(host);
    return s;
}

/* What layer i reads: act[i-1], or for a conditional model the input or z joined with the
 * one-hot labels (layer 1, the first decoder layer). */
static clvae_buf_t feed(const clvae_model_t *m, int i)
{
    if (m->d->conditional && i == 1) return m->xcat;
    if (m->d->conditional && i == m->d->latent + 1) return m->zcat;
    return m->act[i - 1];
}

/* Where layer i's input gradient goes (a NULL view: nowhere, the data gets none). */
static clvae_buf_t dfeed(const clvae_model_t *m, int i)
{
    if (m->d->conditional && i == 1) return (clvae_buf_t){0};
    if (m->d->conditional && i == m->d->latent + 1) return m->dzcat;
    return m->dact[i - 1];
}

/* Forward of layer i from feed(i) into pre[i] and act[i] (not the latent layer). */
static clvae_status_t layer_forward(clvae_model_t *m, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &m->d->layers[i];
    clvae_buf_t x = feed(m, i), w = clvae_buf_at(m->params, L->w_off);
    clvae_buf_t b = L->bias ? clvae_buf_at(m->params, L->b_off) : (clvae_buf_t){0};
    clvae_status_t s = CLVAE_OK;
    clvae_conv_geom_t g;
    switch (L->kind) {
    case CLVAE_LAYER_CONV:
        if ((s = clvae_conv2d_geom(&g, m->B, L->in_c, L->in_h, L->in_w, L->out_c, &L->conv, err)))
            return s;
        s = clvae_conv2d_forward(m->ctx, m->pre[i], x, w, b, &g, err);
        break;
    case CLVAE_LAYER_DECONV:
        if ((s = clvae_conv_transpose2d_geom(&g, m->B, L->in_c, L->in_h, L->in_w, L->out_c,
                                             &L->conv, err)))
            return s;
        s = clvae_conv_transpose2d_forward(m->ctx, m->pre[i], x, w, b, &g, err);
        break;
    case CLVAE_LAYER_DENSE:
        s = clvae_dense_forward(m->ctx, m->pre[i], x, w, b, m->B, L->in_c * L->in_h * L->in_w,
                                L->units, err);
        break;
    default:
        return CLVAE_OK; /* flatten, reshape: views */
    }
    if (s || L->act == CLVAE_ACT_IDENTITY) return s;
    return clvae_act_forward(m->ctx, m->act[i], m->pre[i], L->act, L->slope, m->B * out_size(L),
                             err);
}

/* Backward of layer i: dpre[i] is known; adds parameter gradients and dact[i-1] (when
 * need_dx), then turns dact[i-1] into dpre[i-1] through layer i-1's activation. */
static clvae_status_t layer_backward(clvae_model_t *m, int i, int need_dx, clvae_error_t *err)
{
    const clvae_layer_t *L = &m->d->layers[i];
    clvae_buf_t none = {0};
    clvae_buf_t x = feed(m, i), w = clvae_buf_at(m->params, L->w_off);
    clvae_buf_t dw = clvae_buf_at(m->grads, L->w_off);
    clvae_buf_t db = L->bias ? clvae_buf_at(m->grads, L->b_off) : none;
    clvae_buf_t dx = need_dx ? dfeed(m, i) : none;
    size_t in = L->in_c * L->in_h * L->in_w;
    clvae_status_t s;
    if (dx.mem && !is_view(L) && (s = zero(m, dx, m->B * in, err))) return s;
    clvae_conv_geom_t g;
    switch (L->kind) {
    case CLVAE_LAYER_CONV:
        if ((s = clvae_conv2d_geom(&g, m->B, L->in_c, L->in_h, L->in_w, L->out_c, &L->conv, err)) ||
            (s = clvae_conv2d_backward(m->ctx, dx, dw, db, m->dpre[i], x, w, &g, err)))
            return s;
        break;
    case CLVAE_LAYER_DECONV:
        if ((s = clvae_conv_transpose2d_geom(&g, m->B, L->in_c, L->in_h, L->in_w, L->out_c,
                                             &L->conv, err)) ||
            (s = clvae_conv_transpose2d_backward(m->ctx, dx, dw, db, m->dpre[i], x, w, &g, err)))
            return s;
        break;
    case CLVAE_LAYER_DENSE:
        if ((s = clvae_dense_backward(m->ctx, dx, dw, db, m->dpre[i], x, w, m->B, in, L->units,
                                      err)))
            return s;
        break;
    default:
        break; /* views: dact[i-1] is dact[i] */
    }
    return CLVAE_OK;
}

/* dpre[i] = act'(pre[i]) * dact[i] for a layer with an activation (zeroed first). */
static clvae_status_t act_backward(clvae_model_t *m, int i, clvae_error_t *err)
{
    const clvae_layer_t *L = &m->d->layers[i];
    if (L->act == CLVAE_ACT_IDENTITY || is_view(L) || i == 0) return CLVAE_OK;
    size_t n = m->B * out_size(L);
    clvae_status_t s = zero(m, m->dpre[i], n, err);
    if (s) return s;
    return clvae_act_backward(m->ctx, m->dpre[i], m->dact[i], m->pre[i], m->act[i], L->act,
                              L->slope, n, err);
}

/* The index of the last real layer at or before i (skipping views). */
static int real_layer(const clvae_model_t *m, int i)
{
    while (i > 0 && is_view(&m->d->layers[i])) i--;
    return i;
}

static clvae_status_t decoder_forward(clvae_model_t *m, clvae_error_t *err)
{
    if (m->d->conditional) {
        clvae_status_t s = clvae_label_concat_forward(m->ctx, m->zcat, m->act[m->d->latent],
                                                      m->labels, m->B, m->J, 1, 1,
                                                      m->d->conditional, err);
        if (s) return s;
    }
    for (int i = m->d->latent + 1; i < m->d->nlayers; i++) {
        clvae_status_t s = layer_forward(m, i, err);
        if (s) return s;
        if (i < m->d->nlayers - 1) mark(m, i, 0); /* the last closes after the loss */
    }
    return CLVAE_OK;
}

static clvae_status_t latent_forward(clvae_model_t *m, int sample, uint64_t seed, uint64_t offset,
                                     clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    const clvae_layer_t *L = &d->layers[d->latent];
    size_t F = L->in_c * L->in_h * L->in_w;
    clvae_buf_t x = m->act[d->latent - 1];
    clvae_buf_t none = {0};
    clvae_status_t s = clvae_dense_forward(m->ctx, m->mu, x, clvae_buf_at(m->params, L->w_off),
                                           L->bias ? clvae_buf_at(m->params, L->b_off) : none,
                                           m->B, F, m->J, err);
    if (s) return s;
    m->sampled = 0;
    size_t n = m->B * m->J;
    if (!d->variational) return clvae_buf_copy(m->ctx, m->act[d->latent], m->mu, n, err);
    if ((s = clvae_dense_forward(m->ctx, m->logvar, x, clvae_buf_at(m->params, L->w2_off),
                                 L->bias ? clvae_buf_at(m->params, L->b2_off) : none, m->B, F,
                                 m->J, err)))
        return s;
    if (!sample) return clvae_buf_copy(m->ctx, m->act[d->latent], m->mu, n, err);
    m->sampled = 1;
    return clvae_reparam_forward(m->ctx, m->act[d->latent], m->eps, m->mu, m->logvar, n, seed,
                                 offset, err);
}

/* The output layer uses fused sigmoid + BCE (BCE with logits on pre) when it can. */
static int fused_bce(const clvae_model_t *m)
{
    return m->d->recon == CLVAE_RECON_BCE &&
           m->d->layers[m->d->nlayers - 1].act == CLVAE_ACT_SIGMOID;
}

static clvae_status_t losses_forward(clvae_model_t *m, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    int last = d->nlayers - 1;
    clvae_buf_t t = m->target;
    clvae_status_t s;
    clvae_buf_t rec_mean = clvae_buf_at(m->losses, 1), kl_mean = clvae_buf_at(m->losses, 2);
    if (fused_bce(m))
        s = clvae_bce_logits_forward(m->ctx, m->rec_ex, rec_mean, m->pre[last], t, m->B, m->D, err);
    else if (d->recon == CLVAE_RECON_BCE)
        s = clvae_bce_forward(m->ctx, m->rec_ex, rec_mean, m->act[last], t, m->B, m->D, err);
    else
        s = clvae_mse_forward(m->ctx, m->rec_ex, rec_mean, m->act[last], t, m->B, m->D,
                              d->recon == CLVAE_RECON_MSE_SUM ? CLVAE_MSE_SUM : CLVAE_MSE_MEAN,
                              err);
    if (s) return s;
    if (d->variational) {
        /* unweighted KL per example; the total adds beta times it */
        if ((s = clvae_kl_forward(m->ctx, m->kl_ex, kl_mean, m->mu, m->logvar, 1.0f, m->B, m->J,
                                  err)))
            return s;
    }
    /* total = recon + beta * kl, on the device: sum of the per-example terms, averaged */
    clvae_reduce_shape_t one = {1, 1, m->B, 0, 0};
    float inv = 1.0f / (float)m->B;
    if ((s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f, one,
                                  err)))
        return s;
    if (d->variational && m->beta != 0.0f)
        s = clvae_reduce_forward(m->ctx, m->losses, m->kl_ex, CLVAE_REDUCE_SUM, inv * m->beta, 1.0f,
                                 one, err);
    return s;
}

/* kind = classifier: every layer after the input, then (with labels) the softmax
 * cross-entropy per example into rec_ex and the hit flags into kl_ex; losses = [mean
 * cross-entropy, the same, accuracy]. Without labels (labels.mem NULL) only the layers run. */
static clvae_status_t classifier_forward(clvae_model_t *m, size_t B, clvae_buf_t labels,
                                         clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    int last = d->nlayers - 1;
    size_t K = (size_t)d->classes;
    clvae_status_t s;
    m->B = B;
    m->target = labels;
    m->sampled = 0;
    marks_release(m);
    mark(m, -1, 0);
    for (int i = 1; i < d->nlayers; i++) {
        if ((s = layer_forward(m, i, err))) return s;
        if (i < last) mark(m, i, 0); /* the last closes after the loss */
    }
    if (labels.mem) {
        clvae_reduce_shape_t one = {1, 1, B, 0, 0};
        float inv = 1.0f / (float)B;
        if ((s = clvae_xent_forward(m->ctx, m->rec_ex, clvae_buf_at(m->losses, 1), m->act[last],
                                    labels, B, K, err)) ||
            (s = clvae_xent_correct(m->ctx, m->kl_ex, m->act[last], labels, B, K, err)) ||
            (s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f,
                                      one, err)) ||
            (s = clvae_reduce_forward(m->ctx, clvae_buf_at(m->losses, 2), m->kl_ex,
                                      CLVAE_REDUCE_SUM, inv, 0.0f, one, err)))
            return s;
    }
    mark(m, last, 0);
    return CLVAE_OK;
}

/* Backward through layers top..1 (top's dpre is ready), then the step guard: NaN and
 * infinities in the gradients and the total loss, counted on the device. */
static clvae_status_t backward_down_from(clvae_model_t *m, int top, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    clvae_status_t s;
    for (int i = top; i > 0; i--) {
        if (is_view(&d->layers[i])) continue;
        int below = real_layer(m, i - 1);
        if ((s = layer_backward(m, i, below > 0, err))) return s;
        if (below > 0 && (s = act_backward(m, below, err))) return s;
        mark(m, i, 1);
    }
    clvae_buf_t bad = clvae_buf_at(m->losses, 3);
    clvae_reduce_shape_t one = {1, 1, 1, 0, 0};
    if (d->nparams && (s = clvae_reduce_all(m->ctx, bad, m->grads, CLVAE_REDUCE_NONFINITE, 1.0f,
                                            d->nparams, err)))
        return s;
    return clvae_reduce_forward(m->ctx, bad, m->losses, CLVAE_REDUCE_NONFINITE, 1.0f,
                                d->nparams ? 1.0f : 0.0f, one, err);
}

/* Backward of the classifier's mean cross-entropy, then the step guard as for the others. */
static clvae_status_t classifier_backward(clvae_model_t *m, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    int last = d->nlayers - 1;
    clvae_status_t s;
    if (!m->target.mem)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "classifier backward without labels: the "
                          "forward pass was given none");
    mark(m, -1, 1);
    if ((s = zero(m, m->grads, d->nparams, err)) ||
        (s = zero(m, m->dpre[last], m->B * (size_t)d->classes, err)) ||
        (s = clvae_xent_backward(m->ctx, m->dpre[last], m->act[last], m->target,
                                 1.0f / (float)m->B, m->B, (size_t)d->classes, err)))
        return s;
    return backward_down_from(m, last, err);
}

clvae_status_t clvae_model_forward(clvae_model_t *m, size_t B, int sample, uint64_t seed,
                                   uint64_t offset, clvae_buf_t target, clvae_error_t *err)
{
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "batch of %zu examples (the model holds 1 to %zu)",
                          B, m->max_batch);
    if (m->d->classes) return classifier_forward(m, B, target, err);
    m->B = B;
    m->target = target.mem ? target : m->act[0];
    clvae_status_t s;
    marks_release(m);
    mark(m, -1, 0);
    if (m->d->conditional) {
        const clvae_layer_t *in = &m->d->layers[0];
        if ((s = clvae_label_concat_forward(m->ctx, m->xcat, m->act[0], m->labels, B, in->out_c,
                                            in->out_h, in->out_w, m->d->conditional, err)))
            return s;
    }
    for (int i = 1; i < m->d->latent; i++) {
        if ((s = layer_forward(m, i, err))) return s;
        mark(m, i, 0);
    }
    if ((s = latent_forward(m, sample, seed, offset, err))) return s;
    mark(m, m->d->latent, 0);
    if ((s = decoder_forward(m, err))) return s;
    if ((s = losses_forward(m, err))) return s;
    mark(m, m->d->nlayers - 1, 0);
    return CLVAE_OK;
}

clvae_status_t clvae_model_backward(clvae_model_t *m, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    int last = d->nlayers - 1, lat = d->latent;
    float scale = 1.0f / (float)m->B;
    size_t n_out = m->B * m->D, nj = m->B * m->J;
    clvae_buf_t none = {0};
    clvae_status_t s;
    if (d->classes) return classifier_backward(m, err);
    mark(m, -1, 1);
    if (d->nparams && (s = zero(m, m->grads, d->nparams, err))) return s;
    /* loss -> dpre[last] */
    if ((s = zero(m, m->dpre[last], n_out, err))) return s;
    if (fused_bce(m)) {
        s = clvae_bce_logits_backward(m->ctx, m->dpre[last], m->pre[last], m->target, scale, m->B,
                                      m->D, err);
    } else {
        clvae_buf_t g = m->dact[last];
        if ((s = zero(m, g, n_out, err))) return s;
        if (d->recon == CLVAE_RECON_BCE)
            s = clvae_bce_backward(m->ctx, g, m->act[last], m->target, scale, m->B, m->D, err);
        else
            s = clvae_mse_backward(m->ctx, g, m->act[last], m->target, scale, m->B, m->D,
                                   d->recon == CLVAE_RECON_MSE_SUM ? CLVAE_MSE_SUM
                                                                   : CLVAE_MSE_MEAN,
                                   err);
        if (!s && d->layers[last].act != CLVAE_ACT_IDENTITY) s = act_backward(m, last, err);
    }
    if (s) return s;
    /* decoder, down to the latent's output dz = dact[lat] */
    for (int i = last; i > lat; i--) {
        if (is_view(&d->layers[i])) continue;
        if ((s = layer_backward(m, i, 1, err))) return s;
        int below = real_layer(m, i - 1);
        if (below > lat && (s = act_backward(m, below, err))) return s;
        mark(m, i, 1);
    }
    /* conditional: dz = the z part of the first decoder layer's input gradient */
    if (d->conditional &&
        ((s = zero(m, m->dact[lat], nj, err)) ||
         (s = clvae_label_concat_backward(m->ctx, m->dact[lat], m->dzcat, m->B, m->J, 1, 1,
                                          d->conditional, err))))
        return s;
    /* latent: dz -> dmu, dlogvar (+ KL) -> heads -> dact[lat-1] */
    const clvae_layer_t *L = &d->layers[lat];
    size_t F = L->in_c * L->in_h * L->in_w;
    clvae_buf_t dz = m->dact[lat], dmu = dz;
    if (d->variational) {
        dmu = m->dmu;
        if ((s = zero(m, m->dmu, nj, err)) || (s = zero(m, m->dlogvar, nj, err))) return s;
        if (m->sampled)
            s = clvae_reparam_backward(m->ctx, m->dmu, m->dlogvar, dz, m->eps, m->logvar, nj, err);
        else
            s = clvae_buf_copy(m->ctx, m->dmu, dz, nj, err);
        if (!s && m->beta != 0.0f)
            s = clvae_kl_backward(m->ctx, m->dmu, m->dlogvar, m->mu, m->logvar, m->beta, scale,
                                  m->B, m->J, err);
        if (s) return s;
    }
    int enc_top = lat - 1;
    clvae_buf_t dx = m->dact[enc_top]; /* NULL when it would flow into the data */
    if (dx.mem && (s = zero(m, dx, m->B * F, err))) return s;
    if ((s = clvae_dense_backward(m->ctx, dx, clvae_buf_at(m->grads, L->w_off),
                                  L->bias ? clvae_buf_at(m->grads, L->b_off) : none, dmu,
                                  m->act[enc_top], clvae_buf_at(m->params, L->w_off), m->B, F,
                                  m->J, err)))
        return s;
    if (d->variational &&
        (s = clvae_dense_backward(m->ctx, dx, clvae_buf_at(m->grads, L->w2_off),
                                  L->bias ? clvae_buf_at(m->grads, L->b2_off) : none, m->dlogvar,
                                  m->act[enc_top], clvae_buf_at(m->params, L->w2_off), m->B, F,
                                  m->J, err)))
        return s;
    /* encoder */
    int top = real_layer(m, enc_top);
    if (top > 0 && (s = act_backward(m, top, err))) return s;
    mark(m, lat, 1);
    return backward_down_from(m, top, err);
}

clvae_status_t clvae_model_step(clvae_model_t *m, long step, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    if (d->nparams == 0) return CLVAE_OK;
    clvae_buf_t bad = clvae_buf_at(m->losses, 3);
    if (strcmp(d->optimizer, "sgd") == 0) {
        clvae_sgd_params_t hp = {d->lr, d->momentum, 0.0f, d->weight_decay};
        return clvae_sgd_step_guarded(m->ctx, m->params, m->grads, m->m1, &hp, step, d->nparams,
                                      bad, err);
    }
    clvae_adam_params_t hp = {d->lr, d->beta1, d->beta2, d->eps, d->weight_decay};
    return clvae_adam_step_guarded(m->ctx, m->params, m->grads, m->m1, m->m2, &hp, step,
                                   d->nparams, bad, err);
}

clvae_status_t clvae_model_losses(clvae_model_t *m, clvae_losses_t *out, clvae_error_t *err)
{
    float v[3];
    clvae_status_t s = clvae_buf_download(m->ctx, v, m->losses, 3, err);
    if (s) return s;
    out->total = v[0];
    out->recon = v[1];
    out->kl = (m->d->variational || m->d->classes) ? v[2] : 0.0f;
    return CLVAE_OK;
}

clvae_status_t clvae_model_example_losses(clvae_model_t *m, float *recon, float *kl,
                                          clvae_error_t *err)
{
    clvae_status_t s = CLVAE_OK;
    if (recon) s = clvae_buf_download(m->ctx, recon, m->rec_ex, m->B, err);
    if (!s && kl) s = clvae_buf_download(m->ctx, kl, m->kl_ex, m->B, err);
    return s;
}

clvae_status_t clvae_model_latents(clvae_model_t *m, float *mu, float *logvar, float *z,
                                   float *eps, clvae_error_t *err)
{
    size_t n = m->B * m->J;
    clvae_status_t s = CLVAE_OK;
    if (mu) s = clvae_buf_download(m->ctx, mu, m->mu, n, err);
    if (!s && logvar) s = clvae_buf_download(m->ctx, logvar, m->logvar, n, err);
    if (!s && z) s = clvae_buf_download(m->ctx, z, m->act[m->d->latent], n, err);
    if (!s && eps) s = clvae_buf_download(m->ctx, eps, m->eps, n, err);
    return s;
}

clvae_status_t clvae_model_outputs(clvae_model_t *m, float *out, clvae_error_t *err)
{
    const clvae_layer_t *last = &m->d->layers[m->d->nlayers - 1];
    return clvae_buf_download(m->ctx, out, m->act[m->d->nlayers - 1], m->B * out_size(last), err);
}

clvae_status_t clvae_model_activations(clvae_model_t *m, int layer, float *out, clvae_error_t *err)
{
    if (layer < 0 || layer >= m->d->nlayers)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "layer %d of a model of %d layers", layer,
                          m->d->nlayers);
    return clvae_buf_download(m->ctx, out, m->act[layer], m->B * out_size(&m->d->layers[layer]),
                              err);
}

clvae_status_t clvae_model_decode(clvae_model_t *m, const float *z, size_t B, float *out,
                                  clvae_error_t *err)
{
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "decode of %zu latents (the model holds 1 to %zu)",
                          B, m->max_batch);
    if (m->d->classes)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a classifier has no decoder to decode latents");
    m->B = B;
    clvae_status_t s = clvae_buf_upload(m->ctx, m->act[m->d->latent], z, B * m->J, err);
    /* a conditional model decodes with the labels in clvae_model_labels */
    if (!s) s = decoder_forward(m, err);
    if (!s) s = clvae_model_outputs(m, out, err);
    return s;
}

int clvae_model_tensor(const clvae_model_desc_t *d, int i, char *name, size_t size, size_t *off,
                       int *ndim, uint64_t shape[4])
{
    int k = 0;
    for (int li = 0; li < d->nlayers; li++) {
        const clvae_layer_t *L = &d->layers[li];
        if (L->w_len == 0) continue;
        /* index within its part: encoder.N counts layer sections after [input], decoder.N
         * those after [latent] */
        int part_index = li < d->latent ? li - 1 : li - d->latent - 1;
        const char *part = li < d->latent ? "encoder" : "decoder";
        int heads = L->kind == CLVAE_LAYER_LATENT ? (d->variational ? 2 : 1) : 1;
        for (int h = 0; h < heads; h++) {
            for (int wb = 0; wb < (L->bias ? 2 : 1); wb++, k++) {
                if (k != i) continue;
                char prefix[64];
                if (L->kind == CLVAE_LAYER_LATENT)
                    snprintf(prefix, sizeof prefix, "%s", d->variational ? (h ? "fc_logvar" : "fc_mu")
                                                                        : "fc_z");
                else
                    snprintf(prefix, sizeof prefix, "%s.%d", part, part_index);
                snprintf(name, size, "%s.%s", prefix, wb ? "bias" : "weight");
                *off = wb ? (h ? L->b2_off : L->b_off) : (h ? L->w2_off : L->w_off);
                if (wb) {
                    *ndim = 1;
                    shape[0] = L->out_c;
                } else if (L->kind == CLVAE_LAYER_CONV || L->kind == CLVAE_LAYER_DECONV) {
                    *ndim = 4;
                    int tr = L->kind == CLVAE_LAYER_DECONV;
                    shape[0] = tr ? L->in_c : L->out_c;
                    shape[1] = tr ? L->out_c : L->in_c;
                    shape[2] = L->conv.kh;
                    shape[3] = L->conv.kw;
                } else {
                    *ndim = 2;
                    shape[0] = L->units;
                    shape[1] = L->in_c * L->in_h * L->in_w;
                }
                return 1;
            }
        }
    }
    return 0;
}
