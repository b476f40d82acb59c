/* Training runs: epochs of device-resident batches, per-epoch test pass, metrics, checkpoints. */
#include "clvae/train/train.h"
#include "clvae/train/prior.h"

#include <dirent.h>
#include <errno.h>
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
#include "clvae/net/config.h"
#include "clvae/io/fileio.h"
#include "clvae/ops/rng.h"
#include "clvae/io/clock.h"


void clvae_metrics_header_of(const char *const *columns, int ncols, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "epoch");
    for (int part = 0; part < 2; part++)
        for (int q = 0; q < ncols && len < size; q++)
            len += (size_t)snprintf(buf + len, size - len, ",%s_%s", part ? "test" : "train",
                                    columns[q]);
    if (len < size) snprintf(buf + len, size - len, ",seconds,images_per_s,beta");
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

/* The loss columns a metrics.csv header names (its train_ fields), or -1. */
static int header_columns(const char *line, size_t len)
{
    int n = 0;
    for (size_t i = 0; i + 6 <= len; i++)
        if ((i == 0 || line[i - 1] == ',') && strncmp(line + i, "train_", 6) == 0) n++;
    return n >= 1 && n <= CLVAE_OBJECTIVE_MAX_COLUMNS ? n : -1;
}

/* One row: epoch, ncols train and ncols test values, seconds, images/s and (a later column)
 * beta; 0 when the line is not that. */
static int parse_row(const char *buf, int ncols, clvae_epoch_metrics_t *r)
{
    double v[2 * CLVAE_OBJECTIVE_MAX_COLUMNS + 4];
    int want = 2 * ncols + 4, got = 0;
    const char *p = buf;
    while (got < want) {
        char *end;
        v[got] = strtod(p, &end);
        if (end == p) break;
        got++;
        p = end;
        if (*p != ',') break;
        p++;
    }
    if ((got != want && got != want - 1) || (*p && *p != '\r')) return 0;
    memset(r, 0, sizeof *r);
    r->epoch = (long)v[0];
    r->ncols = ncols;
    for (int q = 0; q < ncols; q++) {
        r->train[q] = v[1 + q];
        r->test[q] = v[1 + ncols + q];
    }
    r->seconds = v[1 + 2 * ncols];
    r->images_per_s = v[2 + 2 * ncols];
    r->beta = got == want ? v[want - 1] : 1.0; /* rows without beta had beta 1 or none */
    return 1;
}

clvae_status_t clvae_metrics_parse(const char *text, clvae_epoch_metrics_t **rows, size_t *n,
                                   clvae_error_t *err)
{
    *rows = NULL;
    *n = 0;
    size_t cap = 0;
    const char *p = text;
    int line = 0, ncols = 3;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line++;
        if (line == 1 && (ncols = header_columns(p, len)) < 0)
            return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "metrics line 1 is not a header with "
                              "train_ columns");
        if (line > 1 && len > 0) {
            clvae_epoch_metrics_t r;
            char buf[1024];
            snprintf(buf, sizeof buf, "%.*s", (int)(len < 1023 ? len : 1023), p);
            if (!parse_row(buf, ncols, &r)) {
                free(*rows);
                *rows = NULL;
                *n = 0;
                return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "metrics line %d is not %d numbers",
                                  line, 2 * ncols + 4);
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

/* Appends one metrics row to a growing text (the header first, from the objective's loss
 * columns). */
static clvae_status_t append_row(char **text, const clvae_epoch_metrics_t *r,
                                 const clvae_model_desc_t *desc, clvae_error_t *err)
{
    const char *const *cols;
    int ncols = clvae_objective_columns(desc, &cols);
    char h[1024], row[1024];
    clvae_metrics_header_of(cols, ncols, h, sizeof h);
    size_t n = (size_t)snprintf(row, sizeof row, "%ld", r->epoch);
    for (int part = 0; part < 2; part++)
        for (int q = 0; q < ncols; q++)
            n += (size_t)snprintf(row + n, sizeof row - n, ",%.6f", part ? r->test[q] : r->train[q]);
    n += (size_t)snprintf(row + n, sizeof row - n, ",%.3f,%.1f,%.6g\n", r->seconds,
                          r->images_per_s, r->beta);
    size_t old = *text ? strlen(*text) : 0;
    if (old == 0) {
        free(*text);
        *text = malloc(strlen(h) + 2 + n);
        if (!*text) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        sprintf(*text, "%s\n%s", h, row);
        return CLVAE_OK;
    }
    char *g = realloc(*text, old + n + 1);
    if (!g) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    memcpy(g + old, row, n + 1);
    *text = g;
    return CLVAE_OK;
}

/* Removes temp files that an earlier process killed while saving left in the run folder
 * (checkpoint.safetensors.tmp.PID.N, metrics.csv.tmp.PID.N: the atomic writer's names), when
 * that process is gone. They are never read: only the renamed file is a checkpoint. */
static void remove_stale_temps(const char *dir)
{
    static const char *const prefixes[] = {"checkpoint.safetensors.tmp.", "metrics.csv.tmp.",
                                           "steps.csv.tmp."};
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        for (int i = 0; i < 3; i++) {
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


/* Test hook: CLVAE_FAULT_STOP=step:N sets the stop flag after training step N (as a Ctrl-C
 * during it would), test:E when the test pass of epoch E begins. */
static clvae_status_t stop_fault_setting(long *step, long *test_epoch, clvae_error_t *err)
{
    *step = *test_epoch = 0;
    const char *v = getenv("CLVAE_FAULT_STOP");
    if (!v) return CLVAE_OK;
    long n = 0;
    int used = 0;
    if (sscanf(v, "step:%ld%n", &n, &used) == 1 && v[used] == 0 && n > 0) *step = n;
    else if (sscanf(v, "test:%ld%n", &n, &used) == 1 && v[used] == 0 && n > 0) *test_epoch = n;
    else
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "CLVAE_FAULT_STOP='%s' is not step:N or test:E "
                          "(from 1)", v);
    return CLVAE_OK;
}

/* A training run's state (clvae_train_run and its parts). */
typedef struct run {
    clvae_ctx_t *ctx;
    const clvae_model_desc_t *desc;
    const clvae_train_opts_t *o;
    clvae_dataset_t train, test;
    clvae_data_dev_t dtrain, dtest;
    clvae_data_dev_t ltrain, ltest; /* the labels the objective reads (none: empty) */
    clvae_buf_t epoch_losses;   /* per batch: the loss columns, the non-finite count */
    clvae_objective_t *model;
    clvae_checkpoint_t ck;
    clvae_train_state_t st;
    char *metrics;
    uint32_t *perm;
    cl_mem idx;
    float *host_losses;
    char ckpath[4200], mpath[4200], kept[4400], when[96];
    size_t D, batch, nb;
    int ncols;                  /* the objective's loss columns; a batch's losses are ncols + 1
                                   floats, the last the non-finite count */
    uint64_t nan_lo, nan_hi;
    long stop_step, stop_test;  /* CLVAE_FAULT_STOP */
    /* steps.csv: a row at every loss readback (the batches since the row before) */
    char *steps, spath[4200];
    size_t steps_len, steps_cap;
    double row_sums[CLVAE_OBJECTIVE_MAX_COLUMNS], row_t;
    size_t row_seen;
    /* skipped steps: this epoch's count, and the streak of consecutive ones (where it began) */
    long skipped, streak, streak_epoch;
    size_t streak_batch;
    float streak_loss;
    double t0;                  /* the epoch's start, less the time a resumed epoch had spent */
    size_t read_upto;           /* batches of the epoch whose losses were read back */
    /* data-parallel: this rank of nranks (0 of 1 alone); rank 0 is the writer of the folder */
    clvae_comm_t *comm;
    int rank, nranks, writer;
    size_t bucket;              /* floats per piece of the gradient sum */
    float *host;                /* nparams + 1 (or nstate) floats of the largest network */
    float *watch[2];            /* each network's gradients, read during its backward (overlap) */
    double share;               /* this rank's share of the step's batch, B_r / B */
    /* the pieces of one overlapped sum: where each starts and its length, the reads it waits
     * for (events first .. first + count), the floats it weighs */
    size_t *p_lo, *p_len, *p_ev, *p_nev;
    const cl_event *p_events;
    float *p_host;
    double p_waited;
    /* with a progress callback: a marker after each step since the last readback (batches
     * read_upto ..), so that the bar shows the batches the device finished */
    cl_event *marks;
    size_t nmarks, cap_marks;
} run_t;

/* The batches of the epoch the device has finished (those read back, then the steps whose
 * markers completed, in order). */
static size_t batches_done(const run_t *r)
{
    size_t k = 0;
    for (; k < r->nmarks; k++) {
        cl_int st = CL_QUEUED;
        if (clGetEventInfo(r->marks[k], CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st,
                           NULL) != CL_SUCCESS || st != CL_COMPLETE)
            break;
    }
    return r->read_upto + k;
}

static void marks_release(run_t *r)
{
    for (size_t k = 0; k < r->nmarks; k++) clReleaseEvent(r->marks[k]);
    r->nmarks = 0;
}

/* A marker after a step (with a progress callback only). */
static clvae_status_t mark_step(run_t *r, clvae_error_t *err)
{
    if (!r->o->progress) return CLVAE_OK;
    if (r->nmarks == r->cap_marks) {
        size_t cap = r->cap_marks ? 2 * r->cap_marks : 64;
        cl_event *g = realloc(r->marks, cap * sizeof *g);
        if (!g) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        r->marks = g;
        r->cap_marks = cap;
    }
    CLVAE_CL_RET(err, clEnqueueMarkerWithWaitList(clvae_ctx_queue(r->ctx), 0, NULL,
                                                  &r->marks[r->nmarks]));
    r->nmarks++;
    return CLVAE_OK;
}

/* Saves the checkpoint (rank 0; the others have nothing to write); a failure says what the
 * folder still holds and how to go on. */
static clvae_status_t save(run_t *r, clvae_error_t *err)
{
    if (!r->writer) return CLVAE_OK;
    clvae_status_t s = clvae_checkpoint_save(r->ckpath, r->ctx, r->model, r->desc,
                                             r->o->config_text, &r->st, r->metrics, err);
    if (!s) return CLVAE_OK;
    char inner[sizeof err->msg];
    snprintf(inner, sizeof inner, "%s", err->msg);
    return CLVAE_FAIL(err, s, "training stopped: cannot save the checkpoint %s: %s; %s", r->when,
                      inner, r->kept);
}

/* Rank r's slice of a batch of B examples: B / N each, the first B % N ranks one more; *at:
 * where it starts in the batch. */
static size_t rank_share(const run_t *r, size_t B, size_t *at)
{
    size_t N = (size_t)r->nranks, q = B / N, m = B % N, k = (size_t)r->rank;
    *at = k * q + (k < m ? k : m);
    return q + (k < m);
}

/* The summed gradients h[0..n) back to the device, and the count h[n] with the non-finite
 * values of the sum added (the same on every rank); *t: when the upload began. */
static clvae_status_t write_back(run_t *r, clvae_buf_t g, clvae_buf_t bad, float *h, size_t n,
                                 double *t, clvae_error_t *err)
{
    size_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) nonfinite += !isfinite(h[i]);
    h[n] += (float)nonfinite;
    *t = clvae_seconds();
    clvae_status_t s = clvae_buf_upload(r->ctx, g, h, n, err);
    return s ? s : clvae_buf_upload(r->ctx, bad, h + n, 1, err);
}

/* The gradient hook of data-parallel training: network k's gradients, weighted by this rank's
 * share of the batch (each rank's are a mean over its slice), and the step's non-finite count
 * summed over the ranks in rank order; the non-finite values of the sum join the count, so
 * that every rank's guard skips the same steps. */
static clvae_status_t sum_grads(void *user, clvae_objective_t *m, int k, clvae_error_t *err)
{
    run_t *r = user;
    size_t n = clvae_objective_net_desc(m, k)->nparams;
    clvae_buf_t g = clvae_objective_net_grads(m, k);
    clvae_buf_t bad = clvae_buf_at(clvae_objective_loss_buf(m), (size_t)r->ncols);
    float *h = r->host, w = (float)r->share;
    clvae_train_comm_stats_t *st = r->o->stats;
    clvae_status_t s;
    /* measured: the device's work ends first, and the ranks meet before the sum */
    if (st && (s = clvae_ctx_finish(r->ctx, err))) return s;
    double t0 = clvae_seconds();
    if ((s = clvae_buf_download(r->ctx, h, g, n, err)) ||
        (s = clvae_buf_download(r->ctx, h + n, bad, 1, err)))
        return s;
    double tw = clvae_seconds();
    if (st && (s = clvae_comm_barrier(r->comm, err))) return s;
    double t1 = clvae_seconds();
    if (w != 1.0f)
        for (size_t i = 0; i < n; i++) h[i] *= w;
    double t2;
    if ((s = clvae_comm_sum(r->comm, h, n + 1, r->bucket, err)) ||
        (s = write_back(r, g, bad, h, n, &t2, err)))
        return s;
    if (st) {
        st->readback_s += tw - t0;
        st->wait_s += t1 - tw;
        st->sum_s += t2 - t1;
        st->writeback_s += clvae_seconds() - t2;
        st->bytes_sent += clvae_comm_sum_bytes(r->comm, n + 1, r->bucket);
        st->pieces += (double)((n + r->bucket) / r->bucket);
    }
    return CLVAE_OK;
}

/* Before piece p of an overlapped sum goes out: its reads are done (the device finished those
 * layers' backward), and its gradients weighted by this rank's share. */
static clvae_status_t piece_ready(void *user, size_t p, clvae_error_t *err)
{
    run_t *r = user;
    double t = clvae_seconds();
    clvae_status_t s = clvae_ctx_wait_events(r->ctx, (cl_uint)r->p_nev[p],
                                             r->p_events + r->p_ev[p], err); /* 0: at once */
    if (s) return s;
    r->p_waited += clvae_seconds() - t;
    float w = (float)r->share, *h = r->p_host + r->p_lo[p];
    if (w != 1.0f)
        for (size_t i = 0; i < r->p_len[p]; i++) h[i] *= w;
    return CLVAE_OK;
}

/* sum_grads overlapped with the backward pass: the gradients were read layer by layer as the
 * device finished them (clvae_objective_watch_grads), so the sum starts with the last layers'
 * while the first layers' backward still runs; pieces of about r->bucket floats, from the end
 * of the array. */
static clvae_status_t sum_overlapped(run_t *r, clvae_objective_t *m, int k, clvae_error_t *err)
{
    size_t n = clvae_objective_net_desc(m, k)->nparams;
    clvae_buf_t g = clvae_objective_net_grads(m, k);
    clvae_buf_t bad = clvae_buf_at(clvae_objective_loss_buf(m), (size_t)r->ncols);
    const size_t *from;
    int nr = clvae_objective_grad_reads(m, k, &r->p_events, &from);
    float *h = r->watch[k];
    clvae_train_comm_stats_t *st = r->o->stats;
    double t0 = clvae_seconds();
    clvae_status_t s = CLVAE_OK;
    size_t np = 0, end = n;
    r->p_lo = malloc(4 * ((size_t)nr + 1) * sizeof *r->p_lo);
    if (!r->p_lo) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    r->p_len = r->p_lo + nr + 1;
    r->p_ev = r->p_len + nr + 1;
    r->p_nev = r->p_ev + nr + 1;
    for (int j = 0; j < nr; j++) { /* group the reads into pieces */
        if (j == 0 || end - from[j - 1] >= r->bucket) {
            if (j) end = from[j - 1];
            r->p_ev[np] = (size_t)j;
            r->p_nev[np] = 0;
            np++;
        }
        r->p_lo[np - 1] = from[j];
        r->p_len[np - 1] = end - from[j];
        r->p_nev[np - 1]++;
    }
    size_t rest = nr ? from[nr - 1] : n; /* gradients no read covered (none, normally) */
    if (rest && (s = clvae_buf_download(r->ctx, h, g, rest, err))) goto done;
    if (rest) {
        r->p_lo[np] = 0;
        r->p_len[np] = rest;
        r->p_ev[np] = r->p_nev[np] = 0;
        np++;
    }
    r->p_host = h;
    r->p_waited = 0.0;
    if ((s = clvae_comm_sum_pieces(r->comm, h, np, r->p_lo, r->p_len, piece_ready, r, err)) ||
        (s = clvae_buf_download(r->ctx, h + n, bad, 1, err)) ||
        (s = clvae_comm_sum(r->comm, h + n, 1, 0, err)))
        goto done;
    double t2;
    if ((s = write_back(r, g, bad, h, n, &t2, err))) goto done;
    if (st) {
        st->readback_s += r->p_waited;
        st->sum_s += t2 - t0 - r->p_waited;
        st->writeback_s += clvae_seconds() - t2;
        for (size_t p = 0; p < np; p++)
            st->bytes_sent += clvae_comm_sum_bytes(r->comm, r->p_len[p], 0);
        st->bytes_sent += clvae_comm_sum_bytes(r->comm, 1, 0);
        st->pieces += (double)np + 1.0;
        st->overlapped = 1;
    }
done:
    free(r->p_lo);
    r->p_lo = NULL;
    return s;
}

/* What runs between backward and the optimizer step: the sum over the ranks, then the
 * caller's hook, whose gradients the guard counts again. */
static clvae_status_t step_hook(void *user, clvae_objective_t *m, int k, clvae_error_t *err)
{
    run_t *r = user;
    clvae_status_t s = r->nranks < 2 ? CLVAE_OK
                       : r->watch[k] ? sum_overlapped(r, m, k, err)
                                     : sum_grads(r, m, k, err);
    if (s || !r->o->grad_hook) return s;
    if ((s = r->o->grad_hook(r->o->user, m, k, err))) return s;
    return clvae_objective_recount(m, k, err);
}

/* After a data-parallel step: every network's non-trained state (running statistics, a
 * VQ codebook's moving averages) becomes rank 0's, so that the ranks stay identical. */
static clvae_status_t share_state(run_t *r, clvae_error_t *err)
{
    clvae_status_t s = CLVAE_OK;
    for (int k = 0; k < clvae_objective_nets(r->model) && !s; k++) {
        size_t n = clvae_objective_net_desc(r->model, k)->nstate;
        clvae_buf_t st = clvae_objective_net_state(r->model, k);
        if (n == 0) continue;
        if (r->rank == 0 && (s = clvae_buf_download(r->ctx, r->host, st, n, err))) break;
        if ((s = clvae_comm_bcast(r->comm, r->host, n * sizeof *r->host, 0, err))) break;
        if (r->rank != 0) s = clvae_buf_upload(r->ctx, st, r->host, n, err);
    }
    return s;
}

/* Whether to stop now, decided together: any rank's stop request stops them all. */
static clvae_status_t stop_agreed(run_t *r, int *stopping, clvae_error_t *err)
{
    *stopping = r->o->stop && *r->o->stop;
    return r->nranks > 1 ? clvae_comm_any(r->comm, stopping, err) : CLVAE_OK;
}

/* Appends text to r->steps. */
static clvae_status_t steps_add(run_t *r, const char *text, clvae_error_t *err)
{
    size_t n = strlen(text);
    if (r->steps_len + n + 1 > r->steps_cap) {
        size_t cap = 2 * (r->steps_len + n + 1) + 4096;
        char *p = realloc(r->steps, cap);
        if (!p) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        r->steps = p;
        r->steps_cap = cap;
    }
    memcpy(r->steps + r->steps_len, text, n + 1);
    r->steps_len += n;
    return CLVAE_OK;
}

/* steps.csv as the checkpoint knows it: the rows of the file up to step `upto` (a resumed
 * run drops rows a killed run wrote after its checkpoint), or only the header. */
static clvae_status_t steps_start(run_t *r, long upto, clvae_error_t *err)
{
    const char *const *cols;
    int ncols = clvae_objective_columns(r->desc, &cols);
    char head[512];
    size_t n = (size_t)snprintf(head, sizeof head, "step,epoch,batch,examples");
    for (int q = 0; q < ncols && n < sizeof head; q++)
        n += (size_t)snprintf(head + n, sizeof head - n, ",%s", cols[q]);
    if (n < sizeof head) snprintf(head + n, sizeof head - n, ",lr,images_per_s\n");
    clvae_status_t s = steps_add(r, head, err);
    char *old = NULL;
    clvae_error_t ignored = {0};
    if (s || upto <= 0 || clvae_file_read(r->spath, (size_t)1 << 30, "steps file", &old, NULL,
                                          &ignored) != CLVAE_OK) {
        clvae_error_clear(&ignored);
        return s;
    }
    const char *line = strchr(old, '\n');
    /* a file of another header (another objective) is started again */
    if (line && strncmp(old, head, strlen(head)) == 0)
        for (line++; *line && !s;) {
            const char *end = strchr(line, '\n');
            if (!end || strtol(line, NULL, 10) > upto) break;
            char buf[1024];
            size_t len = (size_t)(end - line) + 1;
            if (len >= sizeof buf) break;
            memcpy(buf, line, len);
            buf[len] = 0;
            s = steps_add(r, buf, err);
            line = end + 1;
        }
    free(old);
    return s;
}

/* A steps.csv row for the batches read back since the last row (epoch, its batches 1..b+1). */
static clvae_status_t steps_row(run_t *r, long epoch, size_t b, clvae_error_t *err)
{
    size_t seen = r->st.seen - r->row_seen;
    if (seen == 0) return CLVAE_OK; /* all skipped: no row */
    double t = clvae_seconds(), dt = t - r->row_t;
    size_t done = (b + 1) * r->batch < r->train.n ? (b + 1) * r->batch : r->train.n;
    char row[1024];
    size_t n = (size_t)snprintf(row, sizeof row, "%ld,%ld,%zu,%zu", r->st.step, epoch + 1, b + 1,
                                (size_t)epoch * r->train.n + done);
    for (int q = 0; q < r->ncols && n < sizeof row; q++)
        n += (size_t)snprintf(row + n, sizeof row - n, ",%.6f",
                              (r->st.sums[q] - r->row_sums[q]) / (double)seen);
    if (n < sizeof row)
        snprintf(row + n, sizeof row - n, ",%g,%.1f\n", (double)r->desc->lr,
                 (double)seen / (dt > 0 ? dt : 1e-9));
    memcpy(r->row_sums, r->st.sums, sizeof r->row_sums);
    r->row_seen = r->st.seen;
    r->row_t = t;
    return steps_add(r, row, err);
}

/* steps.csv written (atomically) beside the checkpoint it agrees with (rank 0). */
static clvae_status_t steps_write(run_t *r, clvae_error_t *err)
{
    if (!r->writer) return CLVAE_OK;
    return clvae_write_file_atomic(r->spath, r->steps, r->steps_len, err);
}

/* Everything that can be wrong with the input, found before any work: data sets and their
 * fit to the model, labels, the fault hook, an existing checkpoint; then the run folder. */
/* A prior's data: its VQ-VAE run (checked against the prior first), that run's train and
 * test images (the train set limited by the prior's [train] limit), their code maps. */
static clvae_status_t prior_data(run_t *r, clvae_error_t *err)
{
    const clvae_model_desc_t *desc = r->desc;
    clvae_vqvae_run_t v;
    clvae_dataset_t img = {0};
    clvae_status_t s = clvae_vqvae_open(&v, r->ctx, desc->codes_run, desc->batch, err);
    if (!s) s = clvae_prior_check(desc, &v, err);
    if (!s) s = clvae_dataset_open(v.desc.train_data, r->o->data_dir, &img, err);
    if (!s && desc->limit && desc->limit < img.n) s = clvae_dataset_limit(&img, desc->limit, err);
    if (!s) s = clvae_vqvae_codes(&v, &img, &r->train, err);
    clvae_dataset_free(&img);
    if (!s) s = clvae_dataset_open(v.desc.test_data, r->o->data_dir, &img, err);
    if (!s) s = clvae_vqvae_codes(&v, &img, &r->test, err);
    clvae_dataset_free(&img);
    clvae_vqvae_close(&v);
    return s;
}

static clvae_status_t run_check_inputs(run_t *r, clvae_error_t *err)
{
    const clvae_model_desc_t *desc = r->desc;
    const clvae_train_opts_t *o = r->o;
    clvae_status_t s;
    if (desc->prior) {
        if ((s = prior_data(r, err))) return s;
    } else if ((s = clvae_dataset_open(desc->train_data, o->data_dir, &r->train, err)) ||
               (s = clvae_dataset_open(desc->test_data, o->data_dir, &r->test, err))) {
        return s;
    }
    if (desc->limit && desc->limit < r->train.n &&
        (s = clvae_dataset_limit(&r->train, desc->limit, err)))
        return s;
    r->D = clvae_dataset_dim(&r->train);
    /* the data go into the network's input (a GAN's discriminator's) */
    const clvae_layer_t *in = desc->gan ? &desc->disc->layers[0] : &desc->layers[0];
    const clvae_dataset_t *tr = &r->train, *te = &r->test;
    /* a prior's examples are code maps, its input their one-hot planes */
    size_t want = (desc->prior ? 1 : in->out_c) * in->out_h * in->out_w;
    if (r->D != want || clvae_dataset_dim(te) != r->D)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "the data (%s: %zux%zux%zu, %s: %zux%zux%zu) do not fit the model's "
                          "input %zux%zux%zu",
                          tr->name, tr->c, tr->h, tr->w, te->name, te->c, te->h, te->w, in->out_c,
                          in->out_h, in->out_w);
    /* the labels the objective reads (a conditional model's, a classifier's), each below its
     * class count */
    if ((s = clvae_objective_labels_upload(r->ctx, desc, &r->train, &r->ltrain, err)) ||
        (s = clvae_objective_labels_upload(r->ctx, desc, &r->test, &r->ltest, err)))
        return s;
    if ((s = nan_fault_setting(&r->nan_lo, &r->nan_hi, err)) ||
        (s = stop_fault_setting(&r->stop_step, &r->stop_test, err)))
        return s;
    struct stat sb;
    if (!o->resume && stat(r->ckpath, &sb) == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s already holds a checkpoint: continue that run with --resume, or "
                          "train into another folder (--out), or remove it first; a new run does "
                          "not overwrite it", r->ckpath);
    if (!r->writer) return CLVAE_OK;
    if (clvae_mkdirs(o->out_dir) != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot create the run folder %s: %s", o->out_dir,
                          strerror(errno));
    remove_stale_temps(o->out_dir);
    return CLVAE_OK;
}

/* The training position, weights and metrics of the checkpoint to resume. */
static clvae_status_t run_resume(run_t *r, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = clvae_checkpoint_read(r->ckpath, &r->ck, err))) return s;
    if (!r->ck.has_state)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s holds weights only, no training state to "
                          "resume", r->ckpath);
    if ((s = clvae_checkpoint_restore(&r->ck, r->ctx, r->model, CLVAE_RESTORE_MOMENTS, r->ckpath,
                                      err)))
        return s;
    r->st = r->ck.state;
    if (r->st.cursor > 0 && (s = same_epoch_layout(&r->ck, r->desc, r->ckpath, err))) return s;
    r->metrics = strdup(r->ck.metrics);
    if (!r->metrics) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    /* a run stopped between the checkpoint and metrics.csv: the checkpoint is the truth */
    if (r->writer && (s = sync_metrics_file(r->mpath, r->metrics, err))) return s;
    snprintf(r->kept, sizeof r->kept, "%s still holds epoch %ld%s: free space or fix the folder, "
             "then continue with --resume", r->ckpath, r->st.epoch,
             r->st.cursor ? " and part of the next" : "");
    return CLVAE_OK;
}

/* The model (resumed, from weights, or new), the data on the device, the per-batch buffers. */
static clvae_status_t run_start(run_t *r, clvae_error_t *err)
{
    const clvae_model_desc_t *desc = r->desc;
    clvae_status_t s;
    r->batch = desc->batch < r->train.n ? desc->batch : r->train.n;
    size_t N = (size_t)r->nranks, last = r->train.n % r->batch, down = r->batch / N * N;
    if (r->batch % N)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "train.batch = %zu does not split evenly over "
                          "%zu ranks: use a multiple of %zu (e.g. %zu or %zu)", r->batch, N, N,
                          down ? down : N, (r->batch / N + 1) * N);
    if (last && last < N)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the last batch of an epoch holds %zu examples "
                          "(%zu %% %zu), fewer than the %zu ranks: change train.batch or "
                          "train.limit", last, r->train.n, r->batch, N);
    if ((s = clvae_objective_init(&r->model, r->ctx, desc, r->batch / N, err))) return s;
    clvae_objective_set_ranks(r->model, r->rank, r->nranks);
    /* a stop ends the test pass too; with several ranks it waits for the pass (they decide
     * together at the next step) */
    clvae_objective_set_stop(r->model, r->nranks > 1 ? NULL : r->o->stop);
    if (r->o->resume) s = run_resume(r, err);
    else if (r->o->init_path)
        s = clvae_checkpoint_load_weights(r->o->init_path, r->ctx, r->model, desc, err);
    else s = clvae_objective_init_params(r->model, desc->seed, err);
    if (s) return s;
    if ((s = steps_start(r, r->o->resume ? r->st.step : 0, err))) return s;
    if ((s = clvae_data_upload(r->ctx, &r->train, &r->dtrain, err)) ||
        (s = clvae_data_upload(r->ctx, &r->test, &r->dtest, err)))
        return s;
    r->nb = (r->train.n + r->batch - 1) / r->batch;
    r->perm = malloc(r->train.n * sizeof *r->perm);
    const char *const *cols;
    r->ncols = clvae_objective_columns(desc, &cols);
    size_t stride = (size_t)r->ncols + 1;
    r->host_losses = malloc(r->nb * stride * sizeof *r->host_losses);
    size_t hn = 1;
    for (int k = 0; k < clvae_objective_nets(r->model); k++) {
        const clvae_model_desc_t *dk = clvae_objective_net_desc(r->model, k);
        if (dk->nparams + 1 > hn) hn = dk->nparams + 1;
        if (dk->nstate > hn) hn = dk->nstate;
    }
    r->host = r->nranks > 1 ? malloc(hn * sizeof *r->host) : NULL;
    if (!r->perm || !r->host_losses || (r->nranks > 1 && !r->host))
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (int k = 0; r->nranks > 1 && !r->o->no_overlap && k < clvae_objective_nets(r->model); k++) {
        size_t nk = clvae_objective_net_desc(r->model, k)->nparams;
        if (!(r->watch[k] = malloc((nk + 1) * sizeof *r->watch[k])))
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        clvae_objective_watch_grads(r->model, k, r->watch[k]);
    }
    return clvae_buf_alloc(r->ctx, r->nb * stride, &r->epoch_losses, err);
}

/* The epoch's KL weight (a function of the epoch alone, so resume stays exact) and data
 * order, on the device. */
static clvae_status_t run_epoch_order(run_t *r, long epoch, clvae_error_t *err)
{
    const clvae_model_desc_t *desc = r->desc;
    clvae_objective_set_beta(r->model, clvae_beta_at(desc, epoch));
    if (desc->shuffle) {
        clvae_shuffle(r->perm, r->train.n, desc->seed, (uint64_t)epoch);
    } else {
        for (size_t i = 0; i < r->train.n; i++) r->perm[i] = (uint32_t)i;
    }
    return clvae_data_upload_indices(r->ctx, &r->idx, r->perm, r->train.n, r->train.n, err);
}

/* Examples in batch b of an epoch (the last one may be partial). */
static size_t batch_size(const run_t *r, size_t b)
{
    size_t start = b * r->batch;
    return r->train.n - start < r->batch ? r->train.n - start : r->batch;
}

/* One training step on batch b: the objective loads it (images, labels, noise) and runs
 * forward and backward; the test hook's NaN fault; the gradient hook (where an all-reduce over
 * devices goes; nothing for one device); then the optimizer step, which counts non-finite
 * values first and is skipped on the device when there are any; the batch's losses are copied
 * aside on the device. */
static clvae_status_t train_step(run_t *r, size_t b, clvae_error_t *err)
{
    double t0 = clvae_seconds();
    size_t at = 0, all = batch_size(r, b), B = r->nranks > 1 ? rank_share(r, all, &at) : all;
    long step = r->st.step;
    clvae_buf_t input = clvae_objective_input(r->model);
    r->share = (double)B / (double)all;
    clvae_status_t s = clvae_objective_load(r->model, &r->dtrain, &r->ltrain, r->idx,
                                            b * r->batch + at, B, step, err);
    if (!s && r->nan_lo && (uint64_t)step >= r->nan_lo && (uint64_t)step <= r->nan_hi)
        s = clvae_fill_forward(r->ctx, input.mem, input.off, NAN, 1, err);
    if (s || (s = clvae_objective_train_step(r->model, B, step,
                                             r->nranks > 1 || r->o->grad_hook ? step_hook : NULL,
                                             r, err)) ||
        (r->nranks > 1 && (s = share_state(r, err))))
        return s;
    if (r->o->stats) {
        r->o->stats->steps++;
        r->o->stats->step_s += clvae_seconds() - t0;
    }
    size_t stride = (size_t)r->ncols + 1;
    return clvae_buf_copy(r->ctx, clvae_buf_at(r->epoch_losses, b * stride),
                          clvae_objective_loss_buf(r->model), stride, err);
}

/* Batch k's losses, read back: a skipped step (non-finite) extends the streak, which stops the
 * run when it is longer than max_skipped; else the losses count towards the epoch's means. */
static clvae_status_t account_batch(run_t *r, long epoch, size_t k, clvae_error_t *err)
{
    const float *l = r->host_losses + k * ((size_t)r->ncols + 1);
    if (l[r->ncols] == 0.0f && isfinite(l[0])) {
        size_t Bk = batch_size(r, k);
        r->streak = 0;
        for (int q = 0; q < r->ncols; q++) r->st.sums[q] += (double)l[q] * (double)Bk;
        r->st.seen += Bk;
        return CLVAE_OK;
    }
    /* the device skipped this step; its loss does not count */
    r->skipped++;
    if (r->streak++ == 0) {
        r->streak_epoch = epoch + 1;
        r->streak_batch = k + 1;
        r->streak_loss = l[0];
    }
    if (r->streak <= r->desc->max_skipped) return CLVAE_OK;
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                      "training stopped at epoch %ld, batch %zu: %ld step%s in a row had a NaN "
                      "or infinite loss or gradient, from epoch %ld, batch %zu on (loss %g "
                      "there); each was skipped, and no checkpoint was written from this state: "
                      "try a smaller learning rate (train.lr = %g) or check the data "
                      "(train.max_skipped = %ld allows that many in a row)",
                      epoch + 1, k + 1, r->streak, r->streak == 1 ? "" : "s", r->streak_epoch,
                      r->streak_batch, (double)r->streak_loss, (double)r->desc->lr,
                      r->desc->max_skipped);
}

static void batch_progress(run_t *r, long epoch);

/* A readback of n floats from src that keeps the progress bar alive: while the device works
 * through the steps before it, the callback hears about once a second how many batches it
 * finished (a batch can take longer than a second). */
static clvae_status_t download_ticking(run_t *r, float *dst, clvae_buf_t src, size_t n,
                                       long epoch, clvae_error_t *err)
{
    if (!r->o->progress) return clvae_buf_download(r->ctx, dst, src, n, err);
    cl_event e;
    clvae_status_t s = clvae_buf_download_start(r->ctx, dst, src, n, &e, err);
    if (s) return s;
    clFlush(clvae_ctx_queue(r->ctx));
    double next = clvae_seconds() + 1.0;
    cl_int st = CL_QUEUED;
    long nap = 50000; /* ns: doubling to 20 ms, so that a short wait stays short */
    for (;;) {
        if (clGetEventInfo(e, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL) !=
                CL_SUCCESS || st <= CL_COMPLETE)
            break;
        struct timespec ts = {0, nap};
        nanosleep(&ts, NULL);
        nap = nap < 10000000 ? 2 * nap : 20000000;
        if (clvae_seconds() >= next) {
            batch_progress(r, epoch);
            next += 1.0;
        }
    }
    s = clvae_ctx_wait_events(r->ctx, 1, &e, err); /* an error status comes out here */
    clReleaseEvent(e);
    return s;
}

/* One readback of the losses of the batches since the last one (through batch b), their
 * accounting, and the progress callback. */
static clvae_status_t read_losses(run_t *r, long epoch, size_t b, clvae_error_t *err)
{
    size_t cnt = b + 1 - r->read_upto, stride = (size_t)r->ncols + 1;
    float *l = r->host_losses + r->read_upto * stride;
    clvae_status_t s = download_ticking(r, l, clvae_buf_at(r->epoch_losses, r->read_upto * stride),
                                        cnt * stride, epoch, err);
    marks_release(r);
    if (!s && r->nranks > 1) {
        /* each rank's columns are means over its slice: weighted by its share and summed; the
         * non-finite counts are the same everywhere (the hook summed them): rank 0's */
        for (size_t k = 0; k < cnt; k++) {
            size_t at, all = batch_size(r, r->read_upto + k);
            float w = (float)((double)rank_share(r, all, &at) / (double)all);
            for (int q = 0; q < r->ncols; q++) l[k * stride + (size_t)q] *= w;
            if (r->rank) l[k * stride + (size_t)r->ncols] = 0.0f;
        }
        s = clvae_comm_sum(r->comm, l, cnt * stride, 0, err);
    }
    for (size_t k = r->read_upto; !s && k <= b; k++) s = account_batch(r, epoch, k, err);
    if (!s) s = steps_row(r, epoch, b, err);
    if (s) return s;
    r->read_upto = b + 1;
    if (r->o->progress) {
        double el = clvae_seconds() - r->t0;
        clvae_progress_t p = {0, epoch + 1, r->desc->epochs, b + 1, r->nb,
                              r->st.seen ? r->st.sums[0] / (double)r->st.seen : 0.0, el,
                              (double)r->st.seen / (el > 0 ? el : 1e-9), NULL, r->skipped,
                              NULL, 0.0, 0, 1, r->st.step, r->st.seen};
        r->o->progress(r->o->user, &p);
    }
    return CLVAE_OK;
}

/* The progress callback between readbacks: the bar moves to the batches the device finished,
 * the loss is the last one read. */
static void batch_progress(run_t *r, long epoch)
{
    if (!r->o->progress) return;
    double el = clvae_seconds() - r->t0;
    clvae_progress_t p = {0, epoch + 1, r->desc->epochs, batches_done(r), r->nb,
                          r->st.seen ? r->st.sums[0] / (double)r->st.seen : 0.0, el,
                          (double)r->st.seen / (el > 0 ? el : 1e-9), NULL, r->skipped, NULL,
                          0.0, 0, 0, r->st.step, r->st.seen};
    r->o->progress(r->o->user, &p);
}

/* The end of an epoch: its metrics row with the test pass, the checkpoint first, then
 * metrics.csv (which never lists an epoch the checkpoint lacks), the progress callback. */
/* A stop request after the epoch's last batch, before its test pass ended: the checkpoint
 * holds every batch of the epoch (cursor = its batch count), so that --resume runs the test
 * pass and finishes the epoch. */
static clvae_status_t save_before_test(run_t *r, long epoch, double seconds, int *stopped,
                                       clvae_error_t *err)
{
    r->st.cursor = r->nb;
    r->st.epoch = epoch;
    r->st.seconds = seconds;
    snprintf(r->when, sizeof r->when, "after the last batch of epoch %ld, before its test pass "
             "(interrupted)", epoch + 1);
    *stopped = 1;
    clvae_status_t s = save(r, err);
    return s ? s : steps_write(r, err);
}

static clvae_status_t finish_epoch(run_t *r, long epoch, double seconds, int *stopped,
                                   clvae_error_t *err)
{
    const clvae_model_desc_t *desc = r->desc;
    clvae_status_t s;
    if (r->st.seen == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "training stopped: every step of epoch %ld had a NaN or infinite loss "
                          "or gradient and was skipped; no checkpoint was written from this "
                          "state: try a smaller learning rate (train.lr = %g) or check the data",
                          epoch + 1, (double)desc->lr);
    clvae_epoch_metrics_t row;
    memset(&row, 0, sizeof row);
    row.epoch = epoch + 1;
    row.ncols = r->ncols;
    for (int q = 0; q < r->ncols; q++) row.train[q] = r->st.sums[q] / (double)r->st.seen;
    row.seconds = seconds;
    row.images_per_s = (double)r->st.seen / (seconds > 0 ? seconds : 1e-9);
    row.beta = desc->variational ? clvae_beta_at(desc, epoch) : 0.0;
    /* the test pass: the first test_limit examples, every test_every epochs and after the
     * last; the test columns of an epoch without one are NaN ("nan" in metrics.csv) */
    size_t test_n = desc->test_limit && desc->test_limit < r->test.n ? desc->test_limit
                                                                       : r->test.n;
    int tested = (epoch + 1) % desc->test_every == 0 || epoch + 1 >= desc->epochs;
    double t_test = clvae_seconds();
    if (r->o->stop && r->stop_test == epoch + 1) *r->o->stop = 1;
    for (int q = 0; !tested && q < r->ncols; q++) row.test[q] = NAN;
    if (tested && r->o->progress) { /* the test pass begins: test_n examples */
        clvae_progress_t p = {0, epoch + 1, desc->epochs, r->nb, r->nb, row.train[0], seconds,
                              row.images_per_s, NULL, r->skipped, NULL, 0.0, test_n, 0,
                              r->st.step, r->st.seen};
        r->o->progress(r->o->user, &p);
    }
    if (tested && (s = clvae_objective_test(r->model, &r->test, &r->dtest, &r->ltest, test_n,
                                            r->batch / (size_t)r->nranks, row.test, err)))
        return s;
    if (clvae_objective_stopped(r->model)) return save_before_test(r, epoch, seconds, stopped, err);
    if ((s = append_row(&r->metrics, &row, desc, err))) return s;
    t_test = tested ? clvae_seconds() - t_test : 0.0;
    memset(&r->st, 0, sizeof r->st);
    r->st.ncols = r->ncols;
    r->st.epoch = epoch + 1;
    r->st.step = (long)((uint64_t)(epoch + 1) * r->nb); /* step continues across epochs */
    snprintf(r->when, sizeof r->when, "after epoch %ld", epoch + 1);
    if ((s = save(r, err))) return s;
    snprintf(r->kept, sizeof r->kept, "%s holds epoch %ld: free space or fix the folder, then "
             "continue with --resume", r->ckpath, epoch + 1);
    if (r->writer && (s = clvae_write_file_atomic(r->mpath, r->metrics, strlen(r->metrics), err))) {
        char inner[sizeof err->msg];
        snprintf(inner, sizeof inner, "%s", err->msg);
        return CLVAE_FAIL(err, s, "training stopped: %s holds epoch %ld, but %s; --resume "
                          "rewrites metrics.csv from the checkpoint", r->ckpath, epoch + 1, inner);
    }
    if ((s = steps_write(r, err))) return s;
    if (r->o->progress) {
        clvae_progress_t p = {1, epoch + 1, desc->epochs, r->nb, r->nb, row.train[0], seconds,
                              row.images_per_s, &row, r->skipped, r->model, t_test,
                              tested ? test_n : 0, 1, r->st.step, r->st.seen};
        r->o->progress(r->o->user, &p);
    }
    return CLVAE_OK;
}

/* The batches of one epoch from the saved cursor on. *stopped: Ctrl-C saved the checkpoint in
 * the middle of the epoch (a stop after its last batch finishes the epoch normally). */
static clvae_status_t run_epoch(run_t *r, long epoch, int *stopped, clvae_error_t *err)
{
    const clvae_train_opts_t *o = r->o;
    clvae_status_t s;
    r->skipped = 0;
    if ((s = run_epoch_order(r, epoch, err))) return s;
    r->t0 = clvae_seconds() - r->st.seconds;
    memcpy(r->row_sums, r->st.sums, sizeof r->row_sums);
    r->row_seen = r->st.seen;
    r->row_t = clvae_seconds();
    r->read_upto = r->st.cursor;
    size_t log_every = o->log_every > 0 ? (size_t)o->log_every : 20;
    for (size_t b = r->st.cursor; b < r->nb; b++) {
        r->st.step++;
        if ((s = train_step(r, b, err)) || (s = mark_step(r, err)))
            return step_failed(s, epoch, b, r->batch, err);
        if (o->stop && r->stop_step == r->st.step) *o->stop = 1;
        int stopping;
        if ((s = stop_agreed(r, &stopping, err))) return s;
        if (b + 1 - r->read_upto >= log_every || b + 1 == r->nb || stopping) {
            if ((s = read_losses(r, epoch, b, err))) return step_failed(s, epoch, b, r->batch, err);
        } else {
            batch_progress(r, epoch);
        }
        if (!stopping) continue;
        r->st.cursor = b + 1;
        r->st.seconds = clvae_seconds() - r->t0;
        if (r->st.cursor == r->nb) return save_before_test(r, epoch, r->st.seconds, stopped, err);
        r->st.epoch = epoch;
        snprintf(r->when, sizeof r->when, "at epoch %ld, batch %zu (interrupted)", epoch + 1,
                 r->st.cursor);
        *stopped = 1;
        if ((s = save(r, err))) return s;
        return steps_write(r, err);
    }
    return finish_epoch(r, epoch, clvae_seconds() - r->t0, stopped, err);
}

static void run_free(run_t *r)
{
    if (r->idx) clReleaseMemObject(r->idx);
    clvae_buf_free(&r->epoch_losses);
    free(r->perm);
    free(r->host_losses);
    free(r->host);
    free(r->metrics);
    free(r->steps);
    clvae_checkpoint_free(&r->ck);
    clvae_objective_free(r->model); /* (its reads into watch end with it) */
    free(r->watch[0]);
    free(r->watch[1]);
    marks_release(r);
    free(r->marks);
    clvae_data_dev_free(&r->ltrain);
    clvae_data_dev_free(&r->ltest);
    clvae_data_dev_free(&r->dtrain);
    clvae_data_dev_free(&r->dtest);
    clvae_dataset_free(&r->train);
    clvae_dataset_free(&r->test);
    free(r);
}

clvae_status_t clvae_train_run(clvae_ctx_t *ctx, const clvae_model_desc_t *desc,
                               const clvae_train_opts_t *o, int *interrupted, clvae_error_t *err)
{
    *interrupted = 0;
    run_t *r = calloc(1, sizeof *r);
    if (!r) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    r->ctx = ctx;
    r->desc = desc;
    r->o = o;
    r->comm = o->comm;
    r->rank = clvae_comm_rank(o->comm);
    r->nranks = clvae_comm_size(o->comm);
    r->writer = r->rank == 0;
    r->bucket = o->bucket_floats ? o->bucket_floats : (size_t)1 << 18;
    snprintf(r->ckpath, sizeof r->ckpath, "%s/checkpoint.safetensors", o->out_dir);
    snprintf(r->mpath, sizeof r->mpath, "%s/metrics.csv", o->out_dir);
    snprintf(r->spath, sizeof r->spath, "%s/steps.csv", o->out_dir);
    snprintf(r->kept, sizeof r->kept, "no checkpoint was written yet: free space or fix the "
             "folder, then start the run again");
    clvae_status_t s = run_check_inputs(r, err);
    if (!s) s = run_start(r, err);
    if (r->nranks > 1) { /* start together or not at all */
        int bad = s != CLVAE_OK;
        clvae_error_t e2 = {0};
        if (clvae_comm_any(r->comm, &bad, &e2) && !s) s = CLVAE_FAIL(err, e2.status, "%s", e2.msg);
        if (bad && !s)
            s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "another rank could not start (its message "
                           "says why)");
    }
    for (long epoch = r->st.epoch; !s && epoch < desc->epochs; epoch++) {
        int stopped = 0, stopping = 0;
        s = run_epoch(r, epoch, &stopped, err);
        if (!s && stopped) {
            *interrupted = 1;
            break;
        }
        if (!s) s = stop_agreed(r, &stopping, err);
        if (!s && stopping) { /* after the epoch was saved: stop here too */
            *interrupted = 1;
            break;
        }
    }
    run_free(r);
    return s;
}
