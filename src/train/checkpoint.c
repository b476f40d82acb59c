/* Checkpoints on top of safetensors: parameters, Adam moments, position, config, checksum. */
#include "clvae/train/checkpoint.h"
#include "clvae/net/net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/io/safetensors.h"
#include "clvae/io/sha256.h"
#include "clvae/io/version.h"

#define NAME_M1 "optimizer.exp_avg"
#define NAME_M2 "optimizer.exp_avg_sq"
#define NAME_EMA "optimizer.ema"
#define NAME_POS "train.position"

/* SHA-256 over the data of every tensor, in the given order, as hex. */
static void data_sum(const clvae_st_tensor_t *const *t, size_t n, char hex[65])
{
    clvae_sha256_t h;
    uint8_t d[32];
    clvae_sha256_init(&h);
    for (size_t i = 0; i < n; i++) clvae_sha256_update(&h, t[i]->data, t[i]->nbytes);
    clvae_sha256_final(&h, d);
    clvae_sha256_hex(d, hex);
}

/* clvae_st_read, and when the file is no safetensors file at all, what it is instead: a model
 * config (text whose first line is a [section] or a comment) or other text, as bad input. */
static clvae_status_t read_file(const char *path, clvae_st_file_t **f, clvae_error_t *err)
{
    clvae_status_t s = clvae_st_read(path, f, err);
    if (s != CLVAE_ERR_CORRUPT && s != CLVAE_ERR_INVALID) return s;
    FILE *fp = fopen(path, "rb");
    if (!fp) return s;
    unsigned char head[8192];
    size_t n = fread(head, 1, sizeof head, fp);
    fclose(fp);
    int text = 1, section = 0;
    for (size_t k = 0; k < n; k++)
        if (head[k] < 9 || (head[k] > 13 && head[k] < 32) || head[k] == 127) text = 0;
    /* a config has a line "[name]" */
    for (size_t k = 0; text && k < n && !section; k++) {
        if (k > 0 && head[k - 1] != '\n') continue;
        size_t q = k;
        while (q < n && (head[q] == ' ' || head[q] == '\t')) q++;
        if (q >= n || head[q] != '[') continue;
        q++;
        size_t name = q;
        while (q < n && ((head[q] >= 'a' && head[q] <= 'z') || head[q] == '_')) q++;
        section = q > name && q < n && head[q] == ']';
    }
    if (!text || n < 8) return s;
    if (section)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a model config file, not a checkpoint: "
                          "train it first (clvae train %s), then give the run folder", path, path);
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a text file, not a checkpoint (a run folder "
                      "or its checkpoint.safetensors)", path);
}

/* "prefix.name", or name alone for the empty prefix (a single network keeps today's names). */
static void prefixed(char *out, size_t size, const char *prefix, const char *name)
{
    int n = prefix && *prefix ? snprintf(out, size, "%s.%s", prefix, name)
                              : snprintf(out, size, "%s", name);
    if (n < 0 || (size_t)n >= size) out[size - 1] = 0; /* cut: the name is then not found */
}

/* Parameter and state tensors of a network's layers. */
static int count_tensors(const clvae_model_desc_t *desc)
{
    char name[128];
    size_t off;
    int ndim, n = 0, m = 0;
    uint64_t shape[4];
    while (clvae_net_tensor(desc, n, name, sizeof name, &off, &ndim, shape)) n++;
    while (clvae_net_state_tensor(desc, m, name, sizeof name, &off, &ndim, shape)) m++;
    return n + m;
}

/* Parameter-sized arrays of one network in host: the parameters, with moments the two moments
 * and the weights' average when it keeps one. */
static size_t net_arrays(const clvae_checkpoint_net_t *nt, int moments)
{
    return moments ? 3 + (nt->ema.mem != NULL) : 1;
}

/* Floats of one network in host: its arrays (net_arrays), then the state. */
static size_t net_floats(const clvae_checkpoint_net_t *nt, int moments)
{
    return net_arrays(nt, moments) * (nt->desc->nparams ? nt->desc->nparams : 1) + nt->desc->nstate;
}

/* The network's arrays in host (parameters, with moments the two moments and the average after
 * them, then the state), refused when one holds a NaN or an infinity (naming the first such
 * tensor). */
static clvae_status_t net_to_host(clvae_ctx_t *ctx, const clvae_checkpoint_net_t *nt, int moments,
                                  float *host, const char *path, clvae_error_t *err)
{
    size_t P = nt->desc->nparams, S = nt->desc->nstate, at = net_arrays(nt, moments) * P;
    clvae_status_t s;
    if ((s = clvae_buf_download(ctx, host, nt->params, P, err)) ||
        (moments && ((s = clvae_buf_download(ctx, host + P, nt->moment1, P, err)) ||
                     (s = clvae_buf_download(ctx, host + 2 * P, nt->moment2, P, err)) ||
                     (nt->ema.mem && (s = clvae_buf_download(ctx, host + 3 * P, nt->ema, P, err))))) ||
        (S && (s = clvae_buf_download(ctx, host + at, nt->state, S, err))))
        return s;
    /* a checkpoint is the last good state: one holding NaN or infinities is not written */
    size_t nfloats = at + S, first = nfloats, bad = 0;
    for (size_t i = 0; i < nfloats; i++)
        if (!isfinite(host[i]) && !bad++) first = i;
    if (!bad) return CLVAE_OK;
    char which[160], name[128];
    prefixed(which, sizeof which, nt->prefix,
             first < 2 * P ? NAME_M1 : first < 3 * P ? NAME_M2 : NAME_EMA);
    size_t off;
    int ndim;
    uint64_t shape[4];
    for (int i = 0; first < P && clvae_net_tensor(nt->desc, i, name, sizeof name, &off, &ndim,
                                                  shape); i++) {
        size_t count = 1;
        for (int k = 0; k < ndim; k++) count *= (size_t)shape[k];
        if (first >= off && first < off + count) prefixed(which, sizeof which, nt->prefix, name);
    }
    for (int i = 0; first >= at && clvae_net_state_tensor(nt->desc, i, name, sizeof name, &off,
                                                          &ndim, shape); i++) {
        size_t count = 1;
        for (int k = 0; k < ndim; k++) count *= (size_t)shape[k];
        if (first - at >= off && first - at < off + count)
            prefixed(which, sizeof which, nt->prefix, name);
    }
    return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT,
                      "%s: not saved: the model holds %zu NaN or infinite values (the first in "
                      "'%s'); the previous file is kept", path, bad, which);
}

/* The tensors of one network into t (from *n on): its parameters under their PyTorch names,
 * with moments the optimizer's, then its state (PyTorch's buffer names), each prefixed. */
static void net_tensors(const clvae_checkpoint_net_t *nt, int moments, const float *host,
                        clvae_st_tensor_t *t, size_t *n)
{
    size_t P = nt->desc->nparams, off;
    char name[128];
    for (int i = 0; clvae_net_tensor(nt->desc, i, name, sizeof name, &off, &t[*n].ndim,
                                     t[*n].shape); i++, (*n)++) {
        size_t count = 1;
        for (int k = 0; k < t[*n].ndim; k++) count *= (size_t)t[*n].shape[k];
        prefixed(t[*n].name, sizeof t[*n].name, nt->prefix, name);
        t[*n].dtype = CLVAE_ST_F32;
        t[*n].data = host + off;
        t[*n].nbytes = count * sizeof(float);
    }
    const char *names[3] = {NAME_M1, NAME_M2, NAME_EMA};
    for (int k = 0; k + 1 < (int)net_arrays(nt, moments); k++, (*n)++) {
        prefixed(t[*n].name, sizeof t[*n].name, nt->prefix, names[k]);
        t[*n].dtype = CLVAE_ST_F32;
        t[*n].ndim = 1;
        t[*n].shape[0] = P;
        t[*n].data = host + (size_t)(k + 1) * P;
        t[*n].nbytes = P * sizeof(float);
    }
    const float *state = host + net_arrays(nt, moments) * P;
    for (int i = 0; clvae_net_state_tensor(nt->desc, i, name, sizeof name, &off, &t[*n].ndim,
                                           t[*n].shape); i++, (*n)++) {
        size_t count = 1;
        for (int k = 0; k < t[*n].ndim; k++) count *= (size_t)t[*n].shape[k];
        prefixed(t[*n].name, sizeof t[*n].name, nt->prefix, name);
        t[*n].dtype = CLVAE_ST_F32;
        t[*n].data = state + off;
        t[*n].nbytes = count * sizeof(float);
    }
}

/* Writes the tensors and the metadata: config, version, data checksum, and with a state the
 * metrics, the loss sums (one per loss column of desc's objective) and the seconds. */
static clvae_status_t write_file(const char *path, clvae_st_tensor_t *t, size_t n,
                                 const clvae_model_desc_t *desc, const char *config_text,
                                 const clvae_train_state_t *state, const char *metrics,
                                 clvae_error_t *err)
{
    const clvae_st_tensor_t **order = calloc(n ? n : 1, sizeof *order);
    if (!order) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory saving %s", path);
    for (size_t i = 0; i < n; i++) order[i] = &t[i];
    char sum[65], sums[32 * CLVAE_OBJECTIVE_MAX_COLUMNS] = "", secs[40];
    data_sum(order, n, sum);
    free(order);
    const char *const *cols;
    int ncols = clvae_objective_columns(desc, &cols);
    for (int q = 0, len = 0; q < ncols; q++)
        len += snprintf(sums + len, sizeof sums - (size_t)len, "%s%.17g", q ? "," : "",
                        state ? state->sums[q] : 0.0);
    snprintf(secs, sizeof secs, "%.17g", state ? state->seconds : 0.0);
    const char *keys[] = {"format",       "clvae.version",   "clvae.config", "clvae.data_sha256",
                          "clvae.metrics", "clvae.loss_sums", "clvae.seconds"};
    const char *vals[] = {"pt", CLVAE_VERSION, config_text, sum, metrics ? metrics : "", sums, secs};
    return clvae_st_write(path, t, n, keys, vals, state ? 7 : 4, err);
}

clvae_status_t clvae_checkpoint_save_nets(const char *path, clvae_ctx_t *ctx,
                                          const clvae_checkpoint_net_t *nets, int nnets,
                                          const clvae_model_desc_t *desc, const char *config_text,
                                          const clvae_train_state_t *state, const char *metrics,
                                          clvae_error_t *err)
{
    int moments = state != NULL;
    size_t cap = 1, floats = 0;
    for (int i = 0; i < nnets; i++) {
        cap += (size_t)count_tensors(nets[i].desc) + 3;
        floats += net_floats(&nets[i], moments);
    }
    clvae_st_tensor_t *t = calloc(cap, sizeof *t);
    float *host = malloc((floats ? floats : 1) * sizeof *host);
    clvae_status_t s = CLVAE_OK;
    size_t n = 0;
    if (!t || !host) s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory saving %s", path);
    float *h = host;
    for (int i = 0; !s && i < nnets; i++) {
        s = net_to_host(ctx, &nets[i], moments, h, path, err);
        if (!s) net_tensors(&nets[i], moments, h, t, &n);
        h += net_floats(&nets[i], moments);
    }
    uint64_t pos[4] = {0, 0, 0, 0};
    if (!s && state) {
        pos[0] = (uint64_t)state->epoch;
        pos[1] = (uint64_t)state->step;
        pos[2] = state->cursor;
        pos[3] = state->seen;
        snprintf(t[n].name, sizeof t[n].name, NAME_POS);
        t[n].dtype = CLVAE_ST_U64;
        t[n].ndim = 1;
        t[n].shape[0] = 4;
        t[n].data = pos;
        t[n].nbytes = sizeof pos;
        n++;
    }
    if (!s) s = write_file(path, t, n, desc, config_text, state, metrics, err);
    free(t);
    free(host);
    return s;
}

clvae_status_t clvae_checkpoint_save(const char *path, clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_model_desc_t *desc, const char *config_text,
                                     const clvae_train_state_t *state, const char *metrics,
                                     clvae_error_t *err)
{
    clvae_checkpoint_net_t nets[2];
    int n = clvae_objective_nets(model);
    for (int k = 0; k < n && k < 2; k++) {
        clvae_checkpoint_net_t one = {clvae_objective_net_name(model, k),
                                      k ? clvae_objective_net_desc(model, k) : desc,
                                      clvae_objective_net_params(model, k),
                                      clvae_objective_net_moment(model, k, 0),
                                      clvae_objective_net_moment(model, k, 1),
                                      clvae_objective_net_state(model, k),
                                      clvae_objective_net_ema(model, k)};
        nets[k] = one;
    }
    return clvae_checkpoint_save_nets(path, ctx, nets, n, desc, config_text, state, metrics, err);
}

static clvae_status_t verify_sum(clvae_st_file_t *f, const char *path, clvae_error_t *err)
{
    const char *want = clvae_st_meta(f, "clvae.data_sha256");
    if (!want) return CLVAE_OK;
    size_t n = clvae_st_count(f);
    const clvae_st_tensor_t **order = calloc(n ? n : 1, sizeof *order);
    if (!order) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < n; i++) order[i] = clvae_st_get(f, i);
    char got[65];
    data_sum(order, n, got);
    free(order);
    if (strcmp(got, want) != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT,
                          "%s: the tensor data do not match the checksum in the file (SHA-256 %.16s..., "
                          "recorded %.16s...): the file is damaged",
                          path, got, want);
    return CLVAE_OK;
}

/* The loss sums of the metadata ("a,b,c"): how many (1 to the most columns), or 0 when the
 * text is not such a list. */
static int parse_sums(const char *text, double *sums)
{
    int n = 0;
    for (const char *p = text;; p++) {
        char *end;
        if (n == CLVAE_OBJECTIVE_MAX_COLUMNS) return 0;
        sums[n++] = strtod(p, &end);
        if (end == p) return 0;
        p = end;
        if (*p == 0) return n;
        if (*p != ',') return 0;
    }
}

clvae_status_t clvae_checkpoint_read(const char *path, clvae_checkpoint_t *ck, clvae_error_t *err)
{
    memset(ck, 0, sizeof *ck);
    clvae_st_file_t *f = NULL;
    clvae_status_t s = read_file(path, &f, err);
    if (s) return s;
    ck->file = f;
    const char *cfg = clvae_st_meta(f, "clvae.config");
    const char *ver = clvae_st_meta(f, "clvae.version");
    if (!cfg || !ver || !clvae_st_meta(f, "clvae.data_sha256")) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT,
                       "%s: not a clvae checkpoint (no clvae.config, clvae.version and "
                       "clvae.data_sha256 metadata); for plain weights use --init",
                       path);
        goto fail;
    }
    if ((s = verify_sum(f, path, err))) goto fail;
    snprintf(ck->version, sizeof ck->version, "%s", ver);
    const char *metrics = clvae_st_meta(f, "clvae.metrics");
    ck->config = strdup(cfg);
    ck->metrics = strdup(metrics ? metrics : "");
    if (!ck->config || !ck->metrics) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto fail;
    }
    const clvae_st_tensor_t *pos = clvae_st_find(f, NAME_POS);
    if (pos) {
        if (pos->dtype != CLVAE_ST_U64 || pos->ndim != 1 || pos->shape[0] != 4) {
            s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: %s must be U64 [4]", path, NAME_POS);
            goto fail;
        }
        uint64_t p[4];
        memcpy(p, pos->data, sizeof p);
        const char *sums = clvae_st_meta(f, "clvae.loss_sums");
        const char *secs = clvae_st_meta(f, "clvae.seconds");
        if (p[0] > 1000000 || p[1] > ((uint64_t)1 << 50) || p[2] > ((uint64_t)1 << 32) ||
            p[3] > ((uint64_t)1 << 40) || !sums || !secs ||
            (ck->state.ncols = parse_sums(sums, ck->state.sums)) < 1 ||
            sscanf(secs, "%lf", &ck->state.seconds) != 1) {
            s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: the training position is not valid", path);
            goto fail;
        }
        ck->state.epoch = (long)p[0];
        ck->state.step = (long)p[1];
        ck->state.cursor = (size_t)p[2];
        ck->state.seen = (size_t)p[3];
        ck->has_state = 1;
    }
    return CLVAE_OK;
fail:
    clvae_checkpoint_free(ck);
    return s;
}

/* Copies tensor name (F32, the given shape) into dst. */
static clvae_status_t take(clvae_st_file_t *f, const char *path, const char *name, int ndim,
                           const uint64_t *shape, float *dst, clvae_error_t *err)
{
    const clvae_st_tensor_t *t = clvae_st_find(f, name);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no tensor '%s' that the model needs",
                              path, name);
    int same = t->dtype == CLVAE_ST_F32 && t->ndim == ndim;
    for (int k = 0; same && k < ndim; k++) same = t->shape[k] == shape[k];
    if (!same) {
        char a[96] = "", b[96] = "";
        for (int k = 0; k < ndim; k++)
            snprintf(a + strlen(a), sizeof a - strlen(a), "%s%llu", k ? "x" : "",
                     (unsigned long long)shape[k]);
        for (int k = 0; k < t->ndim && k < 8; k++)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%s%llu", k ? "x" : "",
                     (unsigned long long)t->shape[k]);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: tensor '%s' is %s [%s] but the model needs F32 [%s]", path, name,
                          clvae_st_dtype_name(t->dtype), b, a);
    }
    memcpy(dst, t->data, t->nbytes);
    return CLVAE_OK;
}

clvae_status_t clvae_checkpoint_bind_net(clvae_checkpoint_t *ck, const clvae_model_desc_t *desc,
                                         const char *prefix, const char *path, clvae_error_t *err)
{
    clvae_st_file_t *f = ck->file;
    size_t P = desc->nparams ? desc->nparams : 1;
    free(ck->params);
    free(ck->m1); /* a second bind (another model) replaces the moments and state too */
    free(ck->m2);
    free(ck->ema);
    free(ck->buffers);
    ck->m1 = ck->m2 = ck->ema = NULL;
    ck->params = calloc(P, sizeof(float));
    ck->buffers = calloc(desc->nstate ? desc->nstate : 1, sizeof(float));
    if (!ck->params || !ck->buffers) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    char name[128], full[160], m1[160], m2[160], ema[160];
    size_t off;
    int ndim;
    uint64_t shape[4];
    clvae_status_t s;
    for (int i = 0; clvae_net_tensor(desc, i, name, sizeof name, &off, &ndim, shape); i++) {
        prefixed(full, sizeof full, prefix, name);
        if ((s = take(f, path, full, ndim, shape, ck->params + off, err))) return s;
    }
    for (int i = 0; clvae_net_state_tensor(desc, i, name, sizeof name, &off, &ndim, shape); i++) {
        prefixed(full, sizeof full, prefix, name);
        if ((s = take(f, path, full, ndim, shape, ck->buffers + off, err))) return s;
    }
    prefixed(m1, sizeof m1, prefix, NAME_M1);
    prefixed(m2, sizeof m2, prefix, NAME_M2);
    if (clvae_st_find(f, m1) && clvae_st_find(f, m2)) {
        uint64_t flat[1] = {desc->nparams};
        ck->m1 = malloc(P * sizeof(float));
        ck->m2 = malloc(P * sizeof(float));
        if (!ck->m1 || !ck->m2) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        if ((s = take(f, path, m1, 1, flat, ck->m1, err)) ||
            (s = take(f, path, m2, 1, flat, ck->m2, err)))
            return s;
    }
    prefixed(ema, sizeof ema, prefix, NAME_EMA);
    if (clvae_st_find(f, ema)) {
        uint64_t flat[1] = {desc->nparams};
        ck->ema = malloc(P * sizeof(float));
        if (!ck->ema) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        if ((s = take(f, path, ema, 1, flat, ck->ema, err))) return s;
    }
    return CLVAE_OK;
}

clvae_status_t clvae_checkpoint_bind(clvae_checkpoint_t *ck, const clvae_model_desc_t *desc,
                                     const char *path, clvae_error_t *err)
{
    return clvae_checkpoint_bind_net(ck, desc, "", path, err);
}

clvae_status_t clvae_checkpoint_restore(clvae_checkpoint_t *ck, clvae_ctx_t *ctx,
                                        clvae_objective_t *model, int how, const char *path,
                                        clvae_error_t *err)
{
    int want_moments = (how & CLVAE_RESTORE_MOMENTS) != 0, raw = (how & CLVAE_RESTORE_RAW) != 0;
    clvae_status_t s = CLVAE_OK;
    for (int k = 0; !s && k < clvae_objective_nets(model); k++) {
        const clvae_model_desc_t *d = clvae_objective_net_desc(model, k);
        clvae_buf_t state = clvae_objective_net_state(model, k);
        clvae_buf_t params = clvae_objective_net_params(model, k);
        clvae_buf_t ema = clvae_objective_net_ema(model, k);
        if ((s = clvae_checkpoint_bind_net(ck, d, clvae_objective_net_name(model, k), path,
                                           err)))
            break;
        /* in use (not training on), a network is its weights' average when the file keeps one */
        const float *weights = !want_moments && !raw && ck->ema ? ck->ema : ck->params;
        if ((s = clvae_buf_upload(ctx, params, weights, d->nparams, err)) ||
            (state.mem && (s = clvae_buf_upload(ctx, state, ck->buffers, d->nstate, err))))
            break;
        if (want_moments && ck->m1 && ck->m2 &&
            ((s = clvae_buf_upload(ctx, clvae_objective_net_moment(model, k, 0), ck->m1,
                                   d->nparams, err)) ||
             (s = clvae_buf_upload(ctx, clvae_objective_net_moment(model, k, 1), ck->m2,
                                   d->nparams, err))))
            break;
        /* the average goes on from the file's, or starts at the weights */
        if (ema.mem)
            s = want_moments && ck->ema ? clvae_buf_upload(ctx, ema, ck->ema, d->nparams, err)
                                        : clvae_objective_net_ema_reset(model, k, err);
    }
    return s;
}

clvae_status_t clvae_checkpoint_apply(const clvae_checkpoint_t *ck, clvae_ctx_t *ctx,
                                      clvae_objective_t *model, size_t nparams, int want_moments,
                                      clvae_error_t *err)
{
    clvae_status_t s = clvae_buf_upload(ctx, clvae_objective_params(model), ck->params, nparams, err);
    clvae_buf_t state = clvae_objective_state(model);
    if (!s && state.mem) s = clvae_buf_upload(ctx, state, ck->buffers, clvae_objective_nstate(model), err);
    if (!s && want_moments && ck->m1 && ck->m2) {
        s = clvae_buf_upload(ctx, clvae_objective_moment1(model), ck->m1, nparams, err);
        if (!s) s = clvae_buf_upload(ctx, clvae_objective_moment2(model), ck->m2, nparams, err);
    }
    return s;
}

void clvae_checkpoint_free(clvae_checkpoint_t *ck)
{
    if (!ck) return;
    clvae_st_free(ck->file);
    free(ck->config);
    free(ck->metrics);
    free(ck->params);
    free(ck->m1);
    free(ck->m2);
    free(ck->ema);
    free(ck->buffers);
    memset(ck, 0, sizeof *ck);
}

clvae_status_t clvae_checkpoint_load_weights(const char *path, clvae_ctx_t *ctx,
                                             clvae_objective_t *model, const clvae_model_desc_t *desc,
                                             clvae_error_t *err)
{
    clvae_checkpoint_t ck;
    memset(&ck, 0, sizeof ck);
    clvae_st_file_t *f = NULL;
    clvae_status_t s = read_file(path, &f, err);
    if (s) return s;
    ck.file = f;
    (void)desc;
    if (!(s = verify_sum(f, path, err))) s = clvae_checkpoint_restore(&ck, ctx, model, 0, path, err);
    clvae_checkpoint_free(&ck);
    return s;
}
