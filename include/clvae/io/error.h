/* Status codes and the error record that every fallible clvae function fills. */
#ifndef CLVAE_ERROR_H
#define CLVAE_ERROR_H

#include <stddef.h>

/* What went wrong, in classes the CLI maps to exit codes. */
typedef enum clvae_status {
    CLVAE_OK = 0,
    CLVAE_ERR_INVALID,   /* bad input from the user: argument, spec, file content */
    CLVAE_ERR_NOT_FOUND, /* a named thing (device, file, kernel) does not exist */
    CLVAE_ERR_OPENCL,    /* an OpenCL call failed */
    CLVAE_ERR_BUILD,     /* a kernel failed to build; the log is attached */
    CLVAE_ERR_IO,        /* reading or writing a file failed */
    CLVAE_ERR_NOMEM,     /* host memory ran out */
    CLVAE_ERR_CORRUPT,   /* stored data failed a check */
    CLVAE_ERR_DEVICE_MEMORY /* the device lacks the memory (or the maximum allocation) asked for */
} clvae_status_t;

/* An error: status, one-line message with its origin, optional long detail. */
typedef struct clvae_error {
    clvae_status_t status; /* CLVAE_OK when nothing failed */
    char msg[1024];        /* "what failed: why (file:line)" */
    char *detail;          /* heap text, e.g. a kernel build log, or NULL */
} clvae_error_t;

/* Records an error in e (which may be NULL) and returns s. */
clvae_status_t clvae_error_set(clvae_error_t *e, clvae_status_t s, const char *file, int line,
                               const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Attaches a copy of text (n bytes) as the error's detail; returns e's status. */
clvae_status_t clvae_error_detail(clvae_error_t *e, const char *text, size_t n);

/* Forgets the error's detail and resets it to CLVAE_OK. */
void clvae_error_clear(clvae_error_t *e);

/* The status' name, e.g. "CLVAE_ERR_INVALID". */
const char *clvae_status_name(clvae_status_t s);

/* The OpenCL error code's name, e.g. "CL_OUT_OF_RESOURCES" for -5. */
const char *clvae_cl_error_name(int code);

/* Records an error at the caller's file and line. */
#define CLVAE_FAIL(e, s, ...) clvae_error_set((e), (s), __FILE__, __LINE__, __VA_ARGS__)

#endif
