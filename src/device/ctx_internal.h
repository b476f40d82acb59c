/* The context's layout, shared by the library's own files (not public). */
#ifndef CLVAE_CTX_INTERNAL_H
#define CLVAE_CTX_INTERNAL_H

#include "clvae/device/device.h"

/* A program built for the context's device, by cl/ file name and extra build options. */
typedef struct clvae_program_entry {
    char name[64];
    char defs[CLVAE_KERNEL_DEFS_MAX]; /* extra -D options ("" for none) */
    cl_program program;
} clvae_program_entry_t;

/* A kernel created from a built program. */
typedef struct clvae_kernel_entry {
    char file[64];
    char name[64];
    char defs[CLVAE_KERNEL_DEFS_MAX]; /* the program's extra -D options */
    cl_kernel kernel;
    size_t wg; /* CL_KERNEL_WORK_GROUP_SIZE capped at the context's WGS */
} clvae_kernel_entry_t;

/* Workspace slots a context holds (CLVAE_WORKSPACES in clvae/device/tensor.h, which checks
 * that the two agree: the context owns the buffers, tensor.c hands them out). */
#define CLVAE_CTX_WORKSPACES 5

struct clvae_ctx {
    clvae_device_info_t dev;      /* the selected device */
    cl_context context;
    cl_command_queue queue;
    clvae_ctx_opts_t opts;        /* as given; string pointers are copied below */
    char *kernel_dir;             /* owned copy of opts.kernel_dir, or NULL */
    size_t wgs;                   /* work-group size the kernels are built for */
    int kernel_copies;            /* partial uploads and buffer copies go through copy_f32 (the
                                     Oclgrind quirk in tensor.c); env CLVAE_KERNEL_COPIES */
    clvae_program_entry_t *programs;
    int nprograms;
    clvae_kernel_entry_t *kernels;
    int nkernels;
    clvae_program_stats_t stats;
    clvae_counters_t counters;    /* launches, transfers, waits (clvae_ctx_counters) */
    cl_mem ws[CLVAE_CTX_WORKSPACES];       /* workspaces (clvae_workspace, tensor.c) */
    size_t ws_size[CLVAE_CTX_WORKSPACES];  /* their sizes in floats */
    int gemm_tuned;               /* GEMM parameters for this device were chosen */
    unsigned gemm_generation;     /* ... for this generation of the tuning table */
    unsigned gemm_overridden;     /* bit f: CLBlast kernel f (clvae_clblast_kernels) was given
                                     parameters other than its defaults by this context, which
                                     CLBlast keeps for the process (blas.c:gemm_tune) */
    struct clvae_kprof *kprof;    /* per-kernel events while recording (kprof.c), else NULL */
    struct clvae_tuning *tuning;  /* tuned parameters (tuning.c), NULL until first used */
    void (*tuning_free)(struct clvae_tuning *t); /* frees it; set by tuning.c with the table */
};

/* While recording (clvae_ctx_kernel_profile), the event pointer a launch of kernel k passes to
 * clEnqueueNDRangeKernel, else NULL; after the enqueue, clvae_kprof_done keeps the event (or
 * drops it when the enqueue failed). k NULL: a CLBlast call, timed from a marker enqueued here
 * to the end of its last kernel's event. */
cl_event *clvae_kprof_event(clvae_ctx_t *ctx, cl_kernel k);
void clvae_kprof_done(clvae_ctx_t *ctx, cl_int rc);
void clvae_kprof_free(clvae_ctx_t *ctx);

/* Passes a formatted message to the context's log callback at level. */
void clvae_ctx_log(const clvae_ctx_t *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
