/* Figure commands on a trained run: sample, reconstruct, manifold, latent, interpolate, denoise. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "clvae/eval/figures.h"
#include "clvae/eval/figures_gen.h"
#include "clvae/eval/inpaint.h"
#include "clvae/eval/superres.h"
#include "clvae/io/fileio.h"
#include "clvae/io/image.h"

/* Options the figure commands share. */
typedef struct fig_args {
    const char *run, *out;
    const char *cmd;             /* the command's name (parse) */
    long n, seed, grid, from, to, steps, dx, dy;
    float range;
    int has_from, has_to;
    int has_n;
    long label;                  /* --label K of a conditional model, -1 when not given */
    long count;                  /* denoise: --count */
    clvae_noise_spec_t noise;    /* denoise: --noise, --std, --p (over the run's [noise]) */
    int has_noise, has_std, has_p;
    cli_sampler_opts_t smp;      /* sample of a diffusion model: --steps, --eta, --ancestral,
                                    --guidance, --no-clip, --raw-weights */
    long frames;                 /* chain: --frames F */
    size_t froms[16];            /* restyle: --from I,J,... */
    int nfrom;
    long factor;                 /* superres: --factor F (0: the run's) */
    const char *mask;            /* inpaint: --mask SPEC */
    long iters;                  /* inpaint: --iters N */
    long fit_steps;              /* inpaint: --fit-steps N (-1: 100 for a VAE, else 0) */
    double fit_lr;               /* inpaint: --fit-lr R */
    int over_epochs;             /* latent: --over-epochs */
} fig_args_t;

/* Parses the options a command allows (a string of letters: n s g r f t p d, l for --label,
 * c for --count, z for --noise, --std and --p, e for a diffusion model's --steps, --eta,
 * --ancestral and --guidance, k for --frames, o for --over-epochs). */
static int parse(const cli_command_t *cmd, const char *allowed, int argc, char **argv,
                 fig_args_t *a)
{
    a->cmd = cmd->name;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(cmd, "--out needs a file name");
            a->out = v;
        } else if (strchr(allowed, 'n') && (r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 10000, &a->n))
                return cli_usage_error(cmd, "--n wants a whole number from 1 to 10000");
            a->has_n = 1;
        } else if (strchr(allowed, 'l') && (r = cli_opt(&i, argc, argv, "--label", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 4095, &a->label))
                return cli_usage_error(cmd, "--label wants a class number (0, 1, ...)");
        } else if (strchr(allowed, 'c') && (r = cli_opt(&i, argc, argv, "--count", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 64, &a->count))
                return cli_usage_error(cmd, "--count wants a whole number from 1 to 64");
        } else if (strchr(allowed, 'z') && (r = cli_opt(&i, argc, argv, "--noise", &v))) {
            static const char *const kinds[] = {"none", "gaussian", "mask"};
            int k = -1;
            for (int q = 0; r > 0 && q < 3; q++)
                if (strcmp(v, kinds[q]) == 0) k = q;
            if (k < 0) return cli_usage_error(cmd, "--noise wants none, gaussian or mask");
            a->noise.kind = (clvae_noise_kind_t)k;
            a->has_noise = 1;
        } else if (strchr(allowed, 'z') && (r = cli_opt(&i, argc, argv, "--std", &v))) {
            if (r < 0 || cli_parse_float(v, &a->noise.std) || a->noise.std < 0 ||
                a->noise.std > 100)
                return cli_usage_error(cmd, "--std wants a number from 0 to 100");
            a->has_std = 1;
        } else if (strchr(allowed, 'z') && (r = cli_opt(&i, argc, argv, "--p", &v))) {
            if (r < 0 || cli_parse_float(v, &a->noise.p) || !(a->noise.p >= 0 && a->noise.p <= 1))
                return cli_usage_error(cmd, "--p wants a fraction from 0 to 1");
            a->has_p = 1;
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
        } else if (strchr(allowed, 'e') && (r = cli_sampler_take(cmd, &a->smp, &i, argc, argv))) {
            if (r < 0) return 2;
        } else if (strchr(allowed, 'o') && strcmp(argv[i], "--over-epochs") == 0) {
            a->over_epochs = 1;
        } else if (strchr(allowed, 'k') && (r = cli_opt(&i, argc, argv, "--frames", &v))) {
            if (r < 0 || cli_parse_long(v, 2, 20, &a->frames))
                return cli_usage_error(cmd, "--frames wants a whole number from 2 to 20");
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
            return cli_unknown_arg(cmd, argv[i]);
        }
    }
    if (!a->run) return cli_usage_error(cmd, "which run (a run folder or a checkpoint file)?");
    return 0;
}

/* Refuses a run whose objective cannot do what the command needs (CLVAE_CAN_* bits). */
static clvae_status_t check_can(const cli_run_t *r, unsigned need, const char *cmd,
                                clvae_error_t *err)
{
    unsigned can = clvae_objective_can(&r->desc);
    if ((can & need) == need) return CLVAE_OK;
    if (r->desc.vqvae && (need & (CLVAE_CAN_DECODE | CLVAE_CAN_SAMPLE)))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a VQ-VAE: it samples through a prior "
                          "over its codes (train models/mnist_vqvae_prior.cfg with [data] codes "
                          "= this run, then `clvae %s PRIOR_RUN`)", r->ckpath, cmd);
    const char *what = (need & ~can & CLVAE_CAN_SAMPLE)   ? "draws new images"
                       : (need & ~can & CLVAE_CAN_DECODE) ? "decodes latent codes into images"
                       : (need & ~can & CLVAE_CAN_ENCODE) ? "encodes images into latent codes"
                                                          : "reconstructs its inputs";
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a %s: `clvae %s` needs a model that %s (an "
                      "autoencoder)", r->ckpath, clvae_objective_kind_name(&r->desc), cmd, what);
}

/* Opens the run (and its test set when need_test), asks its objective for what the command
 * needs (need: CLVAE_CAN_* bits), calls draw, reports. */
static int with_run(const cli_common_t *common, const fig_args_t *a, int need_test,
                    unsigned need,
                    clvae_status_t (*draw)(cli_run_t *, const fig_args_t *, char *, clvae_error_t *),
                    const char *name)
{
    cli_run_t r;
    memset(&r, 0, sizeof r);
    clvae_error_t err = {0};
    char path[4200];
    /* the output's format (its extension) and folder are checked before any work */
    if (a->out) {
        snprintf(path, sizeof path, "%s", a->out);
    } else {
        char ck[4200];
        cli_run_path(a->run, ck, sizeof ck);
        char *slash = strrchr(ck, '/');
        if (slash) *slash = 0;
        snprintf(path, sizeof path, "%.4000s/%s", slash ? ck : ".", name);
    }
    clvae_status_t s = clvae_image_format(path, &err) < 0 ? CLVAE_ERR_INVALID : CLVAE_OK;
    if (!s) s = clvae_file_check_writable(path, &err);
    if (!s) s = cli_run_open(&r, common, a->run, 256, &err);
    if (!s) s = check_can(&r, need, a->cmd, &err);
    if (!s && need_test) s = cli_run_test_data(&r, &err);
    if (!s) s = draw(&r, a, path, &err);
    int code = 0;
    if (s) code = cli_report(common, &err);
    else printf("wrote %s\n", path);
    clvae_error_clear(&err);
    cli_run_close(&r);
    return code;
}

static clvae_status_t draw_sample(cli_run_t *r, const fig_args_t *a, char *path, clvae_error_t *err)
{
    /* the example shape comes from the model's input layer */
    clvae_dataset_t shape = {0};
    shape.c = clvae_objective_image_layer(&r->desc)->out_c;
    shape.h = clvae_objective_image_layer(&r->desc)->out_h;
    shape.w = clvae_objective_image_layer(&r->desc)->out_w;
    size_t n = (size_t)a->n;
    clvae_status_t s = cli_sampler_apply(r, &a->smp, err);
    if (s) return s;
    /* a conditional model without --label: one row of 10 per class unless --n says */
    if (r->desc.conditional && a->label < 0 && !a->has_n) n = 10 * r->desc.conditional;
    return clvae_fig_samples_label(r->ctx, r->model, &shape, n, (uint64_t)a->seed, (int)a->label,
                                   path, err);
}

static clvae_status_t draw_chain(cli_run_t *r, const fig_args_t *a, char *path, clvae_error_t *err)
{
    clvae_dataset_t shape = {0};
    shape.c = clvae_objective_image_layer(&r->desc)->out_c;
    shape.h = clvae_objective_image_layer(&r->desc)->out_h;
    shape.w = clvae_objective_image_layer(&r->desc)->out_w;
    if (!r->desc.ddpm)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a %s: `clvae chain` draws a diffusion "
                          "model's denoising steps (kind = ddpm)", r->ckpath,
                          clvae_objective_kind_name(&r->desc));
    clvae_status_t s = cli_sampler_apply(r, &a->smp, err);
    if (s) return s;
    char what[160];
    cli_sampler_text(r, &a->smp, what, sizeof what);
    s = clvae_fig_chain(r->model, &shape, (size_t)a->n, (size_t)a->frames, (uint64_t)a->seed,
                        (int)a->label, what, path, err);
    if (!s) printf("rows: %ld samples (seed %ld); columns: %ld frames from x_T to x_0 (%s)\n",
                   a->n, a->seed, a->frames, what);
    return s;
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
    shape.c = clvae_objective_image_layer(&r->desc)->out_c;
    shape.h = clvae_objective_image_layer(&r->desc)->out_h;
    shape.w = clvae_objective_image_layer(&r->desc)->out_w;
    if (a->label >= 0 || r->desc.conditional) {
        if (a->label < 0)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a conditional model: its manifold "
                              "is drawn for one class, give --label K (0 to %zu)", r->ckpath,
                              r->desc.conditional - 1);
        return clvae_fig_manifold_label(r->ctx, r->model, &shape, (int)a->grid, a->range,
                                        (int)a->dx, (int)a->dy, (int)a->label, path, err);
    }
    return clvae_fig_manifold(r->ctx, r->model, &shape, (int)a->grid, a->range, (int)a->dx,
                              (int)a->dy, path, err);
}

static clvae_status_t draw_latent(cli_run_t *r, const fig_args_t *a, char *path, clvae_error_t *err)
{
    if (a->over_epochs) return clvae_fig_latent_epochs(r->dir, path, err);
    char csv[4300];
    snprintf(csv, sizeof csv, "%s", path);
    char *dot = strrchr(csv, '.');
    if (dot && (strcmp(dot, ".png") == 0 || strcmp(dot, ".npy") == 0)) *dot = 0;
    strncat(csv, ".csv", sizeof csv - strlen(csv) - 1);
    int dy = clvae_objective_latent_dim(r->model) > 1 ? (int)a->dy : 0;
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

static clvae_status_t draw_denoise(cli_run_t *r, const fig_args_t *a, char *path,
                                   clvae_error_t *err)
{
    /* the run's own [noise], else Gaussian noise (std 0.5, clipped); options override */
    clvae_noise_spec_t nz = r->desc.noise;
    if (nz.kind == CLVAE_NOISE_NONE && !a->has_noise)
        nz.kind = a->has_p && !a->has_std ? CLVAE_NOISE_MASK : CLVAE_NOISE_GAUSSIAN;
    if (a->has_noise) nz.kind = a->noise.kind;
    if (a->has_std) nz.std = a->noise.std;
    if (a->has_p) nz.p = a->noise.p;
    clvae_status_t s = clvae_fig_denoise(r->ctx, r->model, &r->test, (size_t)a->count, &nz,
                                         (uint64_t)a->seed, path, err);
    if (!s)
    {
        char how[96] = "-";
        if (nz.kind == CLVAE_NOISE_GAUSSIAN)
            snprintf(how, sizeof how, "std %g%s", (double)nz.std, nz.clip ? ", clipped to [0, 1]" : "");
        else if (nz.kind == CLVAE_NOISE_MASK)
            snprintf(how, sizeof how, "p %g", (double)nz.p);
        printf("rows: %s noise (%s), clean, denoised; %zu test images of %s\n",
               clvae_noise_kind_name(nz.kind), how, (size_t)a->count, r->test.name);
    }
    return s;
}

static int sample_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 64, .seed = 1, .label = -1, .smp = {0, -1.0f, 0, -1.0f, 0}};
    int e = parse(&cli_cmd_sample, "nsle", argc, argv, &a);
    return e ? e : with_run(c, &a, 0, CLVAE_CAN_SAMPLE, draw_sample, "samples.png");
}

static int chain_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 4, .seed = 1, .label = -1, .smp = {0, -1.0f, 0, -1.0f, 0}, .frames = 10};
    int e = parse(&cli_cmd_chain, "nslek", argc, argv, &a);
    if (!e && a.n > 64) return cli_usage_error(&cli_cmd_chain, "--n wants 1 to 64 samples");
    return e ? e : with_run(c, &a, 0, CLVAE_CAN_SAMPLE, draw_chain, "chain.png");
}

static int reconstruct_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 16, .label = -1};
    int e = parse(&cli_cmd_reconstruct, "n", argc, argv, &a);
    return e ? e : with_run(c, &a, 1, CLVAE_CAN_RECONSTRUCT, draw_reconstruct, "reconstructions.png");
}

static int manifold_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.grid = 20, .range = 3.0f, .dx = 0, .dy = 1, .label = -1};
    int e = parse(&cli_cmd_manifold, "grdl", argc, argv, &a);
    return e ? e : with_run(c, &a, 0, CLVAE_CAN_DECODE, draw_manifold, "manifold.png");
}

static int latent_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 10000, .dx = 0, .dy = 1, .label = -1};
    int e = parse(&cli_cmd_latent, "ndo", argc, argv, &a);
    return e ? e : with_run(c, &a, !a.over_epochs, CLVAE_CAN_ENCODE, draw_latent,
                            a.over_epochs ? "latent_epochs.png" : "latent.png");
}

static int interpolate_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.steps = 10, .label = -1};
    int e = parse(&cli_cmd_interpolate, "ftp", argc, argv, &a);
    if (e) return e;
    if (!a.has_from || !a.has_to)
        return cli_usage_error(&cli_cmd_interpolate, "--from I and --to J are required");
    return with_run(c, &a, 1, CLVAE_CAN_ENCODE | CLVAE_CAN_DECODE, draw_interpolate,
                    "interpolation.png");
}

static clvae_status_t draw_superres(cli_run_t *r, const fig_args_t *a, char *path,
                                    clvae_error_t *err)
{
    int f = a->factor ? (int)a->factor
            : r->desc.noise.kind == CLVAE_NOISE_DOWNSAMPLE ? r->desc.noise.factor : 2;
    clvae_superres_t sr;
    clvae_status_t s = clvae_superres(r->ctx, r->model, &r->test, f, (size_t)a->count,
                                      (size_t)a->n, path, &sr, err);
    if (s) return s;
    printf("%zu test images of %s at 1/%d resolution (%s):\n", sr.n, r->test.name, f,
           r->desc.noise.kind == CLVAE_NOISE_DOWNSAMPLE && r->desc.noise.factor == f
               ? "the factor the run trained with"
               : "not the run's own training corruption");
    printf("  PSNR restored by the model  %6.2f dB\n", sr.psnr_model);
    printf("  PSNR bilinear upsampling    %6.2f dB\n", sr.psnr_bilinear);
    printf("  PSNR nearest upsampling     %6.2f dB  (the model's input)\n", sr.psnr_nearest);
    return CLVAE_OK;
}

static int superres_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 8, .label = -1, .cmd = "superres"};
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--factor", &v))) {
            if (r < 0 || cli_parse_long(v, 2, 16, &a.factor))
                return cli_usage_error(&cli_cmd_superres, "--factor wants 2 to 16");
        } else if ((r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 32, &a.n))
                return cli_usage_error(&cli_cmd_superres, "--n wants 1 to 32 images to draw");
        } else if ((r = cli_opt(&i, argc, argv, "--count", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000000L, &a.count))
                return cli_usage_error(&cli_cmd_superres, "--count wants a number of test images");
        } else if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_superres, "--out needs a file");
            a.out = v;
        } else if (argv[i][0] != '-' && !a.run) {
            a.run = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_superres, argv[i]);
        }
    }
    if (!a.run) return cli_usage_error(&cli_cmd_superres, "which run (a run folder or a checkpoint file)?");
    return with_run(c, &a, 1, CLVAE_CAN_RECONSTRUCT, draw_superres, "superres.png");
}

static void print_inpaint(cli_run_t *r, const fig_args_t *a, const clvae_inpaint_t *ip)
{
    printf("%zu test images of %s, --mask %s: %zu values missing\n", ip->n, r->test.name,
           a->mask, ip->missing);
    if (r->desc.ddpm) {
        char smp[128];
        cli_sampler_text(r, &a->smp, smp, sizeof smp);
        printf("  PSNR on the missing values, sampled by the diffusion model with the known\n"
               "  values noised to each step and put back (%s)  %6.2f dB\n", smp, ip->psnr_iter);
    } else {
        printf("  PSNR on the missing values, filled by %d passes (known pixels put back) %6.2f "
               "dB\n", ip->iters, ip->psnr_iter);
    }
    if (ip->fit_steps)
        printf("  PSNR, latent fit: %4d Adam steps (rate %g) from the z_mean         %6.2f dB\n",
               ip->fit_steps, a->fit_lr, ip->psnr_fit);
    if (ip->iters)
        printf("  PSNR, one pass (the masked image's reconstruction)               %6.2f dB\n",
               ip->psnr_once);
    printf("  PSNR, left at 0                                                  %6.2f dB\n",
           ip->psnr_zero);
}

static clvae_status_t draw_inpaint(cli_run_t *r, const fig_args_t *a, char *path,
                                   clvae_error_t *err)
{
    clvae_mask_t m;
    clvae_inpaint_t ip;
    clvae_status_t s;
    /* an autoencoder fills by its reconstructions, a diffusion model by its sampler */
    if (!r->desc.ddpm && (s = check_can(r, CLVAE_CAN_RECONSTRUCT, a->cmd, err))) return s;
    if ((s = cli_sampler_apply(r, &a->smp, err))) return s;
    int vae = r->desc.variational && !r->desc.vqvae;
    long fit = a->fit_steps < 0 ? (vae ? 100 : 0) : a->fit_steps;
    if (fit > 0 && !vae)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--fit-steps: %s is a %s; the latent fit "
                          "wants a VAE (a prior on z)", r->ckpath, clvae_model_kind(&r->desc));
    s = clvae_mask_parse(a->mask, r->test.h, r->test.w, &m, err);
    if (!s) s = clvae_inpaint(r->ctx, r->model, &r->test, &m, (int)a->iters, (int)fit,
                              (float)a->fit_lr, (size_t)a->count, (size_t)a->n,
                              (uint64_t)a->seed, path, &ip, err);
    if (!s) print_inpaint(r, a, &ip);
    return s;
}

static int inpaint_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.n = 8, .seed = 1, .iters = 20, .count = 1000, .label = -1, .cmd = "inpaint",
                    .fit_steps = -1, .fit_lr = 0.05, .smp = {0, -1.0f, 0, -1.0f, 0, 0}};
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_sampler_take(&cli_cmd_inpaint, &a.smp, &i, argc, argv))) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(&i, argc, argv, "--mask", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_inpaint, "--mask needs a spec");
            a.mask = v;
        } else if ((r = cli_opt(&i, argc, argv, "--iters", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 1000, &a.iters))
                return cli_usage_error(&cli_cmd_inpaint, "--iters wants 1 to 1000 passes");
        } else if ((r = cli_opt(&i, argc, argv, "--fit-steps", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 10000, &a.fit_steps))
                return cli_usage_error(&cli_cmd_inpaint, "--fit-steps wants 0 to 10000 steps");
        } else if ((r = cli_opt(&i, argc, argv, "--fit-lr", &v))) {
            char *end = NULL;
            a.fit_lr = r < 0 ? 0 : strtod(v, &end);
            if (r < 0 || !end || *end || !(a.fit_lr > 0 && a.fit_lr <= 10))
                return cli_usage_error(&cli_cmd_inpaint, "--fit-lr wants a rate above 0, up to 10");
        } else if ((r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 32, &a.n))
                return cli_usage_error(&cli_cmd_inpaint, "--n wants 1 to 32 images to draw");
        } else if ((r = cli_opt(&i, argc, argv, "--count", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000000L, &a.count))
                return cli_usage_error(&cli_cmd_inpaint, "--count wants a number of test images");
        } else if ((r = cli_opt(&i, argc, argv, "--seed", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 2147483647L, &a.seed))
                return cli_usage_error(&cli_cmd_inpaint, "--seed wants a whole number >= 0");
        } else if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_inpaint, "--out needs a file");
            a.out = v;
        } else if (argv[i][0] != '-' && !a.run) {
            a.run = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_inpaint, argv[i]);
        }
    }
    if (!a.run) return cli_usage_error(&cli_cmd_inpaint, "which run (a run folder or a checkpoint file)?");
    if (!a.mask)
        return cli_usage_error(&cli_cmd_inpaint, "--mask bottom|top|left|right|box:X,Y,W,H|"
                               "random:P: which pixels are missing?");
    return with_run(c, &a, 1, 0, draw_inpaint, "inpaint.png");
}

static clvae_status_t draw_restyle(cli_run_t *r, const fig_args_t *a, char *path,
                                   clvae_error_t *err)
{
    return clvae_fig_restyle(r->ctx, r->model, &r->test, &r->dtest, a->froms, a->nfrom, path,
                             err);
}

static int restyle_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.label = -1, .cmd = "restyle"};
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--from", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_restyle, "--from needs test image indices");
            for (const char *p = v; *p && a.nfrom <= 16;) {
                char *end;
                long k = (*p >= '0' && *p <= '9') ? strtol(p, &end, 10) : -1;
                if (k < 0 || k > 100000000L || (*end && *end != ',') || a.nfrom == 16)
                    return cli_usage_error(&cli_cmd_restyle, "--from wants 1 to 16 test image "
                                           "indices, e.g. 0,1,2");
                a.froms[a.nfrom++] = (size_t)k;
                p = *end ? end + 1 : end;
            }
        } else if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_restyle, "--out needs a file");
            a.out = v;
        } else if (argv[i][0] != '-' && !a.run) {
            a.run = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_restyle, argv[i]);
        }
    }
    if (!a.run) return cli_usage_error(&cli_cmd_restyle, "which run (a run folder or a checkpoint file)?");
    if (!a.nfrom) return cli_usage_error(&cli_cmd_restyle, "--from I[,J,...]: which test images?");
    return with_run(c, &a, 1, CLVAE_CAN_ENCODE | CLVAE_CAN_DECODE, draw_restyle, "restyle.png");
}

static int denoise_run(const cli_common_t *c, int argc, char **argv)
{
    fig_args_t a = {.seed = 1, .count = 10, .label = -1};
    int e = parse(&cli_cmd_denoise, "scz", argc, argv, &a);
    return e ? e : with_run(c, &a, 1, CLVAE_CAN_RECONSTRUCT, draw_denoise, "denoise.png");
}

/* Every figure command's --out: the extension chooses the format. */
#define OUT_NOTE "\n  --out FILE: .png (the picture) or .npy (its pixels, uint8 [H, W] or [H, W, 3]);\n" \
                 "  the folder must exist and be writable (checked before any work)"

const cli_command_t cli_cmd_sample = {
    "sample", "PNG grid of new samples (z ~ N(0, I) decoded; a prior's or a diffusion model's draws)",
    "clvae sample RUN [--n 64] [--seed 1] [--label K] [--out FILE] [--device SPEC]\n"
    "                 [--steps S] [--eta E] [--ancestral] [--guidance G] [--no-clip]\n"
    "                 [--raw-weights]\n"
    "  --label K (conditional models): n samples of class K; without it a conditional model\n"
    "  draws one row per class, each column one z (10 columns, or --n in all)\n"
    "  --steps S, --eta E (diffusion models): DDIM over S evenly spaced steps (2 to T; default\n"
    "  min(T, 50)) with eta from 0 (deterministic, the default) to 1; --ancestral: DDPM over\n"
    "  all T steps with sigma_t^2 = beta_t; --guidance G (conditional diffusion models):\n"
    "  classifier-free guidance eps_u + G (eps_c - eps_u), 0 to 100 (1, the default: the\n"
    "  label's eps alone; 0: no label); each step clips the predicted x_0 to [-1, 1], the\n"
    "  images' range, unless --no-clip. Other kinds refuse them. --raw-weights: a run with\n"
    "  [train] ema samples with the trained weights, not their moving average"
    OUT_NOTE,
    sample_run};
const cli_command_t cli_cmd_chain = {
    "chain", "PNG of a diffusion model's denoising chain, x_T to x_0",
    "clvae chain RUN [--n 4] [--frames 10] [--seed 1] [--label K] [--out FILE] [--device SPEC]\n"
    "                [--steps S] [--eta E] [--ancestral] [--guidance G] [--no-clip]\n"
    "                [--raw-weights]\n"
    "  one row per sample (1 to 64; a conditional model's rows take labels 0, 1, ... or --label\n"
    "  K), --frames F columns (2 to 20, at most the steps + 1) from the noise x_T to the image\n"
    "  x_0, each under the step it shows; the sampler options as for sample (default DDIM over\n"
    "  min(T, 50) steps, eta 0); --raw-weights as for sample"
    OUT_NOTE,
    chain_run};
const cli_command_t cli_cmd_reconstruct = {
    "reconstruct", "PNG of test images above their reconstructions",
    "clvae reconstruct RUN [--n 16] [--out FILE] [--device SPEC]"
    OUT_NOTE,
    reconstruct_run};
const cli_command_t cli_cmd_manifold = {
    "manifold", "PNG of decodes over a grid of two latent dimensions",
    "clvae manifold RUN [--grid 20] [--range 3] [--dims 0,1] [--label K] [--out FILE]\n"
    "       [--device SPEC]\n"
    "  a conditional model needs --label K: the manifold of class K"
    OUT_NOTE,
    manifold_run};
const cli_command_t cli_cmd_latent = {
    "latent", "PNG scatter of the test set's z_mean coloured by class, and a CSV of the points",
    "clvae latent RUN [--n 10000] [--dims 0,1] [--out FILE] [--device SPEC]\n"
    "       clvae latent RUN --over-epochs [--out FILE]\n"
    "  the points go beside FILE, as FILE with .csv for its extension. --over-epochs: the\n"
    "  latent space forming over training, one scatter per snapshot that [train]\n"
    "  snapshot_every = N saved in RUN/latent/ (up to 8, the last always); default FILE\n"
    "  RUN/latent_epochs.png"
    OUT_NOTE,
    latent_run};
const cli_command_t cli_cmd_superres = {
    "superres", "PNG and PSNR of test images restored from low resolution (super-resolution)",
    "clvae superres RUN [--factor F] [--n 8] [--count N] [--out FILE] [--device SPEC]\n"
    "  downsamples the test images (each F x F block averaged and repeated; F: the run's\n"
    "  [noise] factor, else 2), restores them with the model (a run of [noise] type =\n"
    "  downsample, e.g. models/mnist_superres.cfg), and prints the PSNR of the restoration\n"
    "  beside bilinear and nearest upsampling over the first --count test images (default\n"
    "  all); the picture shows --n of them as rows: low resolution, bilinear, restored,\n"
    "  original"
    OUT_NOTE,
    superres_run};

const cli_command_t cli_cmd_inpaint = {
    "inpaint", "PNG and PSNR of test images whose missing pixels a model filled (AE, VAE, DDPM)",
    "clvae inpaint RUN --mask SPEC [--iters 20] [--fit-steps 100] [--fit-lr 0.05]\n"
    "                  [--n 8] [--count 1000] [--seed 1] [--out FILE] [--device SPEC]\n"
    "                  [--steps S] [--eta E] [--ancestral] [--guidance G] [--no-clip]\n"
    "  SPEC: bottom, top, left, right (that half of the image), box:X,Y,W,H (a rectangle),\n"
    "  random:P (each pixel with probability P, from the Philox stream of --seed). The masked\n"
    "  image (missing values 0) goes through the model, the known pixels are put back, --iters\n"
    "  times; prints the PSNR on the missing values over the first --count test images after\n"
    "  all passes, after one, and of leaving them at 0; the picture shows --n of them as rows:\n"
    "  masked, filled, original. A VAE also fills them by the latent fit: z starts at the\n"
    "  masked image's z_mean and takes --fit-steps Adam steps (on the device) on\n"
    "  -log p(x_known | z) - log p(z), then is decoded (a row of its own; --fit-steps 0\n"
    "  skips it). A diffusion model samples the missing values: at every step of its\n"
    "  sampler (the options as for `clvae sample`) the known values, noised to that step,\n"
    "  replace x_t's (a conditional model samples with the image's label). Autoencoders, VAEs\n"
    "  (z = z_mean) and diffusion models; other kinds are refused"
    OUT_NOTE,
    inpaint_run};

const cli_command_t cli_cmd_restyle = {
    "restyle", "PNG of test images' handwriting style carried to every digit (conditional models)",
    "clvae restyle RUN --from I[,J,...] [--out FILE] [--device SPEC]\n"
    "  a conditional model (a CVAE) encodes each test image I (1 to 16 of them) with its\n"
    "  label and decodes that z_mean with every label: one row per image, the image first,\n"
    "  then one column per class (x^ = g(f(x_style), y)); other models are refused"
    OUT_NOTE,
    restyle_run};

const cli_command_t cli_cmd_interpolate = {
    "interpolate", "PNG strip between two test images in latent space",
    "clvae interpolate RUN --from I --to J [--steps 10] [--out FILE] [--device SPEC]"
    OUT_NOTE,
    interpolate_run};
const cli_command_t cli_cmd_denoise = {
    "denoise", "PNG of noisy, clean and denoised test images (three rows)",
    "clvae denoise RUN [--count 10] [--noise gaussian|mask|none] [--std X] [--p X] [--seed 1]\n"
    "       [--out FILE] [--device SPEC]\n"
    "  the noise is the run's [noise] (else Gaussian, std 0.5, clipped to [0, 1]); --noise,\n"
    "  --std and --p override it. Default FILE: RUN/denoise.png"
    OUT_NOTE,
    denoise_run};
