/* Device listing and selection: every platform's devices, picked by a spec. */
#include "clvae/device/device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

clvae_status_t clvae_error_cl(clvae_error_t *e, cl_int code, const char *call, const char *file,
                              int line)
{
    /* Show only the function's name, not its whole argument list. */
    int len = (int)strcspn(call, "(");
    clvae_status_t s = code == CL_MEM_OBJECT_ALLOCATION_FAILURE ? CLVAE_ERR_DEVICE_MEMORY
                                                                : CLVAE_ERR_OPENCL;
    return clvae_error_set(e, s, file, line, "%.*s failed: %s (%d)", len, call,
                           clvae_cl_error_name(code), (int)code);
}

const char *clvae_device_type_name(cl_device_type t)
{
    if (t & CL_DEVICE_TYPE_GPU) return "gpu";
    if (t & CL_DEVICE_TYPE_CPU) return "cpu";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    if (t & CL_DEVICE_TYPE_DEFAULT) return "default";
    return "other";
}

/* Reads a string device property, trimmed of trailing blanks. */
static clvae_status_t dev_str(cl_device_id d, cl_device_info what, char *buf, size_t size,
                              clvae_error_t *err)
{
    size_t got = 0;
    buf[0] = 0;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, what, size - 1, buf, &got));
    buf[size - 1] = 0;
    size_t n = strlen(buf);
    while (n > 0 && isspace((unsigned char)buf[n - 1])) buf[--n] = 0;
    return CLVAE_OK;
}

static clvae_status_t describe(clvae_device_info_t *di, clvae_error_t *err)
{
    cl_device_id d = di->device_id;
    cl_uint u;
    cl_ulong ul;
    clvae_status_t s;
    CLVAE_CL_RET(err, clGetPlatformInfo(di->platform_id, CL_PLATFORM_NAME,
                                        sizeof di->platform_name - 1, di->platform_name, NULL));
    CLVAE_CL_RET(err, clGetPlatformInfo(di->platform_id, CL_PLATFORM_VERSION,
                                        sizeof di->platform_version - 1, di->platform_version,
                                        NULL));
    if ((s = dev_str(d, CL_DEVICE_NAME, di->name, sizeof di->name, err))) return s;
    if ((s = dev_str(d, CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor, err))) return s;
    if ((s = dev_str(d, CL_DRIVER_VERSION, di->driver_version, sizeof di->driver_version, err)))
        return s;
    if ((s = dev_str(d, CL_DEVICE_OPENCL_C_VERSION, di->c_version, sizeof di->c_version, err)))
        return s;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL));
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL));
    di->compute_units = u;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL));
    di->clock_mhz = u;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL));
    di->global_mem = ul;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL));
    di->max_alloc = ul;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL));
    di->local_mem = ul;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_wg,
                                      &di->max_wg, NULL));
    size_t ext_len = 0;
    CLVAE_CL_RET(err, clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &ext_len));
    char *ext = malloc(ext_len + 1);
    if (!ext) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    cl_int rc = clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, ext_len, ext, NULL);
    if (rc != CL_SUCCESS) {
        free(ext);
        return clvae_error_cl(err, rc, "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", __FILE__,
                              __LINE__);
    }
    ext[ext_len] = 0;
    di->fp16 = strstr(ext, "cl_khr_fp16") != NULL;
    di->fp64 = strstr(ext, "cl_khr_fp64") != NULL;
    free(ext);
    return CLVAE_OK;
}

clvae_status_t clvae_device_list(clvae_device_info_t **out, int *n, clvae_error_t *err)
{
    *out = NULL;
    *n = 0;
    cl_uint np = 0;
    cl_int rc = clGetPlatformIDs(0, NULL, &np);
    if (rc == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (rc == CL_SUCCESS && np == 0))
        return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND,
                          "no OpenCL platform found: install a driver (e.g. pocl-opencl-icd, "
                          "`make deps`) and check /etc/OpenCL/vendors");
    if (rc != CL_SUCCESS) return clvae_error_cl(err, rc, "clGetPlatformIDs", __FILE__, __LINE__);
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_status_t s = CLVAE_OK;
    clvae_device_info_t *devs = NULL;
    int count = 0;
    CLVAE_CL_GOTO(err, clGetPlatformIDs(np, plats, NULL), fail);
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        rc = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (rc == CL_DEVICE_NOT_FOUND || nd == 0) continue; /* a platform with no devices */
        CLVAE_CL_GOTO(err, rc, fail);
        cl_device_id *ids = calloc(nd, sizeof *ids);
        clvae_device_info_t *grown = realloc(devs, (size_t)(count + (int)nd) * sizeof *devs);
        if (!ids || !grown) {
            free(ids);
            if (grown) devs = grown;
            CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
            goto fail;
        }
        devs = grown;
        rc = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL);
        if (rc != CL_SUCCESS) {
            free(ids);
            clvae_error_cl(err, rc, "clGetDeviceIDs", __FILE__, __LINE__);
            goto fail;
        }
        for (cl_uint d = 0; d < nd; d++) {
            clvae_device_info_t *di = &devs[count];
            memset(di, 0, sizeof *di);
            di->index = count;
            di->platform = (int)p;
            di->device = (int)d;
            di->platform_id = plats[p];
            di->device_id = ids[d];
            if (describe(di, err) != CLVAE_OK) {
                free(ids);
                goto fail;
            }
            count++;
        }
        free(ids);
    }
    free(plats);
    *out = devs;
    *n = count;
    return CLVAE_OK;
fail:
    s = err ? err->status : CLVAE_ERR_OPENCL;
    free(plats);
    free(devs);
    return s == CLVAE_OK ? CLVAE_ERR_OPENCL : s;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return 0;
    return 1;
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t nl = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < nl && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nl) return 1;
    }
    return nl == 0;
}

static int type_of_word(const char *spec, cl_device_type *t)
{
    static const struct { const char *word; cl_device_type type; } words[] = {
        {"gpu", CL_DEVICE_TYPE_GPU},
        {"cpu", CL_DEVICE_TYPE_CPU},
        {"accelerator", CL_DEVICE_TYPE_ACCELERATOR},
    };
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strlen(spec) != strlen(words[i].word)) continue;
        if (contains_nocase(spec, words[i].word)) {
            *t = words[i].type;
            return 1;
        }
    }
    return 0;
}

void clvae_device_format_table(const clvae_device_info_t *devs, int n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = 0;
#define OUT(...)                                                                    \
    do {                                                                            \
        int w_ = snprintf(buf + used, used < size ? size - used : 0, __VA_ARGS__);  \
        if (w_ > 0) used += (size_t)w_;                                             \
    } while (0)
    OUT("%-3s %-5s %-11s %-5s %-6s %-9s %-9s %-8s %-6s %-10s %-5s %-5s %s / %s\n", "#",
        "P:D", "type", "CUs", "MHz", "global", "max-alloc", "local", "max-wg", "OpenCL-C",
        "fp16", "fp64", "platform", "device");
    for (int i = 0; i < n; i++) {
        const clvae_device_info_t *d = &devs[i];
        const char *cv = strncmp(d->c_version, "OpenCL C ", 9) == 0 ? d->c_version + 9
                                                                    : d->c_version;
        char pd[24], cvs[16];
        snprintf(pd, sizeof pd, "%d:%d", d->platform, d->device);
        snprintf(cvs, sizeof cvs, "%.10s", cv);
        OUT("%-3d %-5s %-11s %-5u %-6u %-9.1f %-9.1f %-8.0f %-6zu %-10s %-5s %-5s %s / %s\n",
            d->index, pd, clvae_device_type_name(d->type), d->compute_units, d->clock_mhz,
            (double)d->global_mem / 1073741824.0, (double)d->max_alloc / 1073741824.0,
            (double)d->local_mem / 1024.0, d->max_wg, cvs, d->fp16 ? "yes" : "no",
            d->fp64 ? "yes" : "no", d->platform_name, d->name);
    }
    if (n == 0) OUT("(no OpenCL devices)\n");
    OUT("memory columns: global and max-alloc in GiB, local in KiB\n");
#undef OUT
}

/* Whether device i is one of those a type word, a name word or the default (spec NULL)
 * matches; want: the default's type. */
static int matches(const clvae_device_info_t *devs, int i, const char *spec, cl_device_type want)
{
    cl_device_type t;
    if (!spec || !*spec) return (devs[i].type & want) != 0;
    if (type_of_word(spec, &t)) return (devs[i].type & t) != 0;
    return contains_nocase(devs[i].name, spec);
}

clvae_status_t clvae_device_select_rank(const clvae_device_info_t *devs, int n, const char *spec,
                                        int k, int ranks, int *index, int *shared,
                                        clvae_error_t *err)
{
    *shared = 1;
    if (spec && strchr(spec, ',')) { /* one item per process */
        int items = 1;
        for (const char *p = spec; *p; p++) items += *p == ',';
        const char *p = spec;
        for (int j = 0; j < k % items; j++) p = strchr(p, ',') + 1;
        char item[64];
        size_t len = strcspn(p, ",");
        snprintf(item, sizeof item, "%.*s", (int)(len < 63 ? len : 63), p);
        *shared = ranks / items + (ranks % items > k % items);
        if (!*item)
            return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "--device %s: item %d is empty", spec,
                              k % items + 1);
        return clvae_device_select(devs, n, item, index, err);
    }
    clvae_status_t s = clvae_device_select(devs, n, spec, index, err);
    if (s) return s;
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (spec && *spec && (all_digits(spec, strlen(spec)) || colon)) { /* one device named */
        *shared = ranks;
        return CLVAE_OK;
    }
    cl_device_type want = devs[0].type;
    for (int i = 0; i < n; i++)
        if (devs[i].type & CL_DEVICE_TYPE_GPU) want = CL_DEVICE_TYPE_GPU;
    int count = 0;
    for (int i = 0; i < n; i++) count += matches(devs, i, spec, want);
    if (count == 0) return CLVAE_OK; /* (clvae_device_select found one) */
    for (int i = 0, seen = 0; i < n; i++)
        if (matches(devs, i, spec, want) && seen++ == k % count) *index = i;
    *shared = ranks / count + (ranks % count > k % count);
    return CLVAE_OK;
}

clvae_status_t clvae_device_select(const clvae_device_info_t *devs, int n, const char *spec,
                                   int *index, clvae_error_t *err)
{
    *index = -1;
    if (n <= 0) return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "no OpenCL devices found");
    if (!spec || !*spec) {
        /* the GPUs, else the devices of the first device's type: the one with the most compute
         * units, the first of them on a tie (pocl's 1-core "basic" beside "pthread") */
        cl_device_type want = devs[0].type;
        for (int i = 0; i < n; i++)
            if (devs[i].type & CL_DEVICE_TYPE_GPU) {
                want = CL_DEVICE_TYPE_GPU;
                break;
            }
        for (int i = 0; i < n; i++)
            if ((devs[i].type & want) &&
                (*index < 0 || devs[i].compute_units > devs[*index].compute_units))
                *index = i;
        if (*index < 0) *index = 0;
        return CLVAE_OK;
    }
    if (strchr(spec, ','))
        return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "--device %s is a list, one device per rank "
                          "of a run under mpirun; one process takes one device (an index, P:D, "
                          "gpu, cpu, accelerator, or part of a name)", spec);
    size_t len = strlen(spec);
    const char *colon = strchr(spec, ':');
    cl_device_type t;
    if (all_digits(spec, len)) {
        long v = strtol(spec, NULL, 10);
        if (len < 9 && v < n) *index = (int)v;
    } else if (colon && all_digits(spec, (size_t)(colon - spec)) &&
               all_digits(colon + 1, strlen(colon + 1)) && colon - spec < 9 &&
               strlen(colon + 1) < 9) {
        int p = atoi(spec), d = atoi(colon + 1);
        for (int i = 0; i < n; i++)
            if (devs[i].platform == p && devs[i].device == d) *index = i;
    } else if (type_of_word(spec, &t)) {
        for (int i = 0; i < n && *index < 0; i++)
            if (devs[i].type & t) *index = i;
    } else {
        for (int i = 0; i < n && *index < 0; i++)
            if (contains_nocase(devs[i].name, spec)) *index = i;
    }
    if (*index >= 0) return CLVAE_OK;

    CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND,
               "no OpenCL device matches '%s' (a spec is an index, P:D, gpu, cpu, "
               "accelerator, or part of a device name)",
               spec);
    size_t size = 512 + (size_t)n * 512;
    char *table = malloc(size);
    if (table) {
        clvae_device_format_table(devs, n, table, size);
        clvae_error_detail(err, table, strlen(table));
        free(table);
    }
    return CLVAE_ERR_NOT_FOUND;
}
