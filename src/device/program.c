/* Run-time kernels: assembles cl/ sources, builds them per device, caches binaries on disk. */
#include "device/clvae_cl_sources.h"
#include "clvae/io/fileio.h"
#include "clvae/io/sha256.h"
#include "device/ctx_internal.h"
#include "clvae/io/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* On-disk cache entry: magic, key, binary size, SHA-256 of the binary, binary. */
#define CACHE_MAGIC "CLVAEKC1"
#define CACHE_HEADER (8 + 32 + 8 + 32)
#define COMMON_FILE "common"

/* The text of cl/NAME.cl: from the kernel folder if one is set, else embedded. */
static clvae_status_t source_text(const clvae_ctx_t *ctx, const char *name, char **out,
                                  clvae_error_t *err)
{
    if (ctx->kernel_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.cl", ctx->kernel_dir, name);
        return clvae_file_read(path, (size_t)16 << 20, "kernel source", out, NULL, err);
    }
    for (const clvae_cl_source_t *s = clvae_cl_sources; s->name; s++) {
        if (strcmp(s->name, name) == 0) {
            *out = strdup(s->text);
            return *out ? CLVAE_OK : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        }
    }
    return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "no kernel file cl/%s.cl in this build", name);
}

/* The program source: generated -D block, cl/common.cl, then cl/NAME.cl. The
 * #line directives keep build-log line numbers pointing into the right file. */
static clvae_status_t assemble(const clvae_ctx_t *ctx, const char *name, char **out,
                               clvae_error_t *err)
{
    char *common = NULL, *body = NULL;
    clvae_status_t s = source_text(ctx, COMMON_FILE, &common, err);
    if (!s) s = source_text(ctx, name, &body, err);
    if (s) {
        free(common);
        return s;
    }
    const clvae_device_info_t *d = &ctx->dev;
    char defs[1024];
    snprintf(defs, sizeof defs,
             "/* clvae generated definitions for %s */\n"
             "#define CLVAE_WGS %zu\n"
             "#define CLVAE_ROW_CHUNK %du\n"
             "#define CLVAE_LOCAL_MEM_BYTES %lu\n"
             "#define CLVAE_DEVICE_IS_CPU %d\n"
             "#define CLVAE_DEVICE_IS_GPU %d\n",
             d->name, ctx->wgs, CLVAE_ROW_CHUNK, (unsigned long)d->local_mem,
             (d->type & CL_DEVICE_TYPE_CPU) ? 1 : 0, (d->type & CL_DEVICE_TYPE_GPU) ? 1 : 0);
    size_t size = strlen(defs) + strlen(common) + strlen(body) + 256;
    *out = malloc(size);
    if (*out)
        snprintf(*out, size, "%s#line 1 \"cl/%s.cl\"\n%s\n#line 1 \"cl/%s.cl\"\n%s\n", defs,
                 COMMON_FILE, common, name, body);
    free(common);
    free(body);
    return *out ? CLVAE_OK : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
}

static void build_options(const clvae_ctx_t *ctx, const char *defs, char *buf, size_t size)
{
    snprintf(buf, size, "-cl-std=CL1.2%s%s%s%s", ctx->opts.fast_math ? " -cl-fast-relaxed-math" : "",
             ctx->opts.werror ? " -Werror" : "", defs[0] ? " " : "", defs);
}

static void cache_key(const clvae_ctx_t *ctx, const char *src, const char *opts, uint8_t key[32])
{
    const char *parts[] = {"clvae kernel cache v1", src, opts, ctx->dev.name,
                           ctx->dev.driver_version, ctx->dev.platform_version};
    clvae_sha256_t h;
    clvae_sha256_init(&h);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        clvae_sha256_update(&h, parts[i], strlen(parts[i]) + 1); /* with the NUL as separator */
    clvae_sha256_final(&h, key);
}

static void cache_path(const clvae_ctx_t *ctx, const uint8_t key[32], char *buf, size_t size)
{
    char hex[65];
    clvae_sha256_hex(key, hex);
    snprintf(buf, size, "%s/%s.bin", ctx->opts.cache_dir, hex);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Builds prog for the context's device; on failure returns the build log. */
static clvae_status_t build(clvae_ctx_t *ctx, cl_program prog, const char *name,
                            const char *opts, clvae_error_t *err)
{
    cl_int rc = clBuildProgram(prog, 1, &ctx->dev.device_id, opts, NULL, NULL);
    if (rc == CL_SUCCESS) return CLVAE_OK;
    CLVAE_FAIL(err, CLVAE_ERR_BUILD, "building kernel file cl/%s.cl for %s failed: %s (%d)",
               name, ctx->dev.name, clvae_cl_error_name(rc), (int)rc);
    size_t n = 0;
    if (clGetProgramBuildInfo(prog, ctx->dev.device_id, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) ==
            CL_SUCCESS && n > 0) {
        char *log = malloc(n + 1);
        if (log && clGetProgramBuildInfo(prog, ctx->dev.device_id, CL_PROGRAM_BUILD_LOG, n, log,
                                         NULL) == CL_SUCCESS) {
            log[n] = 0;
            clvae_error_detail(err, log, strlen(log));
        }
        free(log);
    }
    return CLVAE_ERR_BUILD;
}

/* Tries the disk cache; returns a built program or NULL (and counts a rejection
 * when an entry was there but unusable). */
static cl_program cache_load(clvae_ctx_t *ctx, const char *name, const uint8_t key[32],
                             const char *opts)
{
    char path[1200];
    cache_path(ctx, key, path, sizeof path);
    char *data = NULL;
    size_t len = 0;
    clvae_error_t ignored = {0};
    if (clvae_file_read(path, (size_t)1 << 30, "kernel binary", &data, &len, &ignored) != CLVAE_OK) {
        clvae_error_clear(&ignored);
        return NULL; /* no entry: a plain miss */
    }
    const char *why = NULL;
    cl_program prog = NULL;
    const uint8_t *p = (const uint8_t *)data;
    uint8_t sum[32];
    if (len < CACHE_HEADER || memcmp(p, CACHE_MAGIC, 8) != 0) {
        why = "bad header";
    } else if (memcmp(p + 8, key, 32) != 0) {
        why = "key mismatch";
    } else if (get_u64(p + 40) != len - CACHE_HEADER || len == CACHE_HEADER) {
        why = "wrong size";
    } else {
        clvae_sha256(p + CACHE_HEADER, len - CACHE_HEADER, sum);
        if (memcmp(sum, p + 48, 32) != 0) why = "checksum mismatch";
    }
    if (!why) {
        size_t bin_len = len - CACHE_HEADER;
        const unsigned char *bin = p + CACHE_HEADER;
        cl_int rc, bin_status = CL_SUCCESS;
        prog = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device_id, &bin_len, &bin,
                                         &bin_status, &rc);
        if (rc != CL_SUCCESS || bin_status != CL_SUCCESS) {
            why = "driver refused the binary";
        } else if (build(ctx, prog, name, opts, &ignored) != CLVAE_OK) {
            why = "binary did not build";
        }
        clvae_error_clear(&ignored);
        if (why && prog) {
            clReleaseProgram(prog);
            prog = NULL;
        }
    }
    free(data);
    if (why) {
        ctx->stats.disk_rejected++;
        clvae_ctx_log(ctx, CLVAE_LOG_WARN, "kernel cache: ignoring %s (%s); rebuilding cl/%s.cl",
                      path, why, name);
        return NULL;
    }
    ctx->stats.disk_hits++;
    clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "kernel cache: hit for cl/%s.cl (%s)", name, path);
    return prog;
}

/* Writes the program's binary to the cache (clvae_write_file_atomic). A failure only costs a
 * rebuild next time, so it is a warning, not an error. */
static void cache_store(clvae_ctx_t *ctx, cl_program prog, const char *name,
                        const uint8_t key[32])
{
    size_t bin_len = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof bin_len, &bin_len, NULL) !=
            CL_SUCCESS || bin_len == 0)
        return;
    uint8_t *buf = malloc(CACHE_HEADER + bin_len);
    if (!buf) return;
    unsigned char *bin = buf + CACHE_HEADER;
    char path[1200];
    const char *why = NULL;
    clvae_error_t e = {0};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) != CL_SUCCESS) {
        why = "driver gave no binary";
        goto out;
    }
    memcpy(buf, CACHE_MAGIC, 8);
    memcpy(buf + 8, key, 32);
    put_u64(buf + 40, bin_len);
    clvae_sha256(bin, bin_len, buf + 48);
    if (clvae_mkdirs(ctx->opts.cache_dir) != 0) {
        why = strerror(errno);
        goto out;
    }
    cache_path(ctx, key, path, sizeof path);
    if (clvae_write_file_atomic(path, buf, CACHE_HEADER + bin_len, &e)) {
        why = e.msg;
    } else {
        ctx->stats.disk_writes++;
        clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "kernel cache: stored cl/%s.cl as %s", name, path);
    }
out:
    if (why)
        clvae_ctx_log(ctx, CLVAE_LOG_WARN, "kernel cache: cannot store cl/%s.cl in %s: %s",
                      name, ctx->opts.cache_dir, why);
    clvae_error_clear(&e);
    free(buf);
}

/* The program of cl/NAME.cl built with the extra options defs. */
static clvae_status_t program_get(clvae_ctx_t *ctx, const char *name, const char *defs,
                                  cl_program *out, clvae_error_t *err)
{
    *out = NULL;
    for (int i = 0; i < ctx->nprograms; i++) {
        if (strcmp(ctx->programs[i].name, name) == 0 && strcmp(ctx->programs[i].defs, defs) == 0) {
            *out = ctx->programs[i].program;
            return CLVAE_OK;
        }
    }
    if (strlen(name) >= sizeof ctx->programs[0].name || strchr(name, '/'))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "bad kernel file name '%s'", name);
    if (strlen(defs) >= sizeof ctx->programs[0].defs)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "build options too long for cl/%s.cl", name);
    clvae_program_entry_t *grown =
        realloc(ctx->programs, (size_t)(ctx->nprograms + 1) * sizeof *grown);
    if (!grown) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    ctx->programs = grown;

    char *src = NULL;
    clvae_status_t s = assemble(ctx, name, &src, err);
    if (s) return s;
    char opts[64 + CLVAE_KERNEL_DEFS_MAX];
    build_options(ctx, defs, opts, sizeof opts);
    uint8_t key[32];
    cache_key(ctx, src, opts, key);
    int use_cache = ctx->opts.cache_dir[0] != 0;
    double t0 = clvae_seconds();
    cl_program prog = use_cache ? cache_load(ctx, name, key, opts) : NULL;
    if (!prog) {
        cl_int rc;
        const char *text = src;
        prog = clCreateProgramWithSource(ctx->context, 1, &text, NULL, &rc);
        if (rc != CL_SUCCESS) {
            free(src);
            return clvae_error_cl(err, rc, "clCreateProgramWithSource", __FILE__, __LINE__);
        }
        s = build(ctx, prog, name, opts, err);
        if (s) {
            clReleaseProgram(prog);
            free(src);
            return s;
        }
        ctx->stats.built_from_source++;
        clvae_ctx_log(ctx, CLVAE_LOG_DEBUG, "kernel cache: built cl/%s.cl from source", name);
        if (use_cache) cache_store(ctx, prog, name, key);
    }
    ctx->stats.build_seconds += clvae_seconds() - t0;
    free(src);
    clvae_program_entry_t *e = &ctx->programs[ctx->nprograms++];
    snprintf(e->name, sizeof e->name, "%s", name);
    snprintf(e->defs, sizeof e->defs, "%s", defs);
    e->program = prog;
    *out = prog;
    return CLVAE_OK;
}

clvae_status_t clvae_program_get(clvae_ctx_t *ctx, const char *name, cl_program *out,
                                 clvae_error_t *err)
{
    return program_get(ctx, name, "", out, err);
}

clvae_status_t clvae_program_build_all(clvae_ctx_t *ctx, int *nprograms, int *nkernels,
                                       clvae_error_t *err)
{
    int np = 0, nk = 0;
    clvae_status_t s = CLVAE_OK;
    for (const clvae_cl_source_t *src = clvae_cl_sources; src->name && !s; src++) {
        if (strcmp(src->name, COMMON_FILE) == 0) continue;
        cl_program prog;
        if ((s = program_get(ctx, src->name, "", &prog, err))) break;
        np++;
        cl_uint n = 0;
        cl_int rc = clCreateKernelsInProgram(prog, 0, NULL, &n);
        cl_kernel *ks = rc == CL_SUCCESS && n ? calloc(n, sizeof *ks) : NULL;
        if (rc == CL_SUCCESS && n && !ks) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        if (rc == CL_SUCCESS && n) rc = clCreateKernelsInProgram(prog, n, ks, NULL);
        if (rc != CL_SUCCESS)
            s = clvae_error_set(err, CLVAE_ERR_OPENCL, __FILE__, __LINE__,
                                "clCreateKernelsInProgram(cl/%s.cl) failed: %s (%d)", src->name,
                                clvae_cl_error_name(rc), (int)rc);
        for (cl_uint i = 0; ks && i < n; i++)
            if (ks[i]) clReleaseKernel(ks[i]);
        free(ks);
        nk += (int)n;
    }
    if (nprograms) *nprograms = np;
    if (nkernels) *nkernels = nk;
    return s;
}

clvae_status_t clvae_kernel_get(clvae_ctx_t *ctx, const char *file, const char *kernel,
                                cl_kernel *out, clvae_error_t *err)
{
    return clvae_kernel_get_defs(ctx, file, "", kernel, out, err);
}

clvae_status_t clvae_kernel_get_defs(clvae_ctx_t *ctx, const char *file, const char *defs,
                                     const char *kernel, cl_kernel *out, clvae_error_t *err)
{
    *out = NULL;
    for (int i = 0; i < ctx->nkernels; i++) {
        clvae_kernel_entry_t *e = &ctx->kernels[i];
        if (strcmp(e->file, file) == 0 && strcmp(e->name, kernel) == 0 &&
            strcmp(e->defs, defs) == 0) {
            *out = e->kernel;
            return CLVAE_OK;
        }
    }
    if (strlen(kernel) >= sizeof ctx->kernels[0].name)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "bad kernel name '%s'", kernel);
    cl_program prog;
    clvae_status_t s = program_get(ctx, file, defs, &prog, err);
    if (s) return s;
    clvae_kernel_entry_t *grown =
        realloc(ctx->kernels, (size_t)(ctx->nkernels + 1) * sizeof *grown);
    if (!grown) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    ctx->kernels = grown;
    cl_int rc;
    cl_kernel k = clCreateKernel(prog, kernel, &rc);
    if (rc != CL_SUCCESS)
        return clvae_error_set(err, CLVAE_ERR_OPENCL, __FILE__, __LINE__,
                               "clCreateKernel(%s in cl/%s.cl) failed: %s (%d)", kernel, file,
                               clvae_cl_error_name(rc), (int)rc);
    size_t wg = 0;
    rc = clGetKernelWorkGroupInfo(k, ctx->dev.device_id, CL_KERNEL_WORK_GROUP_SIZE, sizeof wg,
                                  &wg, NULL);
    if (rc != CL_SUCCESS) {
        clReleaseKernel(k);
        return clvae_error_cl(err, rc, "clGetKernelWorkGroupInfo", __FILE__, __LINE__);
    }
    clvae_kernel_entry_t *e = &ctx->kernels[ctx->nkernels++];
    snprintf(e->file, sizeof e->file, "%s", file);
    snprintf(e->name, sizeof e->name, "%s", kernel);
    snprintf(e->defs, sizeof e->defs, "%s", defs);
    e->kernel = k;
    /* A power of two, so that kernels can reduce in a tree; at most WGS. */
    size_t cap = wg < ctx->wgs ? wg : ctx->wgs;
    e->wg = 1;
    while (e->wg * 2 <= cap) e->wg *= 2;
    *out = k;
    return CLVAE_OK;
}

size_t clvae_kernel_wg(const clvae_ctx_t *ctx, cl_kernel k)
{
    for (int i = 0; i < ctx->nkernels; i++)
        if (ctx->kernels[i].kernel == k) return ctx->kernels[i].wg;
    return 0;
}

clvae_status_t clvae_launch_1d(clvae_ctx_t *ctx, cl_kernel k, size_t n, clvae_error_t *err)
{
    if (n == 0) return CLVAE_OK;
    size_t local = clvae_kernel_wg(ctx, k);
    if (local == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "kernel was not created through clvae_kernel_get");
    size_t global = (n + local - 1) / local * local;
    cl_int rc = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &global, &local, 0, NULL,
                                       clvae_kprof_event(ctx, k));
    clvae_kprof_done(ctx, rc);
    CLVAE_CL_RET(err, rc);
    ctx->counters.launches++;
    return CLVAE_OK;
}

clvae_status_t clvae_launch_rows(clvae_ctx_t *ctx, cl_kernel k, size_t len, size_t rows,
                                 clvae_error_t *err)
{
    size_t chunks = (len + CLVAE_ROW_CHUNK - 1) / CLVAE_ROW_CHUNK;
    if ((double)rows * (double)(chunks * CLVAE_ROW_CHUNK) >= 4294967295.0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%zu rows of %zu values exceed 2^32", rows,
                          len);
    return clvae_launch_1d(ctx, k, rows * chunks, err);
}

clvae_status_t clvae_launch_groups(clvae_ctx_t *ctx, cl_kernel k, size_t groups,
                                   clvae_error_t *err)
{
    if (groups == 0) return CLVAE_OK;
    size_t local = clvae_kernel_wg(ctx, k);
    if (local == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "kernel was not created through clvae_kernel_get");
    return clvae_launch_wg(ctx, k, groups, local, err);
}

clvae_status_t clvae_launch_wg(clvae_ctx_t *ctx, cl_kernel k, size_t groups, size_t local,
                               clvae_error_t *err)
{
    if (groups == 0) return CLVAE_OK;
    if (local == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "work groups of 0 items");
    size_t global = groups * local;
    cl_int rc = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &global, &local, 0, NULL,
                                       clvae_kprof_event(ctx, k));
    clvae_kprof_done(ctx, rc);
    CLVAE_CL_RET(err, rc);
    ctx->counters.launches++;
    return CLVAE_OK;
}
