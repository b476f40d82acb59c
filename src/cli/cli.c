/* Helpers for the commands: error reporting, context opening, small parsers. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

/* Copies msg into buf without the source locations " (src/x.c:N)" that the library appends
 * (they are for -v). */
static void strip_locations(const char *msg, char *buf, size_t size)
{
    size_t o = 0;
    for (const char *p = msg; *p && o + 1 < size;) {
        if (p[0] == ' ' && p[1] == '(') {
            const char *q = p + 2;
            while (*q && *q != ')' && *q != ' ' && *q != ':') q++;
            int ok = *q == ':' && q - (p + 2) > 2 && strncmp(q - 2, ".c", 2) == 0;
            const char *d = q + 1;
            while (ok && *d >= '0' && *d <= '9') d++;
            if (ok && d > q + 1 && *d == ')') {
                p = d + 1;
                continue;
            }
        }
        buf[o++] = *p++;
    }
    buf[o] = 0;
}

int cli_report(const cli_common_t *common, const clvae_error_t *err)
{
    char msg[sizeof err->msg];
    if (common && common->verbose) snprintf(msg, sizeof msg, "%s", err->msg);
    else strip_locations(err->msg, msg, sizeof msg);
    fprintf(stderr, "clvae: error: %s\n", msg[0] ? msg : clvae_status_name(err->status));
    if (err->detail && *err->detail) {
        fputs(err->detail, stderr);
        size_t n = strlen(err->detail);
        if (err->detail[n - 1] != '\n') fputc('\n', stderr);
    }
    return (err->status == CLVAE_ERR_INVALID || err->status == CLVAE_ERR_NOT_FOUND) ? 2 : 1;
}

/* Edit distance of a and b (insert, delete, replace, swap of neighbours), capped at 9. */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 40 || m > 40) return 9;
    int d[41][41];
    for (size_t i = 0; i <= n; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[n][m] < 9 ? d[n][m] : 9;
}

const char *cli_nearest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    int bd = 3;
    size_t len = strlen(s);
    for (size_t i = 0; i < n; i++) {
        int d = distance(s, names[i]);
        /* a prefix of 3 or more letters counts as near (--epoch for --epochs) */
        if (len >= 3 && strncmp(s, names[i], len) == 0 && d > 1) d = 2;
        if (d < bd && (d <= 1 || len > 3)) {
            bd = d;
            best = names[i];
        }
    }
    return best;
}

int cli_unknown_arg(const cli_command_t *cmd, const char *arg)
{
    if (arg[0] != '-' || !arg[1])
        return cli_usage_error(cmd, "unexpected argument '%s': one more than `clvae %s` takes",
                               arg, cmd->name);
    /* the options the command's usage names, and the global ones */
    char names[64][32];
    const char *ptrs[64];
    size_t n = 0;
    static const char *const global[] = {"--device", "--help", "--verbose", "--version"};
    for (size_t k = 0; k < 4; k++) snprintf(names[n], sizeof names[0], "%s", global[k]), n++;
    for (const char *p = cmd->usage; (p = strstr(p, "--")) != NULL && n < 64;) {
        size_t len = 2;
        while ((p[len] >= 'a' && p[len] <= 'z') || (p[len] >= '0' && p[len] <= '9') || p[len] == '-')
            len++;
        if (len > 2 && len < sizeof names[0]) {
            snprintf(names[n], sizeof names[0], "%.*s", (int)len, p);
            size_t k = 0;
            while (k < n && strcmp(names[k], names[n]) != 0) k++;
            if (k == n) n++;
        }
        p += len;
    }
    for (size_t k = 0; k < n; k++) ptrs[k] = names[k];
    char word[64];
    snprintf(word, sizeof word, "%s", arg);
    char *eq = strchr(word, '=');
    if (eq) *eq = 0;
    const char *near = cli_nearest(word, ptrs, n);
    if (near) return cli_usage_error(cmd, "unknown option '%s' (did you mean %s?)", arg, near);
    return cli_usage_error(cmd, "unknown option '%s'", arg);
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
    return cli_device_error(common, clvae_ctx_init(ctx, &o, err), err);
}

clvae_status_t cli_ctx_open_rank(const cli_common_t *common, const clvae_comm_t *comm,
                                 clvae_ctx_t **ctx, int *shared, clvae_error_t *err)
{
    *shared = 1;
    if (clvae_comm_size(comm) == 1) return cli_ctx_open(common, 0, ctx, err);
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    const char *spec = common->device ? common->device : o.device_spec;
    clvae_device_info_t *devs = NULL;
    int n = 0, index = -1;
    clvae_status_t s = clvae_device_list(&devs, &n, err);
    if (!s) s = clvae_device_select_rank(devs, n, spec, clvae_comm_local_rank(comm),
                                         clvae_comm_local_size(comm), &index, shared, err);
    free(devs);
    if (s) return cli_device_error(common, s, err);
    char flat[16];
    snprintf(flat, sizeof flat, "%d", index);
    cli_common_t one = *common;
    one.device = flat;
    return cli_ctx_open(&one, 0, ctx, err);
}

clvae_status_t cli_device_error(const cli_common_t *common, clvae_status_t s, clvae_error_t *err)
{
    if (s != CLVAE_ERR_NOT_FOUND || !common->device_from_env || !common->device) return s;
    char inner[sizeof err->msg];
    snprintf(inner, sizeof inner, "%s", err->msg);
    snprintf(err->msg, sizeof err->msg, "CLVAE_DEVICE=%.100s (from the environment): %.800s",
             common->device, inner);
    return s;
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

int cli_opt(int *i, int argc, char **argv, const char *name, const char **val)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') {
        *val = a + n + 1;
        return 1;
    }
    if (a[n] != 0) return 0;
    if (*i + 1 >= argc) return -1;
    *val = argv[++*i];
    return 1;
}

int cli_parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int cli_parse_float(const char *s, float *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = (float)v;
    return 0;
}

const char *cli_data_dir(void)
{
    return NULL; /* the library's search list (clvae_data_dirs) */
}

/* The run's checkpoint and its config, resolved. */
static clvae_status_t run_read(cli_run_t *r, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = clvae_checkpoint_read(r->ckpath, &r->ck, err)) ||
        (s = clvae_cfg_parse(&r->cfg, r->ck.config, strlen(r->ck.config), r->ckpath, err)) ||
        (s = clvae_model_resolve(&r->desc, &r->cfg, err)))
        return s;
    return CLVAE_OK;
}

/* The model on ctx with the checkpoint's weights, for batches of up to batch examples (fewer
 * when the device is too small for that many); a prior gets its VQ-VAE, which must be the one
 * it was trained on, to decode its samples, and that run's test set. */
static clvae_status_t run_load(cli_run_t *r, clvae_ctx_t *ctx, size_t batch, clvae_error_t *err)
{
    size_t fit = clvae_objective_fit_batch(ctx, &r->desc, batch);
    if (fit > 0) batch = fit;
    clvae_status_t s;
    if ((s = clvae_objective_init(&r->model, ctx, &r->desc, batch, err)) ||
        (s = clvae_checkpoint_restore(&r->ck, ctx, r->model, 0, r->ckpath, err)))
        return s;
    if (!r->desc.prior) return CLVAE_OK;
    if ((s = clvae_vqvae_open(&r->vq, ctx, r->desc.codes_run, batch, err)) ||
        (s = clvae_prior_check(&r->desc, &r->vq, err)))
        return s;
    clvae_objective_set_decoder(r->model, r->vq.model);
    r->desc.image = &r->vq.desc.layers[0];
    snprintf(r->desc.test_data, sizeof r->desc.test_data, "%s", r->vq.desc.test_data);
    return CLVAE_OK;
}

clvae_status_t cli_run_open(cli_run_t *r, const cli_common_t *common, const char *run,
                            size_t batch, clvae_error_t *err)
{
    memset(r, 0, sizeof *r);
    struct stat sb;
    if (stat(run, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(r->dir, sizeof r->dir, "%s", run);
        snprintf(r->ckpath, sizeof r->ckpath, "%s/checkpoint.safetensors", run);
    } else {
        snprintf(r->ckpath, sizeof r->ckpath, "%s", run);
        snprintf(r->dir, sizeof r->dir, "%s", run);
        char *slash = strrchr(r->dir, '/');
        if (slash) *slash = 0;
        else snprintf(r->dir, sizeof r->dir, ".");
    }
    clvae_status_t s;
    if ((s = run_read(r, err)) || (s = cli_ctx_open(common, 0, &r->ctx, err))) return s;
    return run_load(r, r->ctx, batch, err);
}

clvae_status_t cli_run_open_in(cli_run_t *r, clvae_ctx_t *ctx, const char *run, size_t batch,
                               clvae_error_t *err)
{
    memset(r, 0, sizeof *r);
    cli_run_path(run, r->ckpath, sizeof r->ckpath);
    snprintf(r->dir, sizeof r->dir, "%s", run);
    clvae_status_t s = run_read(r, err);
    return s ? s : run_load(r, ctx, batch, err);
}

clvae_status_t cli_run_test_data(cli_run_t *r, clvae_error_t *err)
{
    clvae_status_t s = clvae_dataset_open(r->desc.test_data, cli_data_dir(), &r->test, err);
    if (!s) s = clvae_data_upload(r->ctx, &r->test, &r->dtest, err);
    return s;
}

void cli_run_close(cli_run_t *r)
{
    clvae_data_dev_free(&r->dtest);
    clvae_dataset_free(&r->test);
    clvae_objective_free(r->model);
    clvae_vqvae_close(&r->vq);
    clvae_ctx_free(r->ctx);
    clvae_model_desc_free(&r->desc);
    clvae_cfg_free(&r->cfg);
    clvae_checkpoint_free(&r->ck);
    memset(r, 0, sizeof *r);
}

void cli_default_out(const cli_run_t *r, const char *out, const char *name, char *buf, size_t size)
{
    if (out) snprintf(buf, size, "%s", out);
    else snprintf(buf, size, "%s/%s", r->dir, name);
}


/* A bad value given on the command line is the option's fault, not the config file's:
 * "CFG: --set train.lr=-1: ..." becomes "--lr -1: ..." (a shortcut) or "--set train.lr=-1: ...". */
static void blame_option(const cli_cfg_args_t *a, clvae_error_t *err)
{
    char needle[4300], out[sizeof err->msg];
    for (int k = 0; k < a->nshort; k++) {
        snprintf(needle, sizeof needle, "%s: --set %s", a->path, a->shortcut[k]);
        char *p = strstr(err->msg, needle);
        if (!p) continue;
        const char *eq = strchr(a->shortcut[k], '=');
        int lead = (int)(p - err->msg);
        if (strchr(a->shortopt[k] + 2, '-') || !eq)
            snprintf(out, sizeof out, "%.*s%s (%s)%s", lead, err->msg, a->shortopt[k],
                     a->shortcut[k], p + strlen(needle));
        else
            snprintf(out, sizeof out, "%.*s%s %s%s", lead, err->msg, a->shortopt[k], eq + 1,
                     p + strlen(needle));
        snprintf(err->msg, sizeof err->msg, "%s", out);
        return;
    }
    snprintf(needle, sizeof needle, "%s: --set ", a->path);
    char *p = strstr(err->msg, needle);
    if (!p || !a->nsets) return;
    snprintf(out, sizeof out, "%.*s--set %s", (int)(p - err->msg), err->msg, p + strlen(needle));
    snprintf(err->msg, sizeof err->msg, "%s", out);
}

/* Takes a config option at argv[*i]: 1 taken, 0 not one, 2 (after printing) on bad usage. */
int cli_cfg_take(const cli_command_t *cmd, cli_cfg_args_t *a, int *i, int argc, char **argv)
{
    static const struct { const char *opt, *key; } shortcuts[] = {
        {"--epochs", "train.epochs"}, {"--batch", "train.batch"}, {"--lr", "train.lr"},
        {"--seed", "train.seed"},     {"--limit", "train.limit"},
        {"--test-limit", "train.test_limit"}, {"--test-every", "train.test_every"},
    };
    const char *v = NULL;
    int r = cli_opt(i, argc, argv, "--set", &v);
    if (r < 0) return cli_usage_error(cmd, "--set needs SECTION.KEY=VALUE");
    if (r > 0) {
        if (a->nsets == 64) return cli_usage_error(cmd, "at most 64 --set options");
        a->sets[a->nsets++] = v;
        return 1;
    }
    for (size_t k = 0; k < sizeof shortcuts / sizeof shortcuts[0]; k++) {
        r = cli_opt(i, argc, argv, shortcuts[k].opt, &v);
        if (r < 0) return cli_usage_error(cmd, "%s needs a value", shortcuts[k].opt);
        if (r > 0) {
            if (a->nshort == 8) return cli_usage_error(cmd, "too many options");
            a->shortopt[a->nshort] = shortcuts[k].opt;
            snprintf(a->shortcut[a->nshort++], sizeof a->shortcut[0], "%s=%s", shortcuts[k].key, v);
            return 1;
        }
    }
    const char *flags[][2] = {{"--no-shuffle", "train.shuffle=0"}, {"--mean-latent", "train.sample_latent=0"}};
    for (size_t k = 0; k < 2; k++) {
        if (strcmp(argv[*i], flags[k][0]) == 0) {
            if (a->nshort == 8) return cli_usage_error(cmd, "too many options");
            a->shortopt[a->nshort] = flags[k][0];
            snprintf(a->shortcut[a->nshort++], sizeof a->shortcut[0], "%s", flags[k][1]);
            return 1;
        }
    }
    if (argv[*i][0] != '-' && !a->path) {
        a->path = argv[*i];
        return 1;
    }
    return 0;
}

/* Loads, overrides and resolves the config; errors are bad input. */
clvae_status_t cli_cfg_load(const cli_cfg_args_t *a, clvae_cfg_t *cfg, clvae_model_desc_t *d,
                               clvae_error_t *err)
{
    clvae_status_t s = a->text ? clvae_cfg_parse(cfg, a->text, strlen(a->text), a->path, err)
                               : clvae_cfg_load(cfg, a->path, err);
    if (s) return s;
    /* a section the shortcuts need is added when the file has none */
    for (int k = 0; k < a->nshort && !s; k++) {
        s = clvae_cfg_set(cfg, a->shortcut[k], err);
        if (s && strstr(err->msg, "has no section [train]")) {
            static const char text[] = "[train]\n";
            clvae_cfg_t extra;
            clvae_error_clear(err);
            if (!(s = clvae_cfg_parse(&extra, text, sizeof text - 1, a->path, err))) {
                clvae_cfg_section_t *g =
                    realloc(cfg->sections, (size_t)(cfg->nsections + 1) * sizeof *g);
                if (!g) {
                    clvae_cfg_free(&extra);
                    return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
                }
                cfg->sections = g;
                cfg->sections[cfg->nsections++] = extra.sections[0];
                extra.nsections = 0;
                clvae_cfg_free(&extra);
                s = clvae_cfg_set(cfg, a->shortcut[k], err);
            }
        }
    }
    for (int k = 0; k < a->nsets && !s; k++) s = clvae_cfg_set(cfg, a->sets[k], err);
    if (!s) s = clvae_model_resolve(d, cfg, err);
    if (s) blame_option(a, err);
    return s;
}


int cli_sampler_take(const cli_command_t *cmd, cli_sampler_opts_t *o, int *i, int argc,
                     char **argv)
{
    const char *v;
    int r;
    if ((r = cli_opt(i, argc, argv, "--steps", &v))) {
        if (r < 0 || cli_parse_long(v, 2, 100000, &o->steps)) {
            cli_usage_error(cmd, "--steps wants a number of sampling steps from 2 to "
                                   "100000");
            return -1;
        }
    } else if ((r = cli_opt(i, argc, argv, "--eta", &v))) {
        if (r < 0 || cli_parse_float(v, &o->eta) || !(o->eta >= 0 && o->eta <= 1)) {
            cli_usage_error(cmd, "--eta wants a number from 0 to 1");
            return -1;
        }
    } else if ((r = cli_opt(i, argc, argv, "--guidance", &v))) {
        if (r < 0 || cli_parse_float(v, &o->guidance) ||
            !(o->guidance >= 0 && o->guidance <= 100)) {
            cli_usage_error(cmd, "--guidance wants a number from 0 to 100");
            return -1;
        }
    } else if (strcmp(argv[*i], "--ancestral") == 0) {
        o->ancestral = 1;
    } else if (strcmp(argv[*i], "--raw-weights") == 0) {
        o->raw = 1;
    } else if (strcmp(argv[*i], "--no-clip") == 0) {
        o->no_clip = 1;
    } else {
        return 0;
    }
    return 1;
}

/* The sampler the options ask for (the model's default for those not given). */
static clvae_ddpm_sampler_t sampler_of(const cli_run_t *r, const cli_sampler_opts_t *o)
{
    size_t T = r->desc.diff_steps;
    clvae_ddpm_sampler_t smp = {o->steps ? (size_t)o->steps : T < 50 ? T : 50,
                                o->eta >= 0 ? o->eta : 0.0f, o->ancestral,
                                o->guidance >= 0 ? o->guidance : 1.0f, !o->no_clip};
    return smp;
}

clvae_status_t cli_sampler_apply(cli_run_t *r, const cli_sampler_opts_t *o, clvae_error_t *err)
{
    clvae_status_t s;
    if (o->raw && !r->desc.ema)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--raw-weights: %s keeps no moving average of "
                          "its weights ([train] ema): its weights are the trained ones", r->ckpath);
    if (o->raw && (s = clvae_checkpoint_restore(&r->ck, r->ctx, r->model, CLVAE_RESTORE_RAW,
                                                r->ckpath, err)))
        return s;
    int given = o->steps || o->eta >= 0 || o->ancestral || o->guidance >= 0 || o->no_clip;
    if (!given) return CLVAE_OK;
    if (!r->desc.ddpm)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a %s: --steps, --eta, --ancestral, "
                          "--guidance and --no-clip are a diffusion model's (kind = ddpm)", r->ckpath,
                          clvae_objective_kind_name(&r->desc));
    if (o->ancestral && (o->steps || o->eta >= 0))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--ancestral runs all T steps with sigma^2 = "
                          "beta_t: it takes no --steps or --eta");
    clvae_ddpm_sampler_t smp = sampler_of(r, o);
    return clvae_objective_ddpm_set_sampler(r->model, &smp, err);
}

void cli_sampler_text(const cli_run_t *r, const cli_sampler_opts_t *o, char *buf, size_t size)
{
    clvae_ddpm_sampler_t smp = sampler_of(r, o);
    int n = smp.ancestral
                ? snprintf(buf, size, "ancestral DDPM over all %zu steps", r->desc.diff_steps)
                : snprintf(buf, size, "DDIM over %zu of the %zu steps, eta %g", smp.steps,
                           r->desc.diff_steps, (double)smp.eta);
    if (r->desc.conditional && n > 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, ", guidance %g", (double)smp.guidance);
    if (n > 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, smp.clip ? ", x_0 clipped to [-1, 1]" : ", x_0 not "
                 "clipped");
}

const char *cli_thesis_cfg(char *buf, size_t size)
{
    snprintf(buf, size, "%s", CLI_THESIS_CFG);
    if (access(buf, R_OK) == 0) return buf;
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return buf;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;               /* PREFIX/bin */
    if ((slash = strrchr(exe, '/'))) *slash = 0; /* PREFIX */
    char inst[4400];
    snprintf(inst, sizeof inst, "%.4000s/share/clvae/%s", exe, CLI_THESIS_CFG);
    if (slash && access(inst, R_OK) == 0) snprintf(buf, size, "%s", inst);
    return buf;
}
