/* OpenCL devices: listing, selection by spec, the context object, run-time kernels. */
#ifndef CLVAE_DEVICE_H
#define CLVAE_DEVICE_H

#include <stdint.h>

#include <CL/cl.h>

#include "clvae/io/error.h"

/* One OpenCL device as `clvae devices` shows it. */
typedef struct clvae_device_info {
    int index;                  /* flat index over all platforms */
    int platform;               /* platform number */
    int device;                 /* device number within its platform */
    char platform_name[128];    /* CL_PLATFORM_NAME */
    char platform_version[128]; /* CL_PLATFORM_VERSION */
    char name[256];             /* CL_DEVICE_NAME */
    char vendor[128];           /* CL_DEVICE_VENDOR */
    char driver_version[128];   /* CL_DRIVER_VERSION */
    char c_version[64];         /* CL_DEVICE_OPENCL_C_VERSION */
    cl_device_type type;        /* CL_DEVICE_TYPE bits */
    unsigned compute_units;     /* CL_DEVICE_MAX_COMPUTE_UNITS */
    unsigned clock_mhz;         /* CL_DEVICE_MAX_CLOCK_FREQUENCY */
    uint64_t global_mem;        /* bytes */
    uint64_t max_alloc;         /* bytes, CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    uint64_t local_mem;         /* bytes */
    size_t max_wg;              /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    int fp16;                   /* cl_khr_fp16 supported */
    int fp64;                   /* cl_khr_fp64 supported */
    cl_platform_id platform_id;
    cl_device_id device_id;
} clvae_device_info_t;

/* Lists every device of every platform into a new array (free() it); zero
 * devices is not an error, but no OpenCL platform at all is. */
clvae_status_t clvae_device_list(clvae_device_info_t **out, int *n, clvae_error_t *err);

/* Picks a device by SPEC: flat index, "P:D", "gpu"/"cpu"/"accelerator", or a
 * case-insensitive substring of the name; NULL or "" picks, among the GPUs (else among
 * the devices of the first device's type), the one with the most compute units (the first
 * of those on a tie). CLVAE_ERR_NOT_FOUND (with the devices listed in the
 * detail) when nothing matches. */
clvae_status_t clvae_device_select(const clvae_device_info_t *devs, int n, const char *spec,
                                   int *index, clvae_error_t *err);

/* The device of the k-th process of a machine (data-parallel training, k its local rank): a
 * SPEC of commas ("0,2") names one device per process, k taking item k mod their count; else
 * the k-th (mod their count) of the devices SPEC matches in list order: every device of a
 * type ("gpu") or whose name holds a word, the one of an index or P:D, or with NULL or "" the
 * GPUs (else the devices of the first device's type). *shared: how many ranks of `ranks` land
 * on the same device as k (1: its own). CLVAE_ERR_NOT_FOUND as clvae_device_select. */
clvae_status_t clvae_device_select_rank(const clvae_device_info_t *devs, int n, const char *spec,
                                        int k, int ranks, int *index, int *shared,
                                        clvae_error_t *err);

/* "gpu", "cpu", "accelerator", "default" or "other". */
const char *clvae_device_type_name(cl_device_type t);

/* Writes the device table (as `clvae devices` prints it) into buf. */
void clvae_device_format_table(const clvae_device_info_t *devs, int n, char *buf, size_t size);

/* Log levels of the context's log callback. */
enum { CLVAE_LOG_WARN = 0, CLVAE_LOG_INFO = 1, CLVAE_LOG_DEBUG = 2 };

/* How to open a context; clvae_ctx_opts_from_env() fills the defaults. */
typedef struct clvae_ctx_opts {
    const char *device_spec; /* see clvae_device_select; env CLVAE_DEVICE */
    int profiling;           /* create the queue with profiling enabled */
    const char *kernel_dir;  /* read cl/ sources from here, not the embedded copy; env CLVAE_KERNEL_DIR */
    char cache_dir[1024];    /* kernel binary cache folder, "" = none; env CLVAE_KERNEL_CACHE (0 off, or a folder), XDG_CACHE_HOME, HOME */
    int fast_math;           /* build with -cl-fast-relaxed-math (off: strict maths); env CLVAE_FAST_MATH */
    int werror;              /* build with -Werror: a kernel warning fails the build (the tests
                                set it); env CLVAE_CL_WERROR */
    const char *max_alloc;   /* bytes (suffix K, M or G: binary), lowers the device's maximum
                                allocation to imitate a small device; NULL: the device's own;
                                env CLVAE_MAX_ALLOC */
    void (*log)(void *user, int level, const char *msg); /* NULL: silent */
    void *log_user;          /* passed to log */
    int log_level;           /* highest level passed to log */
} clvae_ctx_opts_t;

/* Fills o with defaults and the CLVAE_* environment variables (the string
 * pointers point into the environment). */
void clvae_ctx_opts_from_env(clvae_ctx_opts_t *o);

/* Opaque context: device, OpenCL context and queue, limits, kernel caches. */
typedef struct clvae_ctx clvae_ctx_t;

/* Counters of the kernel program cache, for tests and `-v` output. */
typedef struct clvae_program_stats {
    int built_from_source; /* programs compiled from source */
    int disk_hits;         /* programs loaded from the on-disk binary cache */
    int disk_rejected;     /* cache entries found unusable and rebuilt */
    int disk_writes;       /* cache entries written */
    double build_seconds;  /* wall time spent getting programs: builds and cache loads */
} clvae_program_stats_t;

/* Opens a context on the device chosen by o (NULL: from the environment). A max_alloc that is
 * not a byte count is CLVAE_ERR_INVALID naming CLVAE_MAX_ALLOC. */
clvae_status_t clvae_ctx_init(clvae_ctx_t **out, const clvae_ctx_opts_t *o, clvae_error_t *err);

/* Releases everything the context holds; NULL is fine. */
void clvae_ctx_free(clvae_ctx_t *ctx);

/* The selected device's description. */
const clvae_device_info_t *clvae_ctx_device(const clvae_ctx_t *ctx);

/* The OpenCL context, queue and device of the context. */
cl_context clvae_ctx_cl_context(const clvae_ctx_t *ctx);
cl_command_queue clvae_ctx_queue(const clvae_ctx_t *ctx);
cl_device_id clvae_ctx_device_id(const clvae_ctx_t *ctx);

/* The program cache counters so far. */
clvae_program_stats_t clvae_ctx_program_stats(const clvae_ctx_t *ctx);

/* The work-group size that kernels are built for (CLVAE_WGS). */
size_t clvae_ctx_wgs(const clvae_ctx_t *ctx);

/* The program built from cl/NAME.cl for this device (built once per context,
 * through the disk cache). A build failure is CLVAE_ERR_BUILD with the log in
 * err->detail. */
clvae_status_t clvae_program_get(clvae_ctx_t *ctx, const char *name, cl_program *out,
                                 clvae_error_t *err);

/* Builds every kernel file of this build (cl/common.cl aside) for the device with its default
 * defines and creates each kernel in it: for a new driver, a warning turned into an error
 * (werror), or an Oclgrind run. Counts go to *nprograms and *nkernels (either may be NULL); the
 * first failure is returned (CLVAE_ERR_BUILD with the log in err->detail). */
clvae_status_t clvae_program_build_all(clvae_ctx_t *ctx, int *nprograms, int *nkernels,
                                       clvae_error_t *err);

/* Kernel KERNEL of program cl/FILE.cl, created once per context. */
clvae_status_t clvae_kernel_get(clvae_ctx_t *ctx, const char *file, const char *kernel,
                                cl_kernel *out, clvae_error_t *err);

/* The longest string of extra build options clvae_kernel_get_defs takes, with its NUL. */
#define CLVAE_KERNEL_DEFS_MAX 256

/* Kernel KERNEL of cl/FILE.cl built with the extra options defs (e.g. "-DTILE=4 -DWG=64":
 * tile sizes chosen per device); one program per (file, defs), created once per context. */
clvae_status_t clvae_kernel_get_defs(clvae_ctx_t *ctx, const char *file, const char *defs,
                                     const char *kernel, cl_kernel *out, clvae_error_t *err);

/* Enqueues k over n work items in 1-D: the local size respects the kernel's
 * CL_KERNEL_WORK_GROUP_SIZE, the global size is rounded up to a multiple of
 * it, so the kernel must check its index against n. */
clvae_status_t clvae_launch_1d(clvae_ctx_t *ctx, cl_kernel k, size_t n, clvae_error_t *err);

/* The values one work item of a row kernel takes (CLVAE_ROW_CHUNK in the kernels too). */
#define CLVAE_ROW_CHUNK 16

/* Enqueues a row kernel (cl/common.cl ROW_SPAN) over a [rows, len] tensor (rows = N*C, len =
 * H*W, say): one work item per CLVAE_ROW_CHUNK consecutive values of a row, 1-D, so that what
 * depends only on the row (its channel, its statistics) is worked out once per chunk rather
 * than once per value. Refuses rows * len (rounded up to chunks) of 2^32 or more. */
clvae_status_t clvae_launch_rows(clvae_ctx_t *ctx, cl_kernel k, size_t len, size_t rows,
                                 clvae_error_t *err);

/* Enqueues `groups` work groups of k, each of clvae_kernel_wg(k) items. */
clvae_status_t clvae_launch_groups(clvae_ctx_t *ctx, cl_kernel k, size_t groups,
                                   clvae_error_t *err);

/* The local size k is launched with: a power of two, at most the kernel's
 * CL_KERNEL_WORK_GROUP_SIZE and the context's WGS; 0 for an unknown kernel. */
size_t clvae_kernel_wg(const clvae_ctx_t *ctx, cl_kernel k);

/* Enqueues `groups` work groups of `local` items each (a size the caller chose, e.g. a tuned
 * one, rather than clvae_kernel_wg(k)). */
clvae_status_t clvae_launch_wg(clvae_ctx_t *ctx, cl_kernel k, size_t groups, size_t local,
                               clvae_error_t *err);

/* Waits for the queue to drain (a host wait). */
clvae_status_t clvae_ctx_finish(clvae_ctx_t *ctx, clvae_error_t *err);

/* Waits for n events (clWaitForEvents; one host wait); n 0 returns at once. */
clvae_status_t clvae_ctx_wait_events(clvae_ctx_t *ctx, cl_uint n, const cl_event *events,
                                     clvae_error_t *err);

/* What the context asked of its device since it was opened or its counters last reset, counted
 * where clvae enqueues work (`clvae bench --profile` prints them per step). */
typedef struct clvae_counters {
    uint64_t launches;       /* clvae's own kernel launches (clEnqueueNDRangeKernel) */
    uint64_t gemm_calls;     /* clvae_gemm calls; CLBlast launches kernels of its own for each
                                (a padding copy or two, the GEMM), which launches leaves out */
    uint64_t uploads;        /* host-to-device transfers: writes, buffers made from host data */
    uint64_t upload_bytes;   /* ... their bytes */
    uint64_t downloads;      /* device-to-host transfers (reads, blocking or not) */
    uint64_t download_bytes; /* ... their bytes */
    uint64_t copies;         /* device-to-device buffer copies (clvae_buf_copy) */
    uint64_t copy_bytes;     /* ... their bytes */
    uint64_t waits;          /* host waits for the device: blocking reads and writes (on an
                                in-order queue they wait for the work before them), clFinish,
                                clWaitForEvents */
} clvae_counters_t;

/* The context's counters now, into *out. */
void clvae_ctx_counters(const clvae_ctx_t *ctx, clvae_counters_t *out);

/* Sets the context's counters to 0. */
void clvae_ctx_counters_reset(clvae_ctx_t *ctx);

/* Device time by kernel (`clvae bench --profile`). While on, each kernel launch clvae makes
 * (clvae_launch_1d, clvae_launch_wg) and each GEMM call that CLBlast runs records an event;
 * clvae_ctx_kernel_times adds their times up by kernel name. Needs a context opened with
 * `profiling`; with it off (the default) launches record nothing. */
typedef struct clvae_kernel_time {
    char name[64];     /* the kernel's function name; "CLBlast gemm" for a CLBlast call (its
                          kernels, padding copies included, from before the first to the end
                          of the last) */
    uint64_t launches; /* launches (CLBlast: calls) */
    double ns;         /* device time summed, start to end of each */
} clvae_kernel_time_t;

/* Starts (on 1) or stops (0) recording; stopping forgets what was recorded and not read.
 * CLVAE_ERR_INVALID when on and the context's queue has no profiling. */
clvae_status_t clvae_ctx_kernel_profile(clvae_ctx_t *ctx, int on, clvae_error_t *err);

/* Waits for the queue (one host wait), adds the times of the launches recorded since the last
 * call into (*times)[0 .. *n) by name (a name not there yet is appended: *times grows with
 * realloc; the caller frees it), and forgets them. */
clvae_status_t clvae_ctx_kernel_times(clvae_ctx_t *ctx, clvae_kernel_time_t **times, int *n,
                                      clvae_error_t *err);

/* Records an OpenCL failure: "CALL: CL_NAME (code)"; CLVAE_ERR_DEVICE_MEMORY for
 * CL_MEM_OBJECT_ALLOCATION_FAILURE, else CLVAE_ERR_OPENCL. */
clvae_status_t clvae_error_cl(clvae_error_t *e, cl_int code, const char *call, const char *file,
                              int line);

/* Returns from the current function with an error when an OpenCL call fails. */
#define CLVAE_CL_RET(err, call)                                                   \
    do {                                                                          \
        cl_int clvae_rc_ = (call);                                                \
        if (clvae_rc_ != CL_SUCCESS)                                              \
            return clvae_error_cl((err), clvae_rc_, #call, __FILE__, __LINE__);   \
    } while (0)

/* Records an error and jumps to label when an OpenCL call fails. */
#define CLVAE_CL_GOTO(err, call, label)                                           \
    do {                                                                          \
        cl_int clvae_rc_ = (call);                                                \
        if (clvae_rc_ != CL_SUCCESS) {                                            \
            clvae_error_cl((err), clvae_rc_, #call, __FILE__, __LINE__);          \
            goto label;                                                           \
        }                                                                         \
    } while (0)

#endif
