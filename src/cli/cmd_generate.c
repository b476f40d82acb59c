/* `clvae generate`: a generative run's samples as a data set (MNIST's IDX files, or .npy) that
 * clvae and every MNIST loader read: synthetic data for augmentation. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clvae/eval/score.h"
#include "clvae/io/clock.h"
#include "clvae/io/fileio.h"
#include "clvae/io/npy.h"

typedef struct gen_args {
    const char *run, *out;
    long count, seed;
    int npy;
    cli_sampler_opts_t smp;
} gen_args_t;

/* 0, or the exit status of a usage error (said). */
static int parse(int argc, char **argv, gen_args_t *a)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_sampler_take(&cli_cmd_generate, &a->smp, &i, argc, argv))) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(&i, argc, argv, "--count", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000, &a->count))
                return cli_usage_error(&cli_cmd_generate, "--count wants a number of samples "
                                       "from 1 to 100000");
        } else if ((r = cli_opt(&i, argc, argv, "--seed", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 2147483647L, &a->seed))
                return cli_usage_error(&cli_cmd_generate, "--seed wants a whole number >= 0");
        } else if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_generate, "--out needs a folder");
            a->out = v;
        } else if ((r = cli_opt(&i, argc, argv, "--format", &v))) {
            if (r < 0 || (strcmp(v, "idx") != 0 && strcmp(v, "npy") != 0))
                return cli_usage_error(&cli_cmd_generate, "--format is idx or npy");
            a->npy = strcmp(v, "npy") == 0;
        } else if (argv[i][0] != '-' && !a->run) {
            a->run = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_generate, argv[i]);
        }
    }
    if (!a->run) return cli_usage_error(&cli_cmd_generate, "which run (a run folder or a checkpoint file)?");
    if (!a->out) return cli_usage_error(&cli_cmd_generate, "--out DIR: which folder gets the data set?");
    return 0;
}

/* The files' paths in DIR: images and labels. */
static void paths(const gen_args_t *a, char *img, char *lab, size_t size)
{
    snprintf(img, size, "%.4000s/%s", a->out, a->npy ? "images.npy" : "images-idx3-ubyte");
    snprintf(lab, size, "%.4000s/%s", a->out, a->npy ? "labels.npy" : "labels-idx1-ubyte");
}

/* The samples as bytes (round(255 x), x in [0, 1]) and the labels, written. */
static clvae_status_t write_set(const gen_args_t *a, const clvae_layer_t *in, const float *x,
                                const int *labels, const char *img, const char *lab,
                                clvae_error_t *err)
{
    size_t n = (size_t)a->count, D = in->out_c * in->out_h * in->out_w;
    uint8_t *b = malloc(n * D + n);
    if (!b) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_floats_to_u8(x, n * D, b);
    /* grey: [N, H, W]; colour (npy only): [N, C, H, W] */
    size_t dims[4] = {n, in->out_h, in->out_w, 0}, colour[4] = {n, in->out_c, in->out_h, in->out_w};
    clvae_status_t s = !a->npy            ? clvae_idx_write_u8(img, dims, 3, b, err)
                       : in->out_c == 1 ? clvae_npy_write_u8(img, dims, 3, b, err)
                                        : clvae_npy_write_u8(img, colour, 4, b, err);
    if (!s && labels) {
        uint8_t *l = b + n * D;
        for (size_t i = 0; i < n; i++) l[i] = (uint8_t)labels[i];
        s = a->npy ? clvae_npy_write_u8(lab, dims, 1, l, err)
                   : clvae_idx_write_u8(lab, dims, 1, l, err);
    }
    free(b);
    return s;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    gen_args_t a = {NULL, NULL, 10000, 1, 0, {0, -1.0f, 0, -1.0f, 0, 0}};
    int bad = parse(argc, argv, &a);
    if (bad) return bad;
    cli_run_t g;
    clvae_error_t err = {0};
    char img[4200], lab[4200], created[4200] = "";
    int code = 0, prepared = 0, K = 0;
    float *x = NULL;
    int *labels = NULL;
    struct stat sb;
    paths(&a, img, lab, sizeof img);
    clvae_status_t s = cli_run_open(&g, common, a.run, 256, &err);
    const clvae_layer_t *in = s ? NULL : clvae_objective_image_layer(&g.desc);
    if (!s && !(clvae_objective_can(&g.desc) & CLVAE_CAN_SAMPLE))
        s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "%s is a %s: generate wants a run that samples "
                       "new images", g.ckpath, clvae_objective_kind_name(&g.desc));
    if (!s && !a.npy && in->out_c != 1)
        s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "%s draws %zu-channel images; IDX files hold grey "
                       "ones: use --format npy ([N, C, H, W])", g.ckpath, in->out_c);
    if (!s && stat(img, &sb) == 0)
        s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "%s exists: generate does not overwrite a data "
                       "set; remove it or choose another --out", img);
    if (!s) s = cli_sampler_apply(&g, &a.smp, &err);
    /* the folder can be made and written before any work; a failure leaves nothing it made */
    if (!s && !(s = clvae_dir_prepare(a.out, created, sizeof created, &err))) prepared = 1;
    K = s ? 0 : clvae_gen_conditional(&g.desc);
    size_t n = (size_t)a.count, D = s ? 0 : in->out_c * in->out_h * in->out_w;
    if (!s && (!(x = malloc(n * D * sizeof *x)) || (K && !(labels = malloc(n * sizeof *labels)))))
        s = CLVAE_FAIL(&err, CLVAE_ERR_NOMEM, "out of host memory for %zu samples", n);
    for (size_t i = 0; !s && K && i < n; i++) labels[i] = (int)(i % (size_t)K); /* balanced */
    double t0 = clvae_seconds();
    if (!s) s = clvae_generate(g.model, &g.desc, n, (uint64_t)a.seed, labels, x, &err);
    if (!s) s = write_set(&a, in, x, labels, img, lab, &err);
    if (s) {
        code = cli_report(common, &err);
        if (prepared) clvae_dir_unmake(a.out, created);
    } else {
        printf("%zu samples of %s (seed %ld) in %.1f s: %s", n, g.ckpath, a.seed,
               clvae_seconds() - t0, img);
        if (K) printf(" and %s (labels 0..%d, %zu or %zu each)", lab, K - 1, n / (size_t)K,
                      (n + (size_t)K - 1) / (size_t)K);
        printf("\n");
        if (!a.npy)
            printf("train on them with [data] train = idx:%s%s%s\n", img, K ? "," : "",
                   K ? lab : "");
        else
            printf("train on them with [data] train = npy:%s%s%s\n", img, K ? "," : "",
                   K ? lab : "");
    }
    free(x);
    free(labels);
    clvae_error_clear(&err);
    cli_run_close(&g);
    return code;
}

const cli_command_t cli_cmd_generate = {
    "generate", "a run's samples as a data set (IDX or .npy) for augmentation or other tools",
    "clvae generate RUN --out DIR [--count 10000] [--seed 1] [--format idx|npy] [--device SPEC]\n"
    "                   [--steps S] [--eta E] [--ancestral] [--guidance G] [--no-clip]\n"
    "                   [--raw-weights]\n"
    "  draws --count samples (1 to 100000) as `clvae sample` does and writes them to DIR as\n"
    "  MNIST's IDX files, images-idx3-ubyte (bytes, round(255 x)), and for a conditional model\n"
    "  labels-idx1-ubyte with balanced labels (sample i has label i mod K); --format npy writes\n"
    "  images.npy (uint8 [N, H, W], or [N, C, H, W] for colour) and labels.npy instead. Train\n"
    "  on them with [data] train = idx:DIR/images-idx3-ubyte,DIR/labels-idx1-ubyte. DIR is made\n"
    "  if missing and checked writable first; an existing data set there is not overwritten.",
    run};
