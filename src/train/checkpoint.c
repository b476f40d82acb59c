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

clvae_status_t clvae_checkpoint_save(const char *path, clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_model_desc_t *desc, const char *config_text,
                                     const clvae_train_state_t *state, const char *metrics,
                                     clvae_error_t *err)
{
    size_t P = desc->nparams;
    int ntensors = 0;
    char name[128];
    size_t off;
    int ndim;
    uint64_t shape[4];
    while (clvae_net_tensor(desc, ntensors, name, sizeof name, &off, &ndim, shape)) ntensors++;
    size_t cap = (size_t)ntensors + 3;
    clvae_st_tensor_t *t = calloc(cap, sizeof *t);
    const clvae_st_tensor_t **order = calloc(cap, sizeof *order);
    float *host = malloc((state ? 3 : 1) * (P ? P : 1) * sizeof *host);
    clvae_status_t s = CLVAE_OK;
    if (!t || !order || !host) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory saving %s", path);
        goto out;
    }
    if ((s = clvae_buf_download(ctx, host, clvae_objective_params(model), P, err))) goto out;
    if (state && ((s = clvae_buf_download(ctx, host + P, clvae_objective_moment1(model), P, err)) ||
                  (s = clvae_buf_download(ctx, host + 2 * P, clvae_objective_moment2(model), P, err))))
        goto out;
    /* a checkpoint is the last good state: one holding NaN or infinities is not written */
    size_t nfloats = (state ? 3 : 1) * P, first = nfloats, bad = 0;
    for (size_t i = 0; i < nfloats; i++) {
        if (!isfinite(host[i])) {
            if (!bad++) first = i;
        }
    }
    if (bad) {
        char which[160] = NAME_M2;
        if (first < P) {
            for (int i = 0; i < ntensors; i++) {
                clvae_net_tensor(desc, i, name, sizeof name, &off, &ndim, shape);
                size_t count = 1;
                for (int k = 0; k < ndim; k++) count *= (size_t)shape[k];
                if (first >= off && first < off + count)
                    snprintf(which, sizeof which, "%s", name);
            }
        } else if (first < 2 * P) {
            snprintf(which, sizeof which, "%s", NAME_M1);
        }
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT,
                       "%s: not saved: the model holds %zu NaN or infinite values (the first in "
                       "'%s'); the previous file is kept", path, bad, which);
        goto out;
    }
    size_t n = 0;
    for (int i = 0; i < ntensors; i++, n++) {
        clvae_net_tensor(desc, i, t[n].name, sizeof t[n].name, &off, &t[n].ndim, t[n].shape);
        size_t count = 1;
        for (int k = 0; k < t[n].ndim; k++) count *= (size_t)t[n].shape[k];
        t[n].dtype = CLVAE_ST_F32;
        t[n].data = host + off;
        t[n].nbytes = count * sizeof(float);
    }
    uint64_t pos[4] = {0, 0, 0, 0};
    if (state) {
        const char *names[2] = {NAME_M1, NAME_M2};
        for (int k = 0; k < 2; k++, n++) {
            snprintf(t[n].name, sizeof t[n].name, "%s", names[k]);
            t[n].dtype = CLVAE_ST_F32;
            t[n].ndim = 1;
            t[n].shape[0] = P;
            t[n].data = host + (size_t)(k + 1) * P;
            t[n].nbytes = P * sizeof(float);
        }
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
    for (size_t i = 0; i < n; i++) order[i] = &t[i];
    char sum[65], sums[32 * CLVAE_OBJECTIVE_MAX_COLUMNS] = "", secs[40];
    data_sum(order, n, sum);
    /* one sum per loss column of the objective */
    const char *const *cols;
    int ncols = clvae_objective_columns(desc, &cols);
    for (int q = 0, len = 0; q < ncols; q++)
        len += snprintf(sums + len, sizeof sums - (size_t)len, "%s%.17g", q ? "," : "",
                        state ? state->sums[q] : 0.0);
    snprintf(secs, sizeof secs, "%.17g", state ? state->seconds : 0.0);
    const char *keys[] = {"format",       "clvae.version",   "clvae.config", "clvae.data_sha256",
                          "clvae.metrics", "clvae.loss_sums", "clvae.seconds"};
    const char *vals[] = {"pt", CLVAE_VERSION, config_text, sum, metrics ? metrics : "", sums, secs};
    s = clvae_st_write(path, t, n, keys, vals, state ? 7 : 4, err);
out:
    free(t);
    free(order);
    free(host);
    return s;
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
    clvae_status_t s = clvae_st_read(path, &f, err);
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

clvae_status_t clvae_checkpoint_bind(clvae_checkpoint_t *ck, const clvae_model_desc_t *desc,
                                     const char *path, clvae_error_t *err)
{
    clvae_st_file_t *f = ck->file;
    size_t P = desc->nparams ? desc->nparams : 1;
    free(ck->params);
    free(ck->m1); /* a second bind (another model) replaces the moments too */
    free(ck->m2);
    ck->m1 = ck->m2 = NULL;
    ck->params = calloc(P, sizeof(float));
    if (!ck->params) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    char name[128];
    size_t off;
    int ndim;
    uint64_t shape[4];
    clvae_status_t s;
    for (int i = 0; clvae_net_tensor(desc, i, name, sizeof name, &off, &ndim, shape); i++)
        if ((s = take(f, path, name, ndim, shape, ck->params + off, err))) return s;
    if (clvae_st_find(f, NAME_M1) && clvae_st_find(f, NAME_M2)) {
        uint64_t flat[1] = {desc->nparams};
        ck->m1 = malloc(P * sizeof(float));
        ck->m2 = malloc(P * sizeof(float));
        if (!ck->m1 || !ck->m2) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        if ((s = take(f, path, NAME_M1, 1, flat, ck->m1, err)) ||
            (s = take(f, path, NAME_M2, 1, flat, ck->m2, err)))
            return s;
    }
    return CLVAE_OK;
}

clvae_status_t clvae_checkpoint_apply(const clvae_checkpoint_t *ck, clvae_ctx_t *ctx,
                                      clvae_objective_t *model, size_t nparams, int want_moments,
                                      clvae_error_t *err)
{
    clvae_status_t s = clvae_buf_upload(ctx, clvae_objective_params(model), ck->params, nparams, err);
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
    memset(ck, 0, sizeof *ck);
}

clvae_status_t clvae_checkpoint_load_weights(const char *path, clvae_ctx_t *ctx,
                                             clvae_objective_t *model, const clvae_model_desc_t *desc,
                                             clvae_error_t *err)
{
    clvae_checkpoint_t ck;
    memset(&ck, 0, sizeof ck);
    clvae_st_file_t *f = NULL;
    clvae_status_t s = clvae_st_read(path, &f, err);
    if (s) return s;
    ck.file = f;
    if (!(s = verify_sum(f, path, err)) && !(s = clvae_checkpoint_bind(&ck, desc, path, err)))
        s = clvae_checkpoint_apply(&ck, ctx, model, desc->nparams, 0, err);
    clvae_checkpoint_free(&ck);
    return s;
}
