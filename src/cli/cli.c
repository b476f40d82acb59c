/* Helpers for the commands: error reporting, context opening, small parsers. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_report(const clvae_error_t *err)
{
    fprintf(stderr, "clvae: error: %s\n", err->msg[0] ? err->msg : clvae_status_name(err->status));
    if (err->detail && *err->detail) {
        fputs(err->detail, stderr);
        size_t n = strlen(err->detail);
        if (err->detail[n - 1] != '\n') fputc('\n', stderr);
    }
    return (err->status == CLVAE_ERR_INVALID || err->status == CLVAE_ERR_NOT_FOUND) ? 2 : 1;
}

int cli_usage_error(const cli_command_t *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("clvae: error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", cmd->usage);
    return 2;
}

static void log_to_stderr(void *user, int level, const char *msg)
{
    (void)user;
    fprintf(stderr, "clvae: %s%s\n", level == CLVAE_LOG_WARN ? "warning: " : "", msg);
}

clvae_status_t cli_ctx_open(const cli_common_t *common, int profiling, clvae_ctx_t **ctx,
                            clvae_error_t *err)
{
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    if (common->device) o.device_spec = common->device;
    o.profiling = profiling;
    o.log = log_to_stderr;
    o.log_level = common->verbose >= 2 ? CLVAE_LOG_DEBUG
                  : common->verbose   ? CLVAE_LOG_INFO
                                      : CLVAE_LOG_WARN;
    return clvae_ctx_init(ctx, &o, err);
}

int cli_parse_size(const char *s, size_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+') return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > (unsigned long long)SIZE_MAX) return -1;
    *out = (size_t)v;
    return 0;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}
