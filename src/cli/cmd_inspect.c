/* `clvae inspect`: a checkpoint's tensors (name, dtype, shape, SHA-256) and training position. */
#include "cli.h"

#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "clvae/io/safetensors.h"
#include "clvae/io/sha256.h"
#include "clvae/net/config.h"
#include "clvae/net/net.h"

/* Tensors of the optimizer (of any network: "optimizer." or "<network>.optimizer."), the
 * training position, and the layers' non-trained buffers; everything else is a parameter. */
static int is_optimizer(const char *name)
{
    return strncmp(name, "optimizer.", 10) == 0 || strstr(name, ".optimizer.") != NULL;
}
static int is_position(const char *name) { return strncmp(name, "train.", 6) == 0; }

/* NaN and infinite values of an F32 tensor. */
static size_t nonfinite(const clvae_st_tensor_t *t)
{
    if (t->dtype != CLVAE_ST_F32) return 0;
    size_t n = 0;
    for (size_t i = 0; i < t->nbytes / 4; i++) {
        float v;
        memcpy(&v, (const unsigned char *)t->data + 4 * i, 4);
        n += !isfinite(v);
    }
    return n;
}

/* A run folder's checkpoint path, or the file itself. */
static void checkpoint_path(const char *runp, char *path, size_t size)
{
    struct stat sb;
    if (stat(runp, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(path, size, "%s/checkpoint.safetensors", runp);
    else
        snprintf(path, size, "%s", runp);
}

/* --against: the largest absolute difference of the parameters (and of the optimizer state)
 * between the two checkpoints, tensor by tensor; 2 when their tensors differ in name or
 * shape. */
static int against(const cli_common_t *common, const clvae_st_file_t *f, const char *otherp)
{
    char path[4200];
    checkpoint_path(otherp, path, sizeof path);
    clvae_checkpoint_t ob;
    clvae_error_t err = {0};
    if (clvae_checkpoint_read(path, &ob, &err)) {
        int code = cli_report(common, &err);
        clvae_error_clear(&err);
        return code;
    }
    const clvae_st_file_t *g = ob.file;
    double worst[2] = {0, 0}, top = 0;
    const char *where[2] = {"", ""};
    size_t same = 0, count = 0;
    int code = 0;
    for (size_t i = 0; i < clvae_st_count(f) && !code; i++) {
        const clvae_st_tensor_t *t = clvae_st_get(f, i), *u = NULL;
        if (is_position(t->name) || clvae_net_is_state_name(t->name) || t->dtype != CLVAE_ST_F32)
            continue;
        for (size_t j = 0; j < clvae_st_count(g) && !u; j++)
            if (strcmp(clvae_st_get(g, j)->name, t->name) == 0) u = clvae_st_get(g, j);
        if (!u || u->nbytes != t->nbytes || u->dtype != t->dtype) {
            fprintf(stderr, "clvae: error: %s has no tensor %s of the same size: the two "
                    "checkpoints are not of one model\n", path, t->name);
            code = 2;
            break;
        }
        int k = is_optimizer(t->name);
        double w = 0;
        for (size_t e = 0; e < t->nbytes / 4; e++) {
            float a, b;
            memcpy(&a, (const unsigned char *)t->data + 4 * e, 4);
            memcpy(&b, (const unsigned char *)u->data + 4 * e, 4);
            double dd = fabs((double)a - (double)b);
            if (!(dd <= w)) w = dd; /* a NaN difference wins */
            if (!k && fabs((double)a) > top) top = fabs((double)a);
        }
        if (!(w <= worst[k])) {
            worst[k] = w;
            where[k] = t->name;
        }
        if (!k) {
            count++;
            same += memcmp(t->data, u->data, t->nbytes) == 0;
        }
    }
    if (!code) {
        printf("against %s: parameters differ by at most %.3g (%s; the largest parameter is "
               "%.3g), %zu of %zu parameter tensors bit-identical; optimizer state by at most "
               "%.3g\n", path, worst[0], *where[0] ? where[0] : "none", top, same, count,
               worst[1]);
    }
    clvae_checkpoint_free(&ob);
    return code;
}

/* The run's length (0 when its config cannot be read) and where a --resume would start. */
static void position_text(const clvae_checkpoint_t *ck, const char *path, long *epochs,
                          char *where, size_t size)
{
    clvae_error_t err = {0};
    /* the run's length from the config it holds (0 when it cannot be read) */
    *epochs = 0;
    clvae_cfg_t cfg;
    clvae_model_desc_t desc;
    if (!clvae_cfg_parse(&cfg, ck->config, strlen(ck->config), path, &err)) {
        if (!clvae_model_resolve(&desc, &cfg, &err)) {
            *epochs = desc.epochs;
            clvae_model_desc_free(&desc);
        }
        clvae_cfg_free(&cfg);
    }
    clvae_error_clear(&err);
    long E = *epochs;
    const clvae_train_state_t *st = &ck->state;
    if (!ck->has_state)
        snprintf(where, size, "none (weights only: --init material, nothing to resume)");
    else if (st->cursor == 0 && E && st->epoch >= E)
        snprintf(where, size, "finished: %ld of %ld epochs done (%ld steps); --resume "
                 "has nothing to do unless --epochs is raised", st->epoch, E, st->step);
    else if (st->cursor == 0)
        snprintf(where, size, "%ld of %ld epochs done (%ld steps); --resume starts epoch "
                 "%ld from its first batch", st->epoch, E, st->step, st->epoch + 1);
    else
        snprintf(where, size, "in the middle of epoch %ld (of %ld): %zu batches and %zu "
                 "examples of it done (%ld steps in all); --resume continues with batch %zu",
                 st->epoch + 1, E, st->cursor, st->seen, st->step, st->cursor + 1);
}

/* The lines before the tensors (text), or the JSON up to the tensors' list. */
static void print_head(const clvae_checkpoint_t *ck, const char *path, long epochs,
                       const char *where, size_t rows, int json)
{
    const clvae_train_state_t *st = &ck->state;
    if (!json) {
        printf("checkpoint: %s (clvae %s)\n", path, ck->version);
        printf("position: %s\n", where);
        printf("metrics: %zu epoch%s\n", rows ? rows - 1 : 0, rows == 2 ? "" : "s");
        printf("%-24s %-5s %-18s %10s  %s\n", "tensor", "dtype", "shape", "non-finite", "sha256");
    } else {
        printf("{\"checkpoint\": ");
        cli_json_string(stdout, path);
        printf(", \"version\": ");
        cli_json_string(stdout, ck->version);
        if (ck->has_state)
            printf(", \"position\": {\"epochs_done\": %ld, \"epochs\": %ld, \"step\": %ld, "
                   "\"batch\": %zu, \"examples_seen\": %zu, \"finished\": %s}",
                   st->epoch, epochs, st->step, st->cursor, st->seen,
                   st->cursor == 0 && epochs && st->epoch >= epochs ? "true" : "false");
        else
            printf(", \"position\": null");
        printf(", \"position_text\": ");
        cli_json_string(stdout, where);
        printf(", \"metrics_epochs\": %zu, \"tensors\": [", rows ? rows - 1 : 0);
    }
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    const char *runp = NULL, *otherp = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--against") == 0 && i + 1 < argc)
            otherp = argv[++i];
        else if (argv[i][0] != '-' && !runp)
            runp = argv[i];
        else
            return cli_unknown_arg(&cli_cmd_inspect, argv[i]);
    }
    if (!runp) return cli_usage_error(&cli_cmd_inspect, "which run (a run folder or a checkpoint file)?");
    if (otherp && json)
        return cli_usage_error(&cli_cmd_inspect, "--against prints one line of text: it takes "
                               "no --json");
    char path[4200];
    checkpoint_path(runp, path, sizeof path);
    clvae_checkpoint_t ck;
    clvae_error_t err = {0};
    if (clvae_checkpoint_read(path, &ck, &err)) {
        int code = cli_report(common, &err);
        clvae_error_clear(&err);
        return code;
    }
    const clvae_st_file_t *f = ck.file;
    if (otherp) {
        int code = against(common, f, otherp);
        clvae_checkpoint_free(&ck);
        return code;
    }
    long epochs = 0;
    char where[512];
    position_text(&ck, path, &epochs, where, sizeof where);
    size_t rows = 0;
    for (const char *p = ck.metrics; *p; p++) rows += *p == '\n';
    print_head(&ck, path, epochs, where, rows, json);
    clvae_sha256_t hp, ho, hb;
    clvae_sha256_init(&hp);
    clvae_sha256_init(&ho);
    clvae_sha256_init(&hb);
    size_t bad_params = 0, bad_opt = 0, bad_buf = 0, nbuf = 0;
    for (size_t i = 0; i < clvae_st_count(f); i++) {
        const clvae_st_tensor_t *t = clvae_st_get(f, i);
        char shape[64] = "[";
        for (int k = 0; k < t->ndim; k++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%llu", k ? ", " : "",
                     (unsigned long long)t->shape[k]);
        snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "]");
        uint8_t d[32];
        char hex[65];
        clvae_sha256(t->data, t->nbytes, d);
        clvae_sha256_hex(d, hex);
        size_t bad = nonfinite(t);
        if (json) {
            printf("%s{\"name\": ", i ? ", " : "");
            cli_json_string(stdout, t->name);
            printf(", \"dtype\": \"%s\", \"shape\": %s, \"nonfinite\": %zu, \"sha256\": \"%s\"}",
                   clvae_st_dtype_name(t->dtype), shape, bad, hex);
        } else {
            printf("%-24s %-5s %-18s %10zu  %s\n", t->name, clvae_st_dtype_name(t->dtype), shape,
                   bad, hex);
        }
        if (is_optimizer(t->name)) {
            clvae_sha256_update(&ho, t->data, t->nbytes);
            bad_opt += bad;
        } else if (clvae_net_is_state_name(t->name)) {
            clvae_sha256_update(&hb, t->data, t->nbytes);
            bad_buf += bad;
            nbuf++;
        } else if (!is_position(t->name)) {
            clvae_sha256_update(&hp, t->data, t->nbytes);
            bad_params += bad;
        }
    }
    uint8_t d[32];
    char hex[65], hex2[65], hex3[65];
    clvae_sha256_final(&hp, d);
    clvae_sha256_hex(d, hex);
    clvae_sha256_final(&ho, d);
    clvae_sha256_hex(d, hex2);
    clvae_sha256_final(&hb, d);
    clvae_sha256_hex(d, hex3);
    if (json) {
        printf("], \"parameters_sha256\": \"%s\", \"parameters_nonfinite\": %zu, "
               "\"optimizer_sha256\": \"%s\", \"optimizer_nonfinite\": %zu", hex, bad_params,
               hex2, bad_opt);
        if (nbuf)
            printf(", \"buffers_sha256\": \"%s\", \"buffers_nonfinite\": %zu", hex3, bad_buf);
        printf("}\n");
    } else {
        printf("parameters sha256 %s  (%zu non-finite)\n", hex, bad_params);
        printf("optimizer sha256 %s  (%zu non-finite)\n", hex2, bad_opt);
        if (nbuf) printf("buffers sha256 %s  (%zu non-finite)\n", hex3, bad_buf);
    }
    clvae_checkpoint_free(&ck);
    return 0;
}

const cli_command_t cli_cmd_inspect = {
    "inspect", "a checkpoint's tensors (name, dtype, shape, SHA-256) and training position",
    "clvae inspect RUN [--json | --against RUN2]\n"
    "  RUN is a run folder or a checkpoint file; the file's data checksum is verified.\n"
    "  Prints the position in words (epochs done of the run's epochs, or where in an epoch\n"
    "  it stopped, and what --resume does), then per tensor: name, dtype, shape, NaN/Inf\n"
    "  count, SHA-256 of its data; then one SHA-256 over all parameter tensors, one over the\n"
    "  optimizer state, and one over the layers' buffers (running statistics) when it has\n"
    "  any (equal hashes: bit-identical weights). --json: the same as one JSON object.\n"
    "  --against RUN2: instead, the largest absolute difference between the two runs'\n"
    "  parameters and optimizer states (e.g. one process against several ranks); exit 2\n"
    "  when their tensors differ in name or size.",
    run};
