/* Run-time kernels: launches of every awkward size, the disk cache, build failures. */
#define _GNU_SOURCE
#define TEST_FILE "test_program"
#include "test.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clvae/ops/basic.h"
#include "clvae/device/device.h"

static char tmpdir[256];

static clvae_status_t open_ctx(clvae_ctx_t **ctx, const char *cache, const char *kdir,
                               clvae_error_t *err)
{
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    snprintf(o.cache_dir, sizeof o.cache_dir, "%s", cache ? cache : "");
    o.kernel_dir = kdir;
    return clvae_ctx_init(ctx, &o, err);
}

/* The single cache entry in dir, into path; returns the number of entries. */
static int cache_entry(const char *dir, char *path, size_t size)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        n++;
        snprintf(path, size, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

static void t_fill_add_sizes_and_offsets(void)
{
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    REQUIRE(open_ctx(&ctx, NULL, NULL, &err) == CLVAE_OK, "%s", err.msg);
    cl_context c = clvae_ctx_cl_context(ctx);
    cl_command_queue q = clvae_ctx_queue(ctx);
    size_t sizes[] = {1, 3, 63, 64, 65, 255, 256, 257, 4099};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si], off = 5, total = n + 2 * off;
        float *h = malloc(total * sizeof *h);
        for (size_t i = 0; i < total; i++) h[i] = -1.0f;
        cl_int rc;
        cl_mem b = clCreateBuffer(c, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                  total * sizeof *h, h, &rc);
        CHECK(rc == CL_SUCCESS, "clCreateBuffer %d", rc);
        CHECK(clvae_fill_forward(ctx, b, off, 2.5f, n, &err) == CLVAE_OK, "%s", err.msg);
        /* b[off..) = b[off..) + b[off..): 5.0 inside, guards untouched */
        CHECK(clvae_add_forward(ctx, b, off, b, off, b, off, n, &err) == CLVAE_OK, "%s",
              err.msg);
        clEnqueueReadBuffer(q, b, CL_TRUE, 0, total * sizeof *h, h, 0, NULL, NULL);
        int bad = 0;
        for (size_t i = 0; i < total; i++) {
            float want = (i >= off && i < off + n) ? 5.0f : -1.0f;
            if (h[i] != want && bad++ < 3)
                CHECK(0, "n=%zu: element %zu is %g, want %g", n, i, (double)h[i], (double)want);
        }
        clReleaseMemObject(b);
        free(h);
    }
    CHECK(clvae_selftest(ctx, 100003, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_selftest(ctx, 0, &err) == CLVAE_ERR_INVALID, "size 0 accepted");
    clvae_program_stats_t st = clvae_ctx_program_stats(ctx);
    CHECK(st.built_from_source == 1, "basic built %d times in one context", st.built_from_source);
    CHECK(st.disk_writes == 0, "cache off but %d writes", st.disk_writes);
    clvae_ctx_free(ctx);
}

static void t_launch_respects_kernel_limit(void)
{
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    REQUIRE(open_ctx(&ctx, NULL, NULL, &err) == CLVAE_OK, "%s", err.msg);
    const clvae_device_info_t *d = clvae_ctx_device(ctx);
    size_t wgs = clvae_ctx_wgs(ctx);
    CHECK(wgs >= 1 && wgs <= d->max_wg && (wgs & (wgs - 1)) == 0,
          "WGS %zu for device max %zu", wgs, d->max_wg);
    cl_kernel k;
    REQUIRE(clvae_kernel_get(ctx, "basic", "fill_f32", &k, &err) == CLVAE_OK, "%s", err.msg);
    cl_kernel again;
    CHECK(clvae_kernel_get(ctx, "basic", "fill_f32", &again, &err) == CLVAE_OK && again == k,
          "kernel created twice");
    CHECK(clvae_kernel_get(ctx, "basic", "nosuch_kernel", &again, &err) == CLVAE_ERR_OPENCL,
          "unknown kernel name accepted");
    CHECK(clvae_kernel_get(ctx, "nosuch_file", "x", &again, &err) == CLVAE_ERR_NOT_FOUND,
          "unknown kernel file accepted: %s", err.msg);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
}

static void t_disk_cache_hit_reject_rebuild(void)
{
    char dir[300], entry[600] = "";
    snprintf(dir, sizeof dir, "%s/cache/clvae/kernels", tmpdir);
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    cl_program p;

    /* 1: cold: built from source and written */
    REQUIRE(open_ctx(&ctx, dir, NULL, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_program_get(ctx, "basic", &p, &err) == CLVAE_OK, "%s", err.msg);
    clvae_program_stats_t st = clvae_ctx_program_stats(ctx);
    CHECK(st.built_from_source == 1 && st.disk_writes == 1 && st.disk_hits == 0,
          "cold: built %d written %d hits %d", st.built_from_source, st.disk_writes,
          st.disk_hits);
    clvae_ctx_free(ctx);
    REQUIRE(cache_entry(dir, entry, sizeof entry) == 1, "expected one cache entry in %s", dir);

    /* 2: warm: a hit, nothing built, and the kernels work */
    REQUIRE(open_ctx(&ctx, dir, NULL, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_selftest(ctx, 1000, &err) == CLVAE_OK, "%s", err.msg);
    st = clvae_ctx_program_stats(ctx);
    CHECK(st.disk_hits == 1 && st.built_from_source == 0, "warm: hits %d built %d",
          st.disk_hits, st.built_from_source);
    clvae_ctx_free(ctx);

    /* 3: corruptions of every part: each is rejected, rebuilt and rewritten */
    struct stat sb;
    REQUIRE(stat(entry, &sb) == 0, "stat %s", entry);
    long offsets[] = {0, 20, 44, 60, (long)sb.st_size / 2, (long)sb.st_size - 1};
    for (size_t i = 0; i <= sizeof offsets / sizeof offsets[0]; i++) {
        FILE *f = fopen(entry, "r+b");
        REQUIRE(f, "open %s", entry);
        if (i < sizeof offsets / sizeof offsets[0]) {
            fseek(f, offsets[i], SEEK_SET);
            int ch = fgetc(f);
            fseek(f, offsets[i], SEEK_SET);
            fputc(ch ^ 0x5a, f);
            fclose(f);
        } else {
            fclose(f);
            CHECK(truncate(entry, sb.st_size / 3) == 0, "truncate");
        }
        REQUIRE(open_ctx(&ctx, dir, NULL, &err) == CLVAE_OK, "%s", err.msg);
        CHECK(clvae_selftest(ctx, 1000, &err) == CLVAE_OK, "case %zu: %s", i, err.msg);
        st = clvae_ctx_program_stats(ctx);
        CHECK(st.disk_rejected == 1 && st.built_from_source == 1 && st.disk_writes == 1,
              "corruption %zu: rejected %d built %d written %d", i, st.disk_rejected,
              st.built_from_source, st.disk_writes);
        clvae_ctx_free(ctx);
    }

    /* 4: after the last rewrite, a hit again */
    REQUIRE(open_ctx(&ctx, dir, NULL, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_program_get(ctx, "basic", &p, &err) == CLVAE_OK, "%s", err.msg);
    st = clvae_ctx_program_stats(ctx);
    CHECK(st.disk_hits == 1 && st.disk_rejected == 0, "rewritten entry: hits %d rejected %d",
          st.disk_hits, st.disk_rejected);
    clvae_ctx_free(ctx);
}

static void t_cache_off_by_env(void)
{
    /* Saved and put back: pocl keeps its own cache under these too. */
    char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    char *xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    setenv("CLVAE_KERNEL_CACHE", "0", 1);
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    CHECK(o.cache_dir[0] == 0, "CLVAE_KERNEL_CACHE=0 left cache dir '%s'", o.cache_dir);
    unsetenv("CLVAE_KERNEL_CACHE");
    setenv("XDG_CACHE_HOME", "/some/where", 1);
    clvae_ctx_opts_from_env(&o);
    CHECK(strcmp(o.cache_dir, "/some/where/clvae/kernels") == 0, "cache dir '%s'", o.cache_dir);
    setenv("CLVAE_KERNEL_CACHE", "/my/cache", 1);
    clvae_ctx_opts_from_env(&o);
    CHECK(strcmp(o.cache_dir, "/my/cache") == 0, "CLVAE_KERNEL_CACHE folder gave '%s'",
          o.cache_dir);
    unsetenv("CLVAE_KERNEL_CACHE");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    clvae_ctx_opts_from_env(&o);
    CHECK(strcmp(o.cache_dir, "/home/u/.cache/clvae/kernels") == 0, "cache dir '%s'",
          o.cache_dir);
    if (home) setenv("HOME", home, 1);
    if (xdg) setenv("XDG_CACHE_HOME", xdg, 1);
    free(home);
    free(xdg);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void t_build_failure_gives_log(void)
{
    char kdir[300], path[400];
    snprintf(kdir, sizeof kdir, "%s/kernels", tmpdir);
    mkdir(kdir, 0755);
    snprintf(path, sizeof path, "%s/common.cl", kdir);
    write_text(path, "/* empty common */\n");
    snprintf(path, sizeof path, "%s/basic.cl", kdir);
    write_text(path, "__kernel void fill_f32(__global float *x)\n{\n    x[0] = undeclared_thing;\n}\n");
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    REQUIRE(open_ctx(&ctx, NULL, kdir, &err) == CLVAE_OK, "%s", err.msg);
    cl_program p;
    clvae_status_t s = clvae_program_get(ctx, "basic", &p, &err);
    CHECK(s == CLVAE_ERR_BUILD, "status %s", clvae_status_name(s));
    CHECK(strstr(err.msg, "cl/basic.cl") && strstr(err.msg, "CL_BUILD_PROGRAM_FAILURE"),
          "message '%s'", err.msg);
    CHECK(err.detail && strstr(err.detail, "undeclared_thing") && strstr(err.detail, "basic.cl:3"),
          "log: %s", err.detail ? err.detail : "(none)");
    clvae_error_clear(&err);
    /* a file missing from the kernel folder is NOT_FOUND, naming the path */
    s = clvae_program_get(ctx, "other", &p, &err);
    CHECK(s == CLVAE_ERR_NOT_FOUND && strstr(err.msg, "other.cl"), "%s", err.msg);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clvae-test-program-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(t_fill_add_sizes_and_offsets);
    RUN(t_launch_respects_kernel_limit);
    RUN(t_disk_cache_hit_reject_rebuild);
    RUN(t_cache_off_by_env);
    RUN(t_build_failure_gives_log);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_EXIT();
}
