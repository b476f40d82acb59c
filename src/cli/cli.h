/* Shared pieces of the clvae command line: options, error reporting, commands. */
#ifndef CLVAE_CLI_H
#define CLVAE_CLI_H

#include <stdio.h>

#include "clvae/device.h"

/* Options every command takes, parsed before the command's own. */
typedef struct cli_common {
    const char *device;  /* --device SPEC, else CLVAE_DEVICE */
    int verbose;         /* -v count */
} cli_common_t;

/* A subcommand: name, one-line summary, usage text, handler. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(const cli_common_t *common, int argc, char **argv);
} cli_command_t;

/* Prints err as "clvae: error: ..." with its detail and returns the exit code
 * for its status: 2 for bad input or no match, 1 for runtime failures. */
int cli_report(const clvae_error_t *err);

/* Prints a usage error for cmd and returns 2. */
int cli_usage_error(const cli_command_t *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Opens a context with the environment's defaults and the common options. */
clvae_status_t cli_ctx_open(const cli_common_t *common, int profiling, clvae_ctx_t **ctx,
                            clvae_error_t *err);

/* Parses a whole non-negative number into *out; returns 0 on success. */
int cli_parse_size(const char *s, size_t *out);

/* Writes s as a JSON string literal, quotes included. */
void cli_json_string(FILE *f, const char *s);

/* The commands. */
extern const cli_command_t cli_cmd_devices;
extern const cli_command_t cli_cmd_selftest;

#endif
