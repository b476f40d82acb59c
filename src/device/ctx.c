/* The context: opens the chosen device's OpenCL context and queue, holds the caches. */
#include "device/ctx_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void clvae_ctx_opts_from_env(clvae_ctx_opts_t *o)
{
    memset(o, 0, sizeof *o);
    const char *v;
    if ((v = getenv("CLVAE_DEVICE")) && *v) o->device_spec = v;
    if ((v = getenv("CLVAE_KERNEL_DIR")) && *v) o->kernel_dir = v;
    if ((v = getenv("CLVAE_FAST_MATH")) && *v && strcmp(v, "0") != 0) o->fast_math = 1;
    if ((v = getenv("CLVAE_CL_WERROR")) && *v && strcmp(v, "0") != 0) o->werror = 1;
    if ((v = getenv("CLVAE_MAX_ALLOC")) && *v) o->max_alloc = v;
    o->log_level = CLVAE_LOG_WARN;
    v = getenv("CLVAE_KERNEL_CACHE");
    if (v && strcmp(v, "0") == 0) return; /* cache off */
    if (v && *v && strcmp(v, "1") != 0) {     /* a folder of the user's choice */
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s", v);
        return;
    }
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s/clvae/kernels", xdg);
    else if (home && *home)
        snprintf(o->cache_dir, sizeof o->cache_dir, "%s/.cache/clvae/kernels", home);
}

void clvae_ctx_log(const clvae_ctx_t *ctx, int level, const char *fmt, ...)
{
    if (!ctx->opts.log || level > ctx->opts.log_level) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    ctx->opts.log(ctx->opts.log_user, level, msg);
}

/* Largest power of two <= min(device max work-group size, 256). */
static size_t pick_wgs(size_t max_wg)
{
    size_t w = 1;
    while (w * 2 <= max_wg && w * 2 <= 256) w *= 2;
    return w;
}

/* Parses "N", "NK", "NM" or "NG" (binary multiples) into bytes >= 1; 0 when it is not one. */
static uint64_t parse_bytes(const char *v)
{
    uint64_t n = 0;
    const char *c = v;
    for (; *c >= '0' && *c <= '9'; c++) {
        if (n > (UINT64_MAX - 9) / 10) return 0;
        n = n * 10 + (uint64_t)(*c - '0');
    }
    if (c == v) return 0;
    int shift = 0;
    if (*c == 'K' || *c == 'k') shift = 10;
    else if (*c == 'M' || *c == 'm') shift = 20;
    else if (*c == 'G' || *c == 'g') shift = 30;
    if (shift) c++;
    if (*c || n > (UINT64_MAX >> shift)) return 0;
    return n << shift;
}

clvae_status_t clvae_ctx_init(clvae_ctx_t **out, const clvae_ctx_opts_t *o, clvae_error_t *err)
{
    *out = NULL;
    clvae_ctx_opts_t env;
    if (!o) {
        clvae_ctx_opts_from_env(&env);
        o = &env;
    }
    uint64_t cap = 0;
    if (o->max_alloc && !(cap = parse_bytes(o->max_alloc)))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "CLVAE_MAX_ALLOC='%s' is not a byte count (e.g. "
                          "65536, 64K, 256M)", o->max_alloc);
    clvae_device_info_t *devs = NULL;
    int n = 0, pick = -1;
    clvae_status_t s = clvae_device_list(&devs, &n, err);
    if (s) return s;
    s = clvae_device_select(devs, n, o->device_spec, &pick, err);
    if (s) {
        free(devs);
        return s;
    }
    clvae_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        free(devs);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    ctx->dev = devs[pick];
    free(devs);
    ctx->opts = *o;
    if (o->kernel_dir && !(ctx->kernel_dir = strdup(o->kernel_dir))) {
        free(ctx);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    ctx->opts.kernel_dir = ctx->kernel_dir;
    ctx->opts.max_alloc = NULL;
    if (cap && cap < ctx->dev.max_alloc) ctx->dev.max_alloc = cap;
    ctx->wgs = pick_wgs(ctx->dev.max_wg);
    /* On by default on Oclgrind only: its uninitialized-memory checker mistakes partial host
     * writes for uninitialized data (see clvae_buf_upload in tensor.c). */
    const char *kc = getenv("CLVAE_KERNEL_COPIES");
    ctx->kernel_copies = kc && *kc ? strcmp(kc, "0") != 0
                                   : strstr(ctx->dev.platform_name, "Oclgrind") != NULL;

    cl_int rc;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM,
                                     (cl_context_properties)ctx->dev.platform_id, 0};
    ctx->context = clCreateContext(props, 1, &ctx->dev.device_id, NULL, NULL, &rc);
    if (rc != CL_SUCCESS) {
        s = clvae_error_cl(err, rc, "clCreateContext", __FILE__, __LINE__);
        goto fail;
    }
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->dev.device_id,
                                      o->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &rc);
    if (rc != CL_SUCCESS) {
        s = clvae_error_cl(err, rc, "clCreateCommandQueue", __FILE__, __LINE__);
        goto fail;
    }
    clvae_ctx_log(ctx, CLVAE_LOG_INFO, "device %d (%d:%d): %s / %s, work-group size %zu",
                  ctx->dev.index, ctx->dev.platform, ctx->dev.device, ctx->dev.platform_name,
                  ctx->dev.name, ctx->wgs);
    if (cap)
        clvae_ctx_log(ctx, CLVAE_LOG_INFO, "maximum allocation: %llu bytes (CLVAE_MAX_ALLOC)",
                      (unsigned long long)ctx->dev.max_alloc);
    *out = ctx;
    return CLVAE_OK;
fail:
    clvae_ctx_free(ctx);
    return s;
}

void clvae_ctx_free(clvae_ctx_t *ctx)
{
    if (!ctx) return;
    clvae_kprof_free(ctx);
    if (ctx->tuning_free) ctx->tuning_free(ctx->tuning);
    for (int i = 0; i < ctx->nkernels; i++) clReleaseKernel(ctx->kernels[i].kernel);
    for (int i = 0; i < ctx->nprograms; i++) clReleaseProgram(ctx->programs[i].program);
    free(ctx->kernels);
    free(ctx->programs);
    for (int i = 0; i < CLVAE_CTX_WORKSPACES; i++)
        if (ctx->ws[i]) clReleaseMemObject(ctx->ws[i]);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx->kernel_dir);
    free(ctx);
}

const clvae_device_info_t *clvae_ctx_device(const clvae_ctx_t *ctx) { return &ctx->dev; }
cl_context clvae_ctx_cl_context(const clvae_ctx_t *ctx) { return ctx->context; }
cl_command_queue clvae_ctx_queue(const clvae_ctx_t *ctx) { return ctx->queue; }
cl_device_id clvae_ctx_device_id(const clvae_ctx_t *ctx) { return ctx->dev.device_id; }
clvae_program_stats_t clvae_ctx_program_stats(const clvae_ctx_t *ctx) { return ctx->stats; }
size_t clvae_ctx_wgs(const clvae_ctx_t *ctx) { return ctx->wgs; }

clvae_status_t clvae_ctx_finish(clvae_ctx_t *ctx, clvae_error_t *err)
{
    ctx->counters.waits++;
    CLVAE_CL_RET(err, clFinish(ctx->queue));
    return CLVAE_OK;
}

clvae_status_t clvae_ctx_wait_events(clvae_ctx_t *ctx, cl_uint n, const cl_event *events,
                                     clvae_error_t *err)
{
    if (n == 0) return CLVAE_OK;
    ctx->counters.waits++;
    CLVAE_CL_RET(err, clWaitForEvents(n, events));
    return CLVAE_OK;
}

void clvae_ctx_counters(const clvae_ctx_t *ctx, clvae_counters_t *out) { *out = ctx->counters; }

void clvae_ctx_counters_reset(clvae_ctx_t *ctx) { memset(&ctx->counters, 0, sizeof ctx->counters); }
