/* Training runs: epochs of device-resident batches, per-epoch test pass, metrics, checkpoints. */
#include "clvae/train/train.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clvae/train/anneal.h"
#include "clvae/ops/basic.h"
#include "clvae/train/classify.h"
#include "clvae/net/config.h"
#include "clvae/io/fileio.h"
#include "clvae/data/labels.h"
#include "clvae/ops/rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

const char *clvae_metrics_header(void)
{
    return "epoch,train_loss,train_recon,train_kl,test_loss,test_recon,test_kl,seconds,"
           "images_per_s,beta";
}

const char *clvae_metrics_columns_classifier(void)
{
    return "epoch,train_loss,train_xent,train_acc,test_loss,test_xent,test_acc";
}

clvae_status_t clvae_write_file_atomic(const char *path, const char *text, size_t len,
                                       clvae_error_t *err)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    size_t done = 0;
    const char *why = NULL;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            why = w < 0 ? strerror(errno) : "short write";
            break;
        }
        done += (size_t)w;
    }
    if (!why && fsync(fd) != 0) why = strerror(errno);
    if (close(fd) != 0 && !why) why = strerror(errno);
    if (!why && rename(tmp, path) != 0) why = strerror(errno);
    if (why) {
        unlink(tmp);
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot write %s: %s", path, why);
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CLVAE_OK;
}

clvae_status_t clvae_metrics_parse(const char *text, clvae_epoch_metrics_t **rows, size_t *n,
                                   clvae_error_t *err)
{
    *rows = NULL;
    *n = 0;
    size_t cap = 0;
    const char *p = text;
    int line = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line++;
        if (line > 1 && len > 0) {
            clvae_epoch_metrics_t r;
            char buf[512];
            snprintf(buf, sizeof buf, "%.*s", (int)(len < 511 ? len : 511), p);
            /* beta (column 10) came later: rows without it had beta 1 or none */
            r.beta = 1.0;
            int got = sscanf(buf, "%ld,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r.epoch, &r.train[0],
                             &r.train[1], &r.train[2], &r.test[0], &r.test[1], &r.test[2],
                             &r.seconds, &r.images_per_s, &r.beta);
            if (got != 9 && got != 10) {
                free(*rows);
                *rows = NULL;
                *n = 0;
                return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "metrics line %d is not 9 numbers", line);
            }
            if (*n == cap) {
                cap = cap ? cap * 2 : 64;
                clvae_epoch_metrics_t *g = realloc(*rows, cap * sizeof *g);
                if (!g) {
                    free(*rows);
                    *rows = NULL;
                    return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
                }
                *rows = g;
            }
            (*rows)[(*n)++] = r;
        }
        p += len + (nl ? 1 : 0);
    }
    return CLVAE_OK;
}

/* Appends one metrics row to a growing text. */
static clvae_status_t append_row(char **text, const clvae_epoch_metrics_t *r, int classifier,
                                 clvae_error_t *err)
{
    /* a classifier's header: its own first 7 columns, then the common ones */
    char h[512];
    const char *tail = clvae_metrics_header();
    for (int commas = 0; classifier && commas < 7 && tail; commas++) tail = strchr(tail + 1, ',');
    snprintf(h, sizeof h, "%s%s", classifier ? clvae_metrics_columns_classifier() : "",
             classifier && tail ? tail : classifier ? "" : clvae_metrics_header());
    char row[512];
    int n = snprintf(row, sizeof row, "%ld,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.6g\n",
                     r->epoch, r->train[0], r->train[1], r->train[2], r->test[0], r->test[1],
                     r->test[2], r->seconds, r->images_per_s, r->beta);
    size_t old = *text ? strlen(*text) : 0;
    if (old == 0) {
        free(*text);
        *text = malloc(strlen(h) + 2 + (size_t)n);
        if (!*text) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        sprintf(*text, "%s\n%s", h, row);
        return CLVAE_OK;
    }
    char *g = realloc(*text, old + (size_t)n + 1);
    if (!g) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    memcpy(g + old, row, (size_t)n + 1);
    *text = g;
    return CLVAE_OK;
}

/* log N(x; 0, 1) summed over J values. */
static double log_normal(const float *x, size_t J)
{
    double s = 0;
    for (size_t j = 0; j < J; j++) s += -0.5 * ((double)x[j] * x[j] + 1.8378770664093453);
    return s;
}

clvae_status_t clvae_evaluate(clvae_ctx_t *ctx, clvae_model_t *model,
                              const clvae_model_desc_t *desc, const clvae_data_dev_t *dd,
                              size_t n, size_t batch, int sample, uint64_t seed, int iwae_k,
                              clvae_eval_result_t *out, clvae_error_t *err)
{
    return clvae_evaluate_labels(ctx, model, desc, dd, NULL, n, batch, sample, seed, iwae_k, out,
                                 err);
}

clvae_status_t clvae_evaluate_labels(clvae_ctx_t *ctx, clvae_model_t *model,
                                     const clvae_model_desc_t *desc, const clvae_data_dev_t *dd,
                                     const clvae_data_dev_t *labels, size_t n, size_t batch,
                                     int sample, uint64_t seed, int iwae_k,
                                     clvae_eval_result_t *out, clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (desc->classes)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a classifier: its test pass is "
                          "clvae_classifier_evaluate (loss and accuracy)", desc->name);
    if (n == 0 || n > dd->n) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "evaluate %zu of %zu examples", n, dd->n);
    if (desc->conditional && (!labels || labels->n < n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a conditional model is evaluated with the "
                          "labels of its examples (clvae_evaluate_labels)");
    int noisy = desc->noise.kind != CLVAE_NOISE_NONE;
    clvae_buf_t clean = {0};
    if (iwae_k > 0 && (!desc->variational || desc->recon != CLVAE_RECON_BCE))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "the IWAE estimate of log p(x) needs a VAE with a BCE reconstruction");
    size_t J = clvae_model_latent_dim(model);
    uint32_t *perm = malloc(n * sizeof *perm);
    float *rec = malloc(batch * sizeof *rec), *kl = malloc(batch * sizeof *kl);
    float *lat = malloc(4 * batch * J * sizeof *lat);
    double *lse = malloc(batch * sizeof *lse);
    cl_mem idx = NULL;
    clvae_buf_t none = {0}, input = clvae_model_input(model);
    clvae_status_t s = CLVAE_OK;
    if (!perm || !rec || !kl || !lat || !lse) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    size_t D = clvae_model_example_dim(model);
    if (noisy && (s = clvae_buf_alloc(ctx, batch * D, &clean, err))) goto out;
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    if ((s = clvae_data_upload_indices(ctx, &idx, perm, n, dd->n, err))) goto out;
    double sums[3] = {0, 0, 0}, lp = 0, plain = 0;
    uint64_t offset = 0, per_call = clvae_rng_blocks(batch * J), noise_off = 0;
    for (size_t start = 0; start < n; start += batch) {
        size_t B = n - start < batch ? n - start : batch;
        /* with [noise]: clean images aside, the corrupted ones in the input */
        if ((s = clvae_data_gather(ctx, noisy ? clean : input, dd, idx, start, B, err)) ||
            (desc->conditional &&
             (s = clvae_labels_gather(ctx, clvae_model_labels(model), labels, idx, start, B,
                                      err))) ||
            (noisy && (s = clvae_noise_apply(ctx, &desc->noise, input, clean, B * D, seed,
                                             noise_off, err))) ||
            (s = clvae_model_forward(model, B, sample, seed, offset, clean, err)) ||
            (s = clvae_model_example_losses(model, rec, kl, err)))
            goto out;
        offset += per_call;
        noise_off += clvae_rng_blocks(batch * D);
        for (size_t b = 0; b < B; b++) {
            sums[1] += rec[b];
            sums[2] += desc->variational ? kl[b] : 0.0;
        }
        for (int k = 0; k < iwae_k; k++) {
            if ((s = clvae_model_forward(model, B, 1, seed ^ 0x1a3e5ULL, offset, clean, err)) ||
                (s = clvae_model_example_losses(model, rec, NULL, err)) ||
                (s = clvae_model_latents(model, NULL, lat + batch * J, lat + 2 * batch * J,
                                         lat + 3 * batch * J, err)))
                goto out;
            offset += per_call;
            for (size_t b = 0; b < B; b++) {
                const float *lv = lat + batch * J + b * J, *z = lat + 2 * batch * J + b * J;
                const float *e = lat + 3 * batch * J + b * J;
                double logq = log_normal(e, J);
                for (size_t j = 0; j < J; j++) logq -= 0.5 * lv[j];
                double logw = -(double)rec[b] + log_normal(z, J) - logq;
                if (k == 0) {
                    lse[b] = logw;
                } else {
                    double hi = fmax(lse[b], logw);
                    lse[b] = hi + log(exp(lse[b] - hi) + exp(logw - hi));
                }
            }
        }
        if (iwae_k > 0)
            for (size_t b = 0; b < B; b++) lp += lse[b] - log((double)iwae_k);
        if (noisy) {
            /* plain reconstruction: the clean images in, the same latent noise */
            if ((s = clvae_buf_copy(ctx, input, clean, B * D, err)) ||
                (s = clvae_model_forward(model, B, sample, seed, offset - per_call, none, err)) ||
                (s = clvae_model_example_losses(model, rec, NULL, err)))
                goto out;
            for (size_t b = 0; b < B; b++) plain += rec[b];
        }
    }
    out->n = n;
    out->recon = sums[1] / (double)n;
    out->kl = sums[2] / (double)n;
    out->plain_recon = noisy ? plain / (double)n : out->recon;
    /* the negative ELBO: beta = 1, whatever beta the training used */
    out->loss = out->recon + out->kl;
    out->iwae_k = iwae_k;
    out->log_px = iwae_k > 0 ? lp / (double)n : NAN;
out:
    if (idx) clReleaseMemObject(idx);
    clvae_buf_free(&clean);
    free(perm);
    free(rec);
    free(kl);
    free(lat);
    free(lse);
    return s;
}

/* Removes temp files that an earlier process killed while saving left in the run folder
 * (checkpoint.safetensors.tmp.PID.N, metrics.csv.tmp.PID), when that process is gone. They are
 * never read: only the renamed file is a checkpoint. */
static void remove_stale_temps(const char *dir)
{
    static const char *const prefixes[] = {"checkpoint.safetensors.tmp.", "metrics.csv.tmp."};
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (int i = 0; i < 2; i++) {
            size_t n = strlen(prefixes[i]);
            if (strncmp(e->d_name, prefixes[i], n) != 0) continue;
            char *end;
            errno = 0;
            long pid = strtol(e->d_name + n, &end, 10);
            if (errno || end == e->d_name + n || pid <= 0 || (*end && *end != '.')) continue;
            if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Makes metrics.csv say what the checkpoint's metadata says (rows of finished epochs). */
static clvae_status_t sync_metrics_file(const char *mpath, const char *metrics, clvae_error_t *err)
{
    if (metrics && *metrics) return clvae_write_file_atomic(mpath, metrics, strlen(metrics), err);
    if (unlink(mpath) != 0 && errno != ENOENT)
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot remove %s, which lists epochs the checkpoint "
                          "does not have: %s", mpath, strerror(errno));
    return CLVAE_OK;
}

/* Reads the test hook CLVAE_FAULT_NAN_BATCH=B or B-C: the input of training steps B to C
 * (1-based, counted across epochs like the checkpoint's step) gets a NaN pixel on the device.
 * Unset: *lo = *hi = 0. */
static clvae_status_t nan_fault_setting(uint64_t *lo, uint64_t *hi, clvae_error_t *err)
{
    *lo = *hi = 0;
    const char *v = getenv("CLVAE_FAULT_NAN_BATCH");
    if (!v) return CLVAE_OK;
    unsigned long long a = 0, b = 0;
    int used = 0;
    if (sscanf(v, "%llu%n", &a, &used) == 1 && v[used] == 0 && v[0] >= '0' && v[0] <= '9')
        b = a;
    else if (!(sscanf(v, "%llu-%llu%n", &a, &b, &used) == 2 && v[used] == 0 && v[0] >= '0' &&
               v[0] <= '9'))
        a = 0;
    if (a == 0 || b < a)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "CLVAE_FAULT_NAN_BATCH='%s' is not a step "
                          "number B or a range B-C of steps (from 1)", v);
    *lo = a;
    *hi = b;
    return CLVAE_OK;
}

/* A training step that ran out of device memory (an allocation the driver refused, e.g. an
 * op's workspace) says so with the batch size and what to do; other failures pass through. */
static clvae_status_t step_failed(clvae_status_t s, long epoch, size_t b, size_t batch,
                                  clvae_error_t *err)
{
    if (s != CLVAE_ERR_DEVICE_MEMORY &&
        !(s == CLVAE_ERR_OPENCL && strstr(err->msg, "CL_OUT_OF_RESOURCES")))
        return s;
    char inner[sizeof err->msg];
    snprintf(inner, sizeof inner, "%s", err->msg);
    return CLVAE_FAIL(err, CLVAE_ERR_DEVICE_MEMORY,
                      "out of device memory at epoch %ld, batch %zu, with batches of %zu: %s; use "
                      "a smaller batch (train.batch), e.g. %zu", epoch + 1, b + 1, batch, inner,
                      batch > 1 ? batch / 2 : 1);
}

/* A checkpoint saved in the middle of an epoch counts batches of that epoch's order: resuming
 * it needs the same batch size, data, limit, seed and shuffling, else the position means
 * other examples (CLVAE_ERR_INVALID saying which setting differs). */
static clvae_status_t same_epoch_layout(const clvae_checkpoint_t *ck,
                                        const clvae_model_desc_t *desc, const char *ckpath,
                                        clvae_error_t *err)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t was;
    clvae_status_t s = clvae_cfg_parse(&cfg, ck->config, strlen(ck->config), ckpath, err);
    if (s) return s;
    if ((s = clvae_model_resolve(&was, &cfg, err))) {
        clvae_cfg_free(&cfg);
        return s;
    }
    char what[160] = "";
    if (was.batch != desc->batch)
        snprintf(what, sizeof what, "train.batch = %zu, now %zu", was.batch, desc->batch);
    else if (was.limit != desc->limit)
        snprintf(what, sizeof what, "train.limit = %zu, now %zu", was.limit, desc->limit);
    else if (was.seed != desc->seed)
        snprintf(what, sizeof what, "train.seed = %llu, now %llu", (unsigned long long)was.seed,
                 (unsigned long long)desc->seed);
    else if (was.shuffle != desc->shuffle)
        snprintf(what, sizeof what, "train.shuffle = %d, now %d", was.shuffle, desc->shuffle);
    else if (strcmp(was.train_data, desc->train_data) != 0)
        snprintf(what, sizeof what, "data.train = %.60s, now %.60s", was.train_data,
                 desc->train_data);
    clvae_model_desc_free(&was);
    clvae_cfg_free(&cfg);
    if (!*what) return CLVAE_OK;
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                      "%s was saved in the middle of epoch %ld (after batch %zu) with %s: resume "
                      "it with the same setting (the position counts batches of that epoch's "
                      "order)", ckpath, ck->state.epoch + 1, ck->state.cursor, what);
}

/* Saves the checkpoint; a failure says what the folder still holds and how to go on. */
static clvae_status_t save(const char *ckpath, clvae_ctx_t *ctx, clvae_model_t *model,
                           const clvae_model_desc_t *desc, const clvae_train_opts_t *o,
                           const clvae_train_state_t *st, const char *metrics, const char *when,
                           const char *kept, clvae_error_t *err)
{
    clvae_status_t s = clvae_checkpoint_save(ckpath, ctx, model, desc, o->config_text, st, metrics,
                                             err);
    if (!s) return CLVAE_OK;
    char inner[sizeof err->msg];
    snprintf(inner, sizeof inner, "%s", err->msg);
    return CLVAE_FAIL(err, s, "training stopped: cannot save the checkpoint %s: %s; %s", when,
                      inner, kept);
}

clvae_status_t clvae_train_run(clvae_ctx_t *ctx, const clvae_model_desc_t *desc,
                               const clvae_train_opts_t *o, int *interrupted, clvae_error_t *err)
{
    *interrupted = 0;
    clvae_dataset_t train = {0}, test = {0};
    clvae_data_dev_t dtrain = {0}, dtest = {0}, ltrain = {0}, ltest = {0};
    clvae_buf_t clean = {0};
    clvae_model_t *model = NULL;
    clvae_checkpoint_t ck;
    memset(&ck, 0, sizeof ck);
    clvae_train_state_t st;
    memset(&st, 0, sizeof st);
    char *metrics = NULL;
    uint32_t *perm = NULL;
    cl_mem idx = NULL;
    clvae_buf_t epoch_losses = {0}, labels = {0}; /* labels: a classifier's, in epoch order */
    float *host_losses = NULL;
    clvae_status_t s;
    char ckpath[4200], mpath[4200], kept[4400], when[96];
    snprintf(ckpath, sizeof ckpath, "%s/checkpoint.safetensors", o->out_dir);
    snprintf(mpath, sizeof mpath, "%s/metrics.csv", o->out_dir);
    snprintf(kept, sizeof kept, "no checkpoint was written yet: free space or fix the folder, "
             "then start the run again");

    /* everything that can be wrong with the input is found before any work */
    if ((s = clvae_dataset_open(desc->train_data, o->data_dir, &train, err)) ||
        (s = clvae_dataset_open(desc->test_data, o->data_dir, &test, err)))
        goto out;
    if (desc->limit && desc->limit < train.n && (s = clvae_dataset_limit(&train, desc->limit, err)))
        goto out;
    size_t D = clvae_dataset_dim(&train);
    const clvae_layer_t *in = &desc->layers[0];
    if (D != in->out_c * in->out_h * in->out_w || clvae_dataset_dim(&test) != D) {
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                       "the data (%s: %zux%zux%zu, %s: %zux%zux%zu) do not fit the model's "
                       "input %zux%zux%zu",
                       train.name, train.c, train.h, train.w, test.name, test.c, test.h, test.w,
                       in->out_c, in->out_h, in->out_w);
        goto out;
    }
    /* a conditional model needs every example's label, below its class count */
    if (desc->conditional &&
        ((s = clvae_labels_upload(ctx, &train, desc->conditional, &ltrain, err)) ||
         (s = clvae_labels_upload(ctx, &test, desc->conditional, &ltest, err))))
        goto out;
    uint64_t nan_lo, nan_hi;
    if ((s = nan_fault_setting(&nan_lo, &nan_hi, err))) goto out;
    struct stat sb;
    if (!o->resume && stat(ckpath, &sb) == 0) {
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                       "%s already holds a checkpoint: continue that run with --resume, or train "
                       "into another folder (--out), or remove it first; a new run does not "
                       "overwrite it", ckpath);
        goto out;
    }
    if (clvae_mkdirs(o->out_dir) != 0) {
        s = CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot create the run folder %s: %s", o->out_dir,
                       strerror(errno));
        goto out;
    }
    remove_stale_temps(o->out_dir);
    size_t batch = desc->batch < train.n ? desc->batch : train.n;
    if ((s = clvae_model_init(&model, ctx, desc, batch, err))) goto out;
    if (o->resume) {
        if ((s = clvae_checkpoint_read(ckpath, &ck, err))) goto out;
        if (!ck.has_state) {
            s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s holds weights only, no training state to resume",
                           ckpath);
            goto out;
        }
        if ((s = clvae_checkpoint_bind(&ck, desc, ckpath, err)) ||
            (s = clvae_checkpoint_apply(&ck, ctx, model, desc->nparams, 1, err)))
            goto out;
        st = ck.state;
        if (st.cursor > 0 && (s = same_epoch_layout(&ck, desc, ckpath, err))) goto out;
        metrics = strdup(ck.metrics);
        if (!metrics) {
            s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
            goto out;
        }
        /* a run stopped between the checkpoint and metrics.csv: the checkpoint is the truth */
        if ((s = sync_metrics_file(mpath, metrics, err))) goto out;
        snprintf(kept, sizeof kept, "%s still holds epoch %ld%s: free space or fix the folder, then "
                 "continue with --resume", ckpath, st.epoch, st.cursor ? " and part of the next" : "");
    } else if (o->init_path) {
        if ((s = clvae_checkpoint_load_weights(o->init_path, ctx, model, desc, err))) goto out;
    } else if ((s = clvae_model_init_params(model, desc->seed, err))) {
        goto out;
    }
    if (desc->classes && ((s = clvae_class_labels_usable(&train, desc->classes, err)) ||
                          (s = clvae_class_labels_usable(&test, desc->classes, err))))
        goto out;
    if ((s = clvae_data_upload(ctx, &train, &dtrain, err)) ||
        (s = clvae_data_upload(ctx, &test, &dtest, err)))
        goto out;
    size_t nb = (train.n + batch - 1) / batch;
    perm = malloc(train.n * sizeof *perm);
    host_losses = malloc(nb * 4 * sizeof *host_losses);
    if (!perm || !host_losses) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    /* per batch: total, recon, kl, non-finite count (the step was skipped when not 0) */
    if ((s = clvae_buf_alloc(ctx, nb * 4, &epoch_losses, err))) goto out;
    size_t J = clvae_model_latent_dim(model);
    uint64_t per_step = clvae_rng_blocks(batch * J);
    /* denoising: the clean batch goes aside, the input gets noise of the stream (seed, step) */
    int noisy = desc->noise.kind != CLVAE_NOISE_NONE;
    uint64_t noise_per_step = clvae_rng_blocks(batch * D);
    if (noisy && (s = clvae_buf_alloc(ctx, batch * D, &clean, err))) goto out;
    int log_every = o->log_every > 0 ? o->log_every : 20;
    /* skipped steps: this epoch's count, and the streak of consecutive ones (where it began) */
    long skipped = 0, streak = 0, streak_epoch = 0;
    size_t streak_batch = 0;
    float streak_loss = 0.0f;

    for (long epoch = st.epoch; epoch < desc->epochs; epoch++) {
        skipped = 0;
        /* KL annealing: beta is a function of the epoch alone (resume stays exact) */
        float beta = clvae_beta_at(desc, epoch);
        clvae_model_set_beta(model, beta);
        if (desc->shuffle) {
            clvae_shuffle(perm, train.n, desc->seed, (uint64_t)epoch);
        } else {
            for (size_t i = 0; i < train.n; i++) perm[i] = (uint32_t)i;
        }
        if ((s = clvae_data_upload_indices(ctx, &idx, perm, train.n, train.n, err)) ||
            (desc->classes &&
             (s = clvae_class_labels_upload(ctx, &train, perm, train.n, &labels, err))))
            goto out;
        double t0 = now() - st.seconds;
        size_t read_upto = st.cursor;
        for (size_t b = st.cursor; b < nb; b++) {
            size_t start = b * batch, B = train.n - start < batch ? train.n - start : batch;
            st.step++;
            clvae_buf_t input = clvae_model_input(model);
            if ((s = clvae_data_gather(ctx, noisy ? clean : input, &dtrain, idx, start, B, err)) ||
                (desc->conditional &&
                 (s = clvae_labels_gather(ctx, clvae_model_labels(model), &ltrain, idx, start, B,
                                          err))) ||
                (noisy && (s = clvae_noise_apply(ctx, &desc->noise, input, clean, B * D,
                                                 desc->seed, (uint64_t)st.step * noise_per_step,
                                                 err))) ||
                (nan_lo && (uint64_t)st.step >= nan_lo && (uint64_t)st.step <= nan_hi &&
                 (s = clvae_fill_forward(ctx, input.mem, input.off, NAN, 1, err))) ||
                (s = clvae_model_forward(model, B, desc->sample_latent, desc->seed,
                                         (uint64_t)st.step * per_step,
                                         desc->classes ? clvae_buf_at(labels, start) : clean,
                                         err)) ||
                (s = clvae_model_backward(model, err)) ||
                (s = clvae_model_step(model, st.step, err)) ||
                (s = clvae_buf_copy(ctx, clvae_buf_at(epoch_losses, b * 4),
                                    clvae_model_loss_buf(model), 4, err))) {
                s = step_failed(s, epoch, b, batch, err);
                goto out;
            }
            int stopping = o->stop && *o->stop;
            if (b + 1 - read_upto >= (size_t)log_every || b + 1 == nb || stopping) {
                /* one readback for the batches since the last one */
                size_t cnt = b + 1 - read_upto;
                if ((s = clvae_buf_download(ctx, host_losses + read_upto * 4,
                                            clvae_buf_at(epoch_losses, read_upto * 4), cnt * 4,
                                            err))) {
                    s = step_failed(s, epoch, b, batch, err);
                    goto out;
                }
                for (size_t k = read_upto; k <= b; k++) {
                    size_t Bk = train.n - k * batch < batch ? train.n - k * batch : batch;
                    const float *l = host_losses + k * 4;
                    if (l[3] != 0.0f || !isfinite(l[0])) {
                        /* the device skipped this step; its loss does not count */
                        skipped++;
                        if (streak++ == 0) {
                            streak_epoch = epoch + 1;
                            streak_batch = k + 1;
                            streak_loss = l[0];
                        }
                        if (streak > desc->max_skipped) {
                            s = CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                                           "training stopped at epoch %ld, batch %zu: %ld step%s "
                                           "in a row had a NaN or infinite loss or gradient, "
                                           "from epoch %ld, batch %zu on (loss %g there); each "
                                           "was skipped, and no checkpoint was written from "
                                           "this state: try a smaller learning rate (train.lr = "
                                           "%g) or check the data (train.max_skipped = %ld "
                                           "allows that many in a row)",
                                           epoch + 1, k + 1, streak, streak == 1 ? "" : "s",
                                           streak_epoch, streak_batch, (double)streak_loss,
                                           (double)desc->lr, desc->max_skipped);
                            goto out;
                        }
                        continue;
                    }
                    streak = 0;
                    for (int q = 0; q < 3; q++) st.sums[q] += (double)l[q] * (double)Bk;
                    st.seen += Bk;
                }
                read_upto = b + 1;
                if (o->progress) {
                    double el = now() - t0;
                    clvae_progress_t p = {0, epoch + 1, desc->epochs, b + 1, nb,
                                          st.seen ? st.sums[0] / (double)st.seen : 0.0, el,
                                          (double)st.seen / (el > 0 ? el : 1e-9), NULL, skipped};
                    o->progress(o->user, &p);
                }
            }
            if (stopping) {
                st.cursor = b + 1;
                st.seconds = now() - t0;
                if (st.cursor == nb) break; /* the epoch is complete: finish it normally */
                st.epoch = epoch;
                snprintf(when, sizeof when, "at epoch %ld, batch %zu (interrupted)", epoch + 1,
                         st.cursor);
                if ((s = save(ckpath, ctx, model, desc, o, &st, metrics, when, kept, err)))
                    goto out;
                *interrupted = 1;
                goto out;
            }
        }
        double seconds = now() - t0;
        if (st.seen == 0) {
            s = CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                           "training stopped: every step of epoch %ld had a NaN or infinite loss "
                           "or gradient and was skipped; no checkpoint was written from this "
                           "state: try a smaller learning rate (train.lr = %g) or check the data",
                           epoch + 1, (double)desc->lr);
            goto out;
        }
        clvae_epoch_metrics_t row;
        memset(&row, 0, sizeof row);
        row.epoch = epoch + 1;
        for (int q = 0; q < 3; q++) row.train[q] = st.sums[q] / (double)st.seen;
        row.seconds = seconds;
        row.images_per_s = (double)st.seen / (seconds > 0 ? seconds : 1e-9);
        row.beta = desc->variational ? beta : 0.0;
        clvae_eval_result_t ev;
        clvae_class_result_t cr;
        if (desc->classes) {
            /* a classifier's columns: loss, cross-entropy (the same), accuracy */
            if ((s = clvae_classifier_evaluate(ctx, model, desc, &test, &dtest, test.n, batch,
                                               &cr, err)))
                goto out;
            ev.loss = ev.recon = cr.loss;
            ev.kl = cr.accuracy;
        } else if ((s = clvae_evaluate_labels(ctx, model, desc, &dtest,
                                              desc->conditional ? &ltest : NULL, test.n, batch,
                                              desc->sample_latent, desc->seed ^ 0x7e57ULL, 0, &ev,
                                              err))) {
            goto out;
        }
        row.test[0] = ev.loss;
        row.test[1] = ev.recon;
        row.test[2] = ev.kl;
        if ((s = append_row(&metrics, &row, desc->classes > 0, err))) goto out;
        memset(&st, 0, sizeof st);
        st.epoch = epoch + 1;
        /* step continues across epochs */
        st.step = (long)((uint64_t)(epoch + 1) * nb);
        /* the checkpoint first: metrics.csv never lists an epoch the checkpoint lacks */
        snprintf(when, sizeof when, "after epoch %ld", epoch + 1);
        if ((s = save(ckpath, ctx, model, desc, o, &st, metrics, when, kept, err))) goto out;
        snprintf(kept, sizeof kept, "%s holds epoch %ld: free space or fix the folder, then "
                 "continue with --resume", ckpath, epoch + 1);
        if ((s = clvae_write_file_atomic(mpath, metrics, strlen(metrics), err))) {
            char inner[sizeof err->msg];
            snprintf(inner, sizeof inner, "%s", err->msg);
            s = CLVAE_FAIL(err, s, "training stopped: %s holds epoch %ld, but %s; --resume "
                           "rewrites metrics.csv from the checkpoint", ckpath, epoch + 1, inner);
            goto out;
        }
        if (o->progress) {
            clvae_progress_t p = {1, epoch + 1, desc->epochs, nb, nb, row.train[0], seconds,
                                  row.images_per_s, &row, skipped};
            o->progress(o->user, &p);
        }
        if (o->stop && *o->stop) {
            *interrupted = epoch + 1 < desc->epochs;
            goto out;
        }
    }
    s = CLVAE_OK;
out:
    if (idx) clReleaseMemObject(idx);
    clvae_buf_free(&epoch_losses);
    clvae_buf_free(&labels);
    free(perm);
    free(host_losses);
    free(metrics);
    clvae_checkpoint_free(&ck);
    clvae_model_free(model);
    clvae_buf_free(&clean);
    clvae_data_dev_free(&ltrain);
    clvae_data_dev_free(&ltest);
    clvae_data_dev_free(&dtrain);
    clvae_data_dev_free(&dtest);
    clvae_dataset_free(&train);
    clvae_dataset_free(&test);
    return s;
}
