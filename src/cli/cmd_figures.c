/* Figure commands on a trained run: sample, reconstruct, manifold, latent, interpolate. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "clvae/figures.h"

/* Options the figure commands share. */
typedef struct fig_args {
    const char *run, *out;
    long n, seed, grid, from, to, steps, dx, dy;
    float range;
    int has_from, has_to;
} fig_args_t;

/* Parses the options a command allows (a string of letters: n s g r f t p d). */
static int parse(const cli_command_t *cmd, const char *allowed, int argc, char **argv,
                 fig_args_t *a)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(cmd, "--out needs a file name");
            a->out = v;
        } else if (strchr(allowed, 'n') && (r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 10000, &a->n))
                return cli_usage_error(cmd, "--n wants a whole number from 1 to 10000");
        } else if (strchr(allowed, 's') && (r = cli_opt(&i, argc, argv, "--seed", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 2147483647L, &a->seed))
                return cli_usage_error(cmd, "--seed wants a whole number >= 0");
        } else if (strchr(allowed, 'g') && (r = cli_opt(&i, argc, argv, "--grid", &v))) {
            if (r < 0 || cli_parse_long(v, 2, 64, &a->grid))
                return cli_usage_error(cmd, "--grid wants a whole number from 2 to 64");
        } else if (strchr(allowed, 'r') && (r = cli_opt(&i, argc, argv, "--range", &v))) {
            if (r < 0 || cli_parse_float(v, &a->range) || !(a->range > 0))
                return cli_usage_error(cmd, "--range wants a number > 0");
        } else if (strchr(allowed, 'f') && (r = cli_opt(&i, argc, argv, "--from", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 100000000L, &a->from))
                return cli_usage_error(cmd, "--from wants a test image index");
            a->has_from = 1;
        } else if (strchr(allowed, 't') && (r = cli_opt(&i, argc, argv, "--to", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 100000000L, &a->to))
                return cli_usage_error(cmd, "--to wants a test image index");
            a->has_to = 1;
        } else if (strchr(allowed, 'p') && (r = cli_opt(&i, argc, argv, "--steps", &v))) {
            if (r < 0 || cli_parse_long(v, 2, 64, &a->steps))
                return cli_usage_error(cmd, "--steps wants a whole number from 2 to 64");
        } else if (strchr(allowed, 'd') && (r = cli_opt(&i, argc, argv, "--dims", &v))) {
            char *end;
            if (r < 0) return cli_usage_error(cmd, "--dims wants I,J");
            a->dx = strtol(v, &end, 10);
            if (*end != ',' || cli_parse_long(end + 1, 0, 4095, &a->dy) || a->dx < 0)
                return cli_usage_error(cmd, "--dims wants two latent dimensions I,J");
        } else if (argv[i][0] != '-' && !a->run) {
            a->run = argv[i];
        } else {
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        }
    }
    if (!a->run) return cli_usage_error(cmd, "which run (a run folder or a checkpoint file)?");
    return 0;
}

/* Opens the run (and its test set when need_test), calls draw, reports. */
static int with_run(const cli_common_t *common, const fig_args_t *a, int need_test,
                    clvae_status_t (*draw)(cli_run_t *, const fig_args_t *, char *, clvae_error_t *),
                    const char *name)
{
    cli_run_t r;
    clvae_error_t err = {0};
    char path[4200];
    clvae_status_t s = cli_run_open(&r, common, a->run, 256, &err);
    if (!s && need_test) s = cli_run_test_data(&r, &err);
    if (!s) {
        cli_default_out(&r, a->out, name, path, sizeof path);
        s = draw(&r, a, path, &err);
    }
    int code = 0;
    if (s) code = cli_report(&err);
    else printf("wrote %s\n", path);
    clvae_error_clear(&err);
    cli_run_close(&r);
    return code;
}

static clvae_status_t draw_sample(cli_run_t *r, const fig_args_t *a, char *path, clvae_error_t *err)
{
    /* the example shape comes from the model's input layer */
    clvae_dataset_t shape = {0};
    shape.c = r->desc.layers[0].out_c;
    shape.h = r->desc.layers[0].out_h;
    shape.w = r->desc.layers[0].out_w;
    return clvae_fig_samples(r->ctx, r->model, &shape, (size_t)a->n, (uint64_t)a->seed, path, err);
}

static clvae_status_t draw_reconstruct(cli_run_t *r, const fig_args_t *a, char *path,
                                       clvae_error_t *err)
{
    return clvae_fig_reconstruct(r->ctx, r->model, &r->test, &r->dtest, (size_t)a->n, path, err);
}

static clvae_status_t draw_manifold(cli_run_t *r, const fig_args_t *a, char *path,
                                    clvae_error_t *err)
{
    clvae_dataset_t shape = {0};
    shape.c = r->desc.layers[0].out_c;
    shape.h = r->desc.layers[0].out_h;
    shape.w = r->desc.layers[0].out_w;
    return clvae_fig_manifold(r->ctx, r->model, &shape, (int)a->grid, a->range, (int)a->dx,
                              (int)a->dy, path, err);
}

static clvae_status_t draw_latent(cli_run_t *r, const fig_args_t *a, char *path, clvae_error_t *err)
{
    char csv[4300];
    snprintf(csv, sizeof csv, "%s", path);
    char *dot = strrchr(csv, '.');
    if (dot && strcmp(dot, ".png") == 0) *dot = 0;
    strncat(csv, ".csv", sizeof csv - strlen(csv) - 1);
    int dy = clvae_model_latent_dim(r->model) > 1 ? (int)a->dy : 0;
    clvae_status_t s = clvae_fig_latent(r->ctx, r->model, &r->test, &r->dtest, (size_t)a->n,
                                        (int)a->dx, dy, path, csv, err);
    if (!s) printf("wrote %s\n", csv);
    return s;
}

static clvae_status_t draw_interpolate(cli_run_t *r, const fig_args_t *a, char *path,
                                       clvae_error_t *err)
{
    return clvae_fig_interpolate(r->ctx, r->model, &r->test, &r->dtest, (size_t)a->from,
                                 (size_t)a->to, (int)a->steps, path, err);
}

static int sample_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 64, .seed = 1};
    int e = parse(&cli_cmd_sample, "ns", argc, argv, &a);
    return e ? e : with_run(c, &a, 0, draw_sample, "samples.png");
}

static int reconstruct_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 16};
    int e = parse(&cli_cmd_reconstruct, "n", argc, argv, &a);
    return e ? e : with_run(c, &a, 1, draw_reconstruct, "reconstructions.png");
}

static int manifold_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.grid = 20, .range = 3.0f, .dx = 0, .dy = 1};
    int e = parse(&cli_cmd_manifold, "grd", argc, argv, &a);
    return e ? e : with_run(c, &a, 0, draw_manifold, "manifold.png");
}

static int latent_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 10000, .dx = 0, .dy = 1};
    int e = parse(&cli_cmd_latent, "nd", argc, argv, &a);
    return e ? e : with_run(c, &a, 1, draw_latent, "latent.png");
}

static int interpolate_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.steps = 10};
    int e = parse(&cli_cmd_interpolate, "ftp", argc, argv, &a);
    if (e) return e;
    if (!a.has_from || !a.has_to)
        return cli_usage_error(&cli_cmd_interpolate, "--from I and --to J are required");
    return with_run(c, &a, 1, draw_interpolate, "interpolation.png");
}

const cli_command_t cli_cmd_sample = {
    "sample", "PNG grid of decodes of z ~ N(0, I)",
    "clvae sample RUN [--n 64] [--seed 1] [--out FILE] [--device SPEC]", sample_run};
const cli_command_t cli_cmd_reconstruct = {
    "reconstruct", "PNG of test images above their reconstructions",
    "clvae reconstruct RUN [--n 16] [--out FILE] [--device SPEC]", reconstruct_run};
const cli_command_t cli_cmd_manifold = {
    "manifold", "PNG of decodes over a grid of two latent dimensions",
    "clvae manifold RUN [--grid 20] [--range 3] [--dims 0,1] [--out FILE] [--device SPEC]",
    manifold_run};
const cli_command_t cli_cmd_latent = {
    "latent", "PNG scatter of the test set's z_mean coloured by class, and a CSV of the points",
    "clvae latent RUN [--n 10000] [--dims 0,1] [--out FILE.png] [--device SPEC]", latent_run};
const cli_command_t cli_cmd_interpolate = {
    "interpolate", "PNG strip between two test images in latent space",
    "clvae interpolate RUN --from I --to J [--steps 10] [--out FILE] [--device SPEC]",
    interpolate_run};
