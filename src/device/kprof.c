/* Device time by kernel: the events clvae's launches record while `clvae bench --profile`
 * asks for them (clvae_ctx_kernel_profile), added up by kernel name (clvae_ctx_kernel_times). */
#include "device/ctx_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One launch: its event (end) and, for a CLBlast call, the marker enqueued before it (start). */
typedef struct kprof_rec {
    cl_event start;
    cl_event end;
    int kernel; /* index into ctx->kernels; -1: a CLBlast call */
} kprof_rec_t;

struct clvae_kprof {
    kprof_rec_t *recs;
    int n, cap;
    int lost;             /* launches not kept for want of host memory */
    cl_event slot;        /* handed out by clvae_kprof_event, kept by clvae_kprof_done */
    cl_event slot_start;  /* the marker before a CLBlast call */
    int slot_kernel;
};

static void release_recs(struct clvae_kprof *p)
{
    for (int i = 0; i < p->n; i++) {
        if (p->recs[i].start) clReleaseEvent(p->recs[i].start);
        if (p->recs[i].end) clReleaseEvent(p->recs[i].end);
    }
    p->n = 0;
    p->lost = 0;
}

void clvae_kprof_free(clvae_ctx_t *ctx)
{
    struct clvae_kprof *p = ctx->kprof;
    if (!p) return;
    release_recs(p);
    if (p->slot_start) clReleaseEvent(p->slot_start);
    free(p->recs);
    free(p);
    ctx->kprof = NULL;
}

clvae_status_t clvae_ctx_kernel_profile(clvae_ctx_t *ctx, int on, clvae_error_t *err)
{
    if (!on) {
        clvae_kprof_free(ctx);
        return CLVAE_OK;
    }
    if (!ctx->opts.profiling)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "kernel times need a context opened with "
                          "profiling");
    if (ctx->kprof) return CLVAE_OK;
    if (!(ctx->kprof = calloc(1, sizeof *ctx->kprof)))
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    return CLVAE_OK;
}

cl_event *clvae_kprof_event(clvae_ctx_t *ctx, cl_kernel k)
{
    struct clvae_kprof *p = ctx->kprof;
    if (!p) return NULL;
    p->slot = NULL;
    p->slot_start = NULL;
    p->slot_kernel = -1;
    if (k) {
        for (int i = 0; i < ctx->nkernels; i++)
            if (ctx->kernels[i].kernel == k) p->slot_kernel = i;
        if (p->slot_kernel < 0) return NULL; /* not made by clvae_kernel_get: not timed */
    } else if (clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &p->slot_start) != CL_SUCCESS) {
        p->slot_start = NULL;
        return NULL;
    }
    return &p->slot;
}

void clvae_kprof_done(clvae_ctx_t *ctx, cl_int rc)
{
    struct clvae_kprof *p = ctx->kprof;
    if (!p) return;
    cl_event start = p->slot_start, end = p->slot;
    p->slot = p->slot_start = NULL;
    if (rc == CL_SUCCESS && end && p->n == p->cap) {
        int cap = p->cap ? 2 * p->cap : 256;
        kprof_rec_t *r = realloc(p->recs, (size_t)cap * sizeof *r);
        if (r) {
            p->recs = r;
            p->cap = cap;
        }
    }
    if (rc != CL_SUCCESS || !end || p->n == p->cap) {
        if (rc == CL_SUCCESS && end) p->lost++;
        if (start) clReleaseEvent(start);
        if (end) clReleaseEvent(end);
        return;
    }
    p->recs[p->n++] = (kprof_rec_t){start, end, p->slot_kernel};
}

/* The entry of `name` in (*times)[0 .. *n), appended (zeroed) when not there; NULL when out of
 * host memory. */
static clvae_kernel_time_t *entry(clvae_kernel_time_t **times, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*times)[i].name, name) == 0) return &(*times)[i];
    clvae_kernel_time_t *t = realloc(*times, (size_t)(*n + 1) * sizeof *t);
    if (!t) return NULL;
    *times = t;
    t = &t[(*n)++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    return t;
}

clvae_status_t clvae_ctx_kernel_times(clvae_ctx_t *ctx, clvae_kernel_time_t **times, int *n,
                                      clvae_error_t *err)
{
    struct clvae_kprof *p = ctx->kprof;
    if (!p) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "kernel times are not being recorded");
    clvae_status_t s = clvae_ctx_finish(ctx, err);
    for (int i = 0; !s && i < p->n; i++) {
        const kprof_rec_t *r = &p->recs[i];
        cl_ulong t0, t1;
        cl_int rc = r->start ? clGetEventProfilingInfo(r->start, CL_PROFILING_COMMAND_END,
                                                       sizeof t0, &t0, NULL)
                             : clGetEventProfilingInfo(r->end, CL_PROFILING_COMMAND_START,
                                                       sizeof t0, &t0, NULL);
        if (rc == CL_SUCCESS)
            rc = clGetEventProfilingInfo(r->end, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        if (rc != CL_SUCCESS) {
            s = clvae_error_cl(err, rc, "clGetEventProfilingInfo", __FILE__, __LINE__);
            break;
        }
        clvae_kernel_time_t *t =
            entry(times, n, r->kernel < 0 ? "CLBlast gemm" : ctx->kernels[r->kernel].name);
        if (!t) {
            s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
            break;
        }
        t->launches++;
        t->ns += t1 > t0 ? (double)(t1 - t0) : 0.0;
    }
    if (!s && p->lost)
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory: %d launches not timed",
                       p->lost);
    release_recs(p);
    return s;
}
