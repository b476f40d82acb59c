/* `clvae train` and `clvae check-config`: configs with overrides, training, figures at the end. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clvae/eval/figures.h"
#include "clvae/eval/figures_gen.h"
#include "clvae/io/fileio.h"
#include "clvae/train/prior.h"
#include "clvae/train/train.h"
#include "clvae/io/clock.h"

/* The one piece of global state: set by SIGINT/SIGTERM, read by the training loop. */
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* check-config lines for the settings of the denoising, annealed and conditional models. */
static void print_family(const clvae_model_desc_t *d)
{
    if (d->variational && d->beta_schedule == CLVAE_BETA_CONSTANT && d->beta != 1.0f)
        printf("beta: %g (constant)\n", (double)d->beta);
    else if (d->variational && d->beta_schedule == CLVAE_BETA_LINEAR)
        printf("beta: linear from %g to %g over %ld epochs, per epoch\n", (double)d->beta_start,
               (double)d->beta_end, d->warmup_epochs);
    else if (d->variational && d->beta_schedule == CLVAE_BETA_CYCLICAL)
        printf("beta: cyclical, %ld-epoch cycles rising from %g to %g over the first %g of each, "
               "per epoch\n", d->cycle_epochs, (double)d->beta_start, (double)d->beta_end,
               (double)d->beta_ramp);
    if (d->noise.kind == CLVAE_NOISE_GAUSSIAN)
        printf("noise: Gaussian, std %g%s, on the training input (the target stays clean)\n",
               (double)d->noise.std, d->noise.clip ? ", clipped to [0, 1]" : "");
    else if (d->noise.kind == CLVAE_NOISE_MASK)
        printf("noise: masking, each value zeroed with probability %g, on the training input "
               "(the target stays clean)\n", (double)d->noise.p);
    else if (d->noise.kind == CLVAE_NOISE_DOWNSAMPLE)
        printf("noise: downsampling by %d (each %dx%d block averaged, a %zux%zu image at full "
               "size) on the training input; the target is the full-resolution image\n",
               d->noise.factor, d->noise.factor, d->noise.factor,
               d->noise.h / (size_t)d->noise.factor, d->noise.w / (size_t)d->noise.factor);
    if (d->conditional && d->gan)
        printf("conditional on %zu classes: the one-hot label joins z (+%zu values) and the "
               "discriminator's input (+%zu channels)\n", d->conditional, d->conditional,
               d->conditional);
    else if (d->conditional && d->ddpm)
        printf("conditional on %zu classes: the one-hot label follows the time features in "
               "[time_embed] (+%zu values); %.0f%% of the training labels are dropped (the null "
               "class) for classifier-free guidance (sample --guidance G)\n", d->conditional,
               d->conditional, 100.0 * (double)d->diff_uncond);
    else if (d->conditional)
        printf("conditional on %zu classes: the one-hot label joins the input (+%zu channels) "
               "and z (+%zu inputs of the first decoder layer)\n", d->conditional,
               d->conditional, d->conditional);
}

static void print_layers(const clvae_model_desc_t *dp, const char *network);

static int check_config_run(const cli_common_t *common, int argc, char **argv)
{
    (void)common;
    cli_cfg_args_t a;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < argc; i++) {
        int r = cli_cfg_take(&cli_cmd_check_config, &a, &i, argc, argv);
        if (r == 2) return 2;
        if (r == 0) return cli_unknown_arg(&cli_cmd_check_config, argv[i]);
    }
    if (!a.path) return cli_usage_error(&cli_cmd_check_config, "which config file?");
    clvae_cfg_t cfg = {0};
    clvae_model_desc_t d;
    memset(&d, 0, sizeof d);
    clvae_error_t err = {0};
    if (cli_cfg_load(&a, &cfg, &d, &err)) {
        int code = cli_report(common, &err);
        clvae_error_clear(&err);
        clvae_cfg_free(&cfg);
        return code;
    }
    char kind[48];
    snprintf(kind, sizeof kind, "%s", d.variational ? "variational autoencoder" : "autoencoder");
    if (d.classes) snprintf(kind, sizeof kind, "classifier of %d classes", d.classes);
    if (d.gan) snprintf(kind, sizeof kind, "generative adversarial network");
    if (d.vqvae) snprintf(kind, sizeof kind, "vector-quantized autoencoder");
    if (d.ddpm) snprintf(kind, sizeof kind, "denoising diffusion model");
    printf("%s: %s (%s), data %s / %s\n", a.path, d.name, kind, d.train_data, d.test_data);
    if (d.gan) {
        printf("train: %ld epochs, batch %zu, seed %llu; %ld discriminator step%s per generator "
               "step; loss: BCE on the discriminator's logit (real label %g), %s generator "
               "loss\n", d.epochs, d.batch, (unsigned long long)d.seed, d.d_steps,
               d.d_steps == 1 ? "" : "s", (double)d.real_label,
               d.saturating ? "saturating log(1 - D(G(z)))" : "non-saturating -log D(G(z))");
        print_family(&d);
        print_layers(&d, "generator");
        print_layers(d.disc, "discriminator");
        clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
        return 0;
    }
    printf("train: %ld epochs, batch %zu, %s lr %g, seed %llu%s%s; loss: %s%s\n", d.epochs,
           d.batch, d.optimizer, (double)d.lr, (unsigned long long)d.seed,
           d.shuffle ? "" : ", no shuffling", d.sample_latent ? "" : ", z = mean",
           d.classes ? "softmax cross-entropy"
           : d.recon == CLVAE_RECON_BCE ? "summed BCE" : d.recon == CLVAE_RECON_MSE_SUM ? "summed MSE" : "mean MSE",
           d.variational ? " + beta KL" : "");
    if (d.ddpm)
        printf("diffusion: T = %zu steps, %s schedule%s; the network predicts the noise eps of "
               "x_t; images in [-1, 1]\n", d.diff_steps,
               d.diff_schedule == CLVAE_SCHEDULE_COSINE ? "cosine" : "linear",
               d.diff_schedule == CLVAE_SCHEDULE_COSINE ? " (s = 0.008, beta <= 0.999)" : "");
    if (d.ddpm && d.diff_schedule == CLVAE_SCHEDULE_LINEAR)
        printf("beta from %g to %g\n", (double)d.diff_beta_start, (double)d.diff_beta_end);
    if (d.vqvae) {
        const clvae_layer_t *q = &d.layers[d.latent];
        printf("quantizer: %zu codes of %zu values, %s, commitment %g%s\n", q->vq_codes,
               q->vq_dim, q->vq_ema ? "codebook by moving averages" : "codebook by its loss term",
               (double)q->vq_beta, q->vq_restart ? ", dead codes restarted" : "");
    }
    print_family(&d);
    print_layers(&d, NULL);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    return 0;
}

/* What the layer table says after a layer's numbers: the latent's heads, a conv's mask. */
static const char *layer_note(const clvae_layer_t *L, int variational)
{
    if (L->kind == CLVAE_LAYER_LATENT)
        return variational ? "  (z_mean, z_log_var heads)" : "  (code)";
    if (L->mask == CLVAE_CONV_MASK_A) return "  (mask A)";
    if (L->mask == CLVAE_CONV_MASK_B) return "  (mask B)";
    return "";
}

/* The table of a network's layer sections (the implicit label layers are the line above),
 * with name = and from = of the layers that read other than the section above; its totals. */
static void print_layers(const clvae_model_desc_t *dp, const char *network)
{
    const clvae_model_desc_t d = *dp;
    if (network)
        printf("%s: %s lr %g, beta1 %g\n", network, d.optimizer, (double)d.lr, (double)d.beta1);
    printf("%-3s %-9s %-15s %-12s %10s %12s\n", "#", "layer", "output (CxHxW)", "activation",
           "params", "MFLOP/img");
    for (int i = 0, n = 0, prev = 0; i < d.nlayers; i++) {
        const clvae_layer_t *L = &d.layers[i];
        if (L->implicit) continue;
        char shape[48], graph[160] = "";
        snprintf(shape, sizeof shape, "%zux%zux%zu", L->out_c, L->out_h, L->out_w);
        size_t params = L->w_len + L->b_len;
        if (L->kind == CLVAE_LAYER_LATENT && d.variational) params *= 2;
        int src = L->nfrom ? L->from[0] : 0;
        if (src > 0 && d.layers[src].implicit) src = d.layers[src].from[0];
        if (L->nfrom > 1 || (i > 0 && L->nfrom && src != prev)) {
            size_t len = (size_t)snprintf(graph, sizeof graph, "  %s <-", L->name);
            for (int k = 0; k < L->nfrom && len < sizeof graph; k++)
                len += (size_t)snprintf(graph + len, sizeof graph - len, "%s %s", k ? "," : "",
                                        d.layers[L->from[k]].name);
        }
        printf("%-3d %-9s %-15s %-12s %10zu %12.3f%s%s\n", n++, clvae_layer_kind_name(L->kind),
               shape,
               L->kind == CLVAE_LAYER_INPUT || L->kind == CLVAE_LAYER_FLATTEN ||
                       L->kind == CLVAE_LAYER_RESHAPE || L->kind == CLVAE_LAYER_CONCAT
                   ? "-"
                   : clvae_act_name(L->act),
               params, L->flops / 1e6, layer_note(L, d.variational), graph);
        prev = i;
    }
    double f = clvae_model_flops(&d);
    printf("total: %zu parameters, %.3f MFLOP per image forward, about %.3f MFLOP per training "
           "image (forward + backward)\n",
           d.nparams, f / 1e6, 3.0 * f / 1e6);
}

typedef struct progress_state {
    int tty;
    int show_beta;          /* the KL weight changes over the epochs: print it */
    int classifier;  /* the metrics are loss, cross-entropy, accuracy */
    FILE *out;       /* where the epoch lines go: stdout, or stderr under --json */
    clvae_epoch_metrics_t last; /* the last finished epoch's row (last.epoch 0: none) */
    int autoencoder; /* the metrics are loss, recon, KL */
    const char *const *cols; /* otherwise: the objective's columns, printed by name */
    int ncols;
    const char *dir;         /* with rows: each epoch's row of fixed-z samples goes to
                                DIR/progress/epoch_NNN.png (a GAN) */
    int rows;
    clvae_dataset_t shape;   /* the images' shape */
    long snapshot_every;     /* [train] snapshot_every: DIR/latent/epoch_NNN.png and .csv */
    clvae_dataset_t snap;    /* the test set they encode (loaded at the first snapshot) */
    clvae_data_dev_t dsnap;
    int log_json;            /* --log-json: a JSON line on stdout at every loss readback */
    clvae_program_stats_t built; /* the kernel builds already reported */
} progress_state_t;

/* The seed of the fixed z of the progress rows. */
#define PROGRESS_SEED 0x5eedULL

/* An epoch's row of progress.png; a failure is a warning (the run goes on). */
static void progress_row(const progress_state_t *ps, const clvae_progress_t *p)
{
    char path[4200];
    clvae_error_t err = {0};
    snprintf(path, sizeof path, "%.4000s/progress", ps->dir);
    clvae_status_t s = clvae_mkdirs(path) == 0 ? CLVAE_OK
                       : CLVAE_FAIL(&err, CLVAE_ERR_IO, "cannot create %s", path);
    snprintf(path, sizeof path, "%.4000s/progress/epoch_%03ld.png", ps->dir, p->epoch);
    if (!s) s = clvae_fig_progress_row(clvae_objective_ctx(p->model), p->model, &ps->shape, 10,
                                       PROGRESS_SEED, path, &err);
    if (s) fprintf(stderr, "clvae: warning: epoch %ld's progress row not drawn: %s\n", p->epoch,
                   err.msg);
    clvae_error_clear(&err);
}

/* An epoch's latent snapshot (the scatter of the first 2,000 test images' z_mean, and their
 * CSV) into DIR/latent/; a failure is a warning (the run goes on). */
static void latent_snapshot(progress_state_t *ps, const clvae_progress_t *p)
{
    char path[4200], csv[4200];
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = clvae_objective_ctx(p->model);
    const clvae_model_desc_t *d = clvae_objective_net_desc(p->model, 0);
    snprintf(path, sizeof path, "%.4000s/latent", ps->dir);
    clvae_status_t s = clvae_mkdirs(path) == 0 ? CLVAE_OK
                       : CLVAE_FAIL(&err, CLVAE_ERR_IO, "cannot create %s", path);
    if (!s && !ps->snap.n && !(s = clvae_dataset_open(d->test_data, cli_data_dir(), &ps->snap, &err)))
        s = clvae_data_upload(ctx, &ps->snap, &ps->dsnap, &err);
    snprintf(path, sizeof path, "%.4000s/latent/epoch_%03ld.png", ps->dir, p->epoch);
    snprintf(csv, sizeof csv, "%.4000s/latent/epoch_%03ld.csv", ps->dir, p->epoch);
    if (!s) s = clvae_fig_latent(ctx, p->model, &ps->snap, &ps->dsnap, 2000, 0, 1, path, csv, &err);
    if (s) fprintf(stderr, "clvae: warning: epoch %ld's latent snapshot not drawn: %s\n",
                   p->epoch, err.msg);
    clvae_error_clear(&err);
}

/* The kernel builds of the epoch (the first, or one that met a new kernel file), when they took
 * more than a blink: they are in the epoch's time, and the next run loads them from the cache. */
static void kernel_builds(progress_state_t *ps, const clvae_progress_t *p)
{
    if (!p->model) return;
    clvae_program_stats_t st = clvae_ctx_program_stats(clvae_objective_ctx(p->model));
    int built = st.built_from_source - ps->built.built_from_source;
    int loaded = st.disk_hits - ps->built.disk_hits;
    double secs = st.build_seconds - ps->built.build_seconds;
    if (secs >= 0.5 && (built || loaded))
        fprintf(ps->out, "  kernels: %d built from source, %d loaded from the cache, in %.1f s "
                "(part of the epoch's time; the next run loads them from the cache)\n", built,
                loaded, secs);
    ps->built = st;
}

/* "loss 2.079 (d_loss 1.386, g_loss 0.693, ...)": an objective's columns by name. */
static void print_columns(const progress_state_t *ps, const double *v)
{
    fprintf(ps->out, "%s %.3f (", ps->cols[0], v[0]);
    for (int q = 1; q < ps->ncols; q++)
        fprintf(ps->out, "%s%s %.3f", q > 1 ? ", " : "", ps->cols[q], v[q]);
    fprintf(ps->out, ")");
}

static void on_progress(void *user, const clvae_progress_t *p)
{
    progress_state_t *ps = user;
    if (p->epoch_done) {
        const clvae_epoch_metrics_t *m = p->metrics;
        ps->last = *m;
        if (ps->tty) fprintf(stderr, "\r\033[K");
        if (isnan(m->test[0])) { /* an epoch without a test pass (train.test_every) */
            fprintf(ps->out, "epoch %ld/%ld  ", m->epoch, p->epochs);
            print_columns(ps, m->train);
            fprintf(ps->out, "  (no test pass)  %.1f s  %.0f img/s\n", m->seconds,
                    m->images_per_s);
        } else if (ps->classifier)
            fprintf(ps->out, "epoch %ld/%ld  loss %.4f  accuracy %.2f%%  test loss %.4f  test "
                    "accuracy %.2f%%  %.1f s  %.0f img/s\n",
                    m->epoch, p->epochs, m->train[0], 100.0 * m->train[2], m->test[0],
                    100.0 * m->test[2], m->seconds, m->images_per_s);
        else if (ps->autoencoder)
            fprintf(ps->out, "epoch %ld/%ld  loss %.3f (recon %.3f, KL %.3f)  test %.3f (recon "
                    "%.3f, KL %.3f)  %.1f s  %.0f img/s\n",
                    m->epoch, p->epochs, m->train[0], m->train[1], m->train[2], m->test[0],
                    m->test[1], m->test[2], m->seconds, m->images_per_s);
        else {
            fprintf(ps->out, "epoch %ld/%ld  ", m->epoch, p->epochs);
            print_columns(ps, m->train);
            fprintf(ps->out, "  test ");
            print_columns(ps, m->test);
            fprintf(ps->out, "  %.1f s  %.0f img/s\n", m->seconds, m->images_per_s);
        }
        if (ps->show_beta)
            fprintf(ps->out, "  beta %g (test loss: beta 1, the negative ELBO)\n", m->beta);
        if (p->test_n)
            fprintf(ps->out, "  test pass: %zu images in %.1f s (train.test_limit, "
                    "--test-limit N)\n", p->test_n, p->test_seconds);
        kernel_builds(ps, p);
        if (ps->rows && p->model) progress_row(ps, p);
        if (ps->snapshot_every && p->model &&
            (m->epoch % ps->snapshot_every == 0 || m->epoch == p->epochs))
            latent_snapshot(ps, p);
        fflush(ps->out);
        if (p->skipped)
            fprintf(stderr, "clvae: warning: epoch %ld: %ld of %zu steps skipped (NaN or infinite "
                    "loss or gradient)\n", m->epoch, p->skipped, p->nbatches);
        return;
    }
    if (ps->log_json && p->fresh) {
        printf("{\"epoch\": %ld, \"batch\": %zu, \"batches\": %zu, \"step\": %ld, "
               "\"examples\": %zu, \"loss\": %.6g, \"images_per_s\": %.1f, \"seconds\": %.3f}\n",
               p->epoch, p->batch, p->nbatches, p->step, p->seen, p->loss, p->images_per_s,
               p->seconds);
        fflush(stdout);
    }
    if (!ps->tty) return;
    if (p->test_n) { /* the test pass begins: say so in place of the bar */
        fprintf(stderr, "\r\033[Kepoch %ld/%ld  trained in %.1f s (loss %.3f); testing on %zu "
                "images ...", p->epoch, p->epochs, p->seconds, p->loss, p->test_n);
        fflush(stderr);
        return;
    }
    /* the bar takes what the terminal's width leaves beside the text (10 to 60 columns) */
    struct winsize ws;
    int cols = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
    int width = cols - 75 < 10 ? 10 : cols - 75 > 60 ? 60 : cols - 75;
    int done = (int)((double)width * (double)p->batch / (double)p->nbatches);
    char bar[64];
    for (int k = 0; k < width; k++) bar[k] = k < done ? '=' : (k == done ? '>' : ' ');
    bar[width] = 0;
    /* batch: those the device finished; before the first readback there is no loss yet */
    char loss[48] = "loss -", eta[16] = "-:--";
    if (p->seen) snprintf(loss, sizeof loss, "loss %.3f  %.0f img/s", p->loss, p->images_per_s);
    if (p->batch) {
        int s = (int)(p->seconds * (double)(p->nbatches - p->batch) / (double)p->batch);
        snprintf(eta, sizeof eta, "%d:%02d", s / 60, s % 60);
    }
    fprintf(stderr, "\r\033[Kepoch %ld/%ld [%s] %zu/%zu  %s  %d:%02d, ETA %s", p->epoch,
            p->epochs, bar, p->batch, p->nbatches, loss, (int)p->seconds / 60,
            (int)p->seconds % 60, eta);
    fflush(stderr);
}

/* Draws every figure of a finished run into its folder; the list of files into figs. */
static int draw_figures(const cli_common_t *common, const char *dir, FILE *out, char *figs,
                        size_t figs_size)
{
    cli_run_t r;
    clvae_error_t err = {0};
    char p1[4200], p2[4200];
    clvae_status_t s = cli_run_open(&r, common, dir, 256, &err);
    if (!s) s = cli_run_test_data(&r, &err);
    size_t J = s ? 0 : clvae_objective_latent_dim(r.model);
    size_t K = s ? 0 : r.desc.conditional;
    unsigned can = clvae_objective_can(&r.desc);
    int encode = (can & CLVAE_CAN_ENCODE) != 0, recon = (can & CLVAE_CAN_RECONSTRUCT) != 0;
    /* a stop request (Ctrl-C) ends the drawing between two figures */
    if (!s && !stop_requested && (can & CLVAE_CAN_SAMPLE)) {
        /* a conditional model: one row of 10 per class; a diffusion model 16 images of DDIM
         * over 10 steps (each step is a pass of the network: `clvae sample` draws more) */
        snprintf(p1, sizeof p1, "%.4000s/samples.png", dir);
        size_t ns = K ? 10 * K : 64;
        if (r.desc.ddpm) {
            clvae_ddpm_sampler_t quick = {r.desc.diff_steps < 10 ? r.desc.diff_steps : 10, 0.0f, 0,
                                          1.0f, 1};
            s = clvae_objective_ddpm_set_sampler(r.model, &quick, &err);
            ns = 16;
        }
        if (!s) s = clvae_fig_samples(r.ctx, r.model, &r.test, ns, 1, p1, &err);
        if (!s && r.desc.ddpm) {
            /* the denoising chain of 4 samples over the same 10 DDIM steps */
            snprintf(p1, sizeof p1, "%.4000s/chain.png", dir);
            s = clvae_fig_chain(r.model, &r.test, 4, r.desc.diff_steps < 10 ? r.desc.diff_steps : 10,
                                1, -1, "DDIM over 10 steps, eta 0", p1, &err);
        }
    }
    if (getenv("CLVAE_FAULT_STOP_FIGURES")) stop_requested = 1; /* test hook: Ctrl-C here */
    if (!s && !stop_requested && r.desc.noise.kind != CLVAE_NOISE_NONE) {
        snprintf(p1, sizeof p1, "%.4000s/denoise.png", dir);
        s = clvae_fig_denoise(r.ctx, r.model, &r.test, r.test.n < 10 ? r.test.n : 10,
                              &r.desc.noise, 1, p1, &err);
    }
    if (!s && !stop_requested && recon) {
        snprintf(p1, sizeof p1, "%.4000s/reconstructions.png", dir);
        s = clvae_fig_reconstruct(r.ctx, r.model, &r.test, &r.dtest, 16, p1, &err);
    }
    if (!s && !stop_requested && encode && J >= 2 && !K) {
        snprintf(p1, sizeof p1, "%.4000s/manifold.png", dir);
        s = clvae_fig_manifold(r.ctx, r.model, &r.test, 20, 3.0f, 0, 1, p1, &err);
    }
    if (!s && !stop_requested && encode) {
        snprintf(p1, sizeof p1, "%.4000s/latent.png", dir);
        snprintf(p2, sizeof p2, "%.4000s/latent.csv", dir);
        s = clvae_fig_latent(r.ctx, r.model, &r.test, &r.dtest, 0, 0, J >= 2 ? 1 : 0, p1, p2, &err);
    }
    if (!s && !stop_requested) {
        clvae_epoch_metrics_t *rows = NULL;
        size_t n = 0;
        s = clvae_metrics_parse(r.ck.metrics, &rows, &n, &err);
        snprintf(p1, sizeof p1, "%.4000s/loss.png", dir);
        const char *const *cols;
        clvae_objective_columns(&r.desc, &cols);
        /* with the per-readback curve of steps.csv when the run has one */
        char *steps = NULL;
        snprintf(p2, sizeof p2, "%.4000s/steps.csv", dir);
        clvae_error_t ignored = {0};
        if (clvae_file_read(p2, (size_t)1 << 28, "steps.csv", &steps, NULL, &ignored))
            steps = NULL;
        clvae_error_clear(&ignored);
        if (!s && n) s = clvae_fig_loss(rows, n, cols, r.desc.name, steps, p1, &err);
        free(steps);
        snprintf(p1, sizeof p1, "%.4000s/progress.png", dir);
        if (!s && n && r.desc.gan) s = clvae_fig_progress_strip(dir, (long)n, p1, &err);
        free(rows);
    }
    int code = s ? cli_report(common, &err) : 0;
    if (!s && stop_requested) {
        fprintf(out, "interrupted while drawing the figures: the run in %s is complete; draw them "
                "with `clvae figures %s`\n", dir, dir);
        code = 130;
    } else if (!s) {
        const char *names[] = {(can & CLVAE_CAN_SAMPLE) ? "samples.png" : NULL,
                               recon ? "reconstructions.png" : NULL,
                               encode && J >= 2 && !K ? "manifold.png" : NULL,
                               r.desc.noise.kind != CLVAE_NOISE_NONE ? "denoise.png" : NULL,
                               encode ? "latent.png" : NULL, "loss.png",
                               r.desc.gan ? "progress.png" : NULL,
                               encode ? "latent.csv" : NULL};
        size_t len = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && len < figs_size; k++)
            if (names[k])
                len += (size_t)snprintf(figs + len, figs_size - len, "%s%s", len ? "," : "",
                                        names[k]);
        fprintf(out, "figures: %s/{%s}\n", dir, figs);
    }
    clvae_error_clear(&err);
    cli_run_close(&r);
    return code;
}

/* Ctrl-C and SIGTERM set stop_requested (on), or end the process again (off). */
static void catch_stop_signals(int on)
{
    if (!on) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Where a checkpoint stands, in words ("epoch 3 done", "epoch 2, 40 batches done"). */
static const char *where_stopped(const char *ckpath, char *buf, size_t size)
{
    clvae_checkpoint_t ck;
    clvae_error_t err = {0};
    snprintf(buf, size, "its position unknown");
    if (clvae_checkpoint_read(ckpath, &ck, &err) == CLVAE_OK && ck.has_state) {
        if (ck.state.cursor)
            snprintf(buf, size, "epoch %ld done, then %zu batches of epoch %ld", ck.state.epoch,
                     ck.state.cursor, ck.state.epoch + 1);
        else
            snprintf(buf, size, "epoch %ld done", ck.state.epoch);
    }
    clvae_checkpoint_free(&ck);
    clvae_error_clear(&err);
    return buf;
}

/* clvae figures RUN: every figure of a run, drawn again (the loss curve included). */
static int figures_run(const cli_common_t *common, int argc, char **argv)
{
    const char *run = NULL;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' || run) return cli_unknown_arg(&cli_cmd_figures, argv[i]);
        run = argv[i];
    }
    if (!run) return cli_usage_error(&cli_cmd_figures, "which run folder?");
    struct stat sb;
    if (stat(run, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return cli_usage_error(&cli_cmd_figures, "%s is not a run folder", run);
    catch_stop_signals(1);
    char figs[512] = "";
    int code = draw_figures(common, run, stdout, figs, sizeof figs);
    catch_stop_signals(0);
    return code;
}

const cli_command_t cli_cmd_figures = {
    "figures", "draw a run's figures again: samples, reconstructions, ..., loss curve",
    "clvae figures RUN\n"
    "  RUN is a run folder. Draws every figure its model allows into it, as `clvae train` does\n"
    "  at the end of a run (samples, reconstructions, manifold, latent, denoise, progress,\n"
    "  loss.png from metrics.csv); a classifier gets loss.png. Ctrl-C stops between two\n"
    "  figures (exit 130).",
    figures_run};

/* 1 when path names a run (a folder, or a .safetensors file) rather than a config file. */
static int is_run(const char *path)
{
    struct stat sb;
    size_t n = strlen(path);
    return (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) ||
           (n > 12 && strcmp(path + n - 12, ".safetensors") == 0);
}

/* The end of `train --json`: one JSON object with the run's paths, its state, the last
 * epoch's losses by column and the time taken. */
static void print_json(const char *dir, const clvae_model_desc_t *d, const progress_state_t *ps,
                       const char *status, double seconds, const char *figs)
{
    char path[4300];
    printf("{\"run\": ");
    cli_json_string(stdout, dir);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    printf(", \"checkpoint\": ");
    cli_json_string(stdout, path);
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    printf(", \"metrics\": ");
    cli_json_string(stdout, path);
    printf(", \"model\": ");
    cli_json_string(stdout, d->name);
    printf(", \"status\": \"%s\", \"epochs\": %ld, \"seconds\": %.3f", status, d->epochs, seconds);
    if (ps->last.epoch) {
        const char *const *cols;
        int n = clvae_objective_columns(d, &cols);
        printf(", \"epoch\": %ld, \"train\": {", ps->last.epoch);
        for (int q = 0; q < n; q++) printf("%s\"%s\": %.6f", q ? ", " : "", cols[q], ps->last.train[q]);
        printf("}, \"test\": {");
        for (int q = 0; q < n; q++) printf("%s\"%s\": %.6f", q ? ", " : "", cols[q], ps->last.test[q]);
        printf("}, \"epoch_seconds\": %.3f, \"images_per_s\": %.1f", ps->last.seconds,
               ps->last.images_per_s);
    }
    printf(", \"figures\": [");
    for (const char *p = figs; *p;) {
        size_t len = strcspn(p, ",");
        snprintf(path, sizeof path, "%s/%.*s", dir, (int)len, p);
        printf("%s", p == figs ? "" : ", ");
        cli_json_string(stdout, path);
        p += len + (p[len] == ',');
    }
    printf("]}\n");
    fflush(stdout);
}


/* train's options into a and the flags; 0, or the exit status of a usage error. */
static int train_args(int argc, char **argv, cli_cfg_args_t *a, const char **out,
                      const char **init, int *resume, int *figures, int *json)
{
    memset(a, 0, sizeof *a);
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0 || !*v) return cli_usage_error(&cli_cmd_train, "--out needs a folder");
            *out = v;
        } else if ((r = cli_opt(&i, argc, argv, "--init", &v))) {
            if (r < 0)
                return cli_usage_error(&cli_cmd_train, "--init needs a run folder or a "
                                       ".safetensors file");
            *init = v;
        } else if (strcmp(argv[i], "--resume") == 0) {
            *resume = 1;
        } else if (strcmp(argv[i], "--no-figures") == 0) {
            *figures = 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            *json |= 1;
        } else if (strcmp(argv[i], "--log-json") == 0) {
            *json |= 2;
        } else if ((r = cli_cfg_take(&cli_cmd_train, a, &i, argc, argv))) {
            if (r == 2) return 2;
        } else {
            return cli_unknown_arg(&cli_cmd_train, argv[i]);
        }
    }
    if (!a->path) return cli_usage_error(&cli_cmd_train, "which config file (or, with --resume, run)?");
    if (*resume && *init)
        return cli_usage_error(&cli_cmd_train, "--resume and --init exclude each other");
    return 0;
}

/* The epoch printer's settings for model d, its lines going to out. */
static progress_state_t progress_state_of(const clvae_model_desc_t *d, FILE *out, const char *dir)
{
    progress_state_t ps = {isatty(2),
                           d->variational && (d->beta_schedule != CLVAE_BETA_CONSTANT || d->beta != 1.0f),
                           d->classes > 0, out, {0}, !d->classes && !d->gan && !d->vqvae && !d->prior && !d->ddpm, NULL, 0, dir, d->gan, {0}, 0, {0}, {0}, 0, {0, 0, 0, 0, 0.0}};
    ps.ncols = clvae_objective_columns(d, &ps.cols);
    if (clvae_objective_can(d) & CLVAE_CAN_ENCODE) ps.snapshot_every = d->snapshot_every;
    ps.shape.c = clvae_objective_image_layer(d)->out_c;
    ps.shape.h = clvae_objective_image_layer(d)->out_h;
    ps.shape.w = clvae_objective_image_layer(d)->out_w;
    return ps;
}

/* A prior's config records the sha256 of its VQ-VAE's checkpoint (kept in the prior's
 * checkpoint, so that sampling refuses a VQ-VAE changed since); a run without a checkpoint is
 * left for the trainer to report. */
static int prior_record_hash(clvae_cfg_t *cfg, clvae_model_desc_t *d, clvae_error_t *err)
{
    char path[4200], hex[65], set[128];
    if (d->codes_sha256[0]) return 0;
    cli_run_path(d->codes_run, path, sizeof path);
    if (clvae_file_sha256(path, hex, err)) {
        clvae_error_clear(err);
        return 0;
    }
    snprintf(set, sizeof set, "data.codes_sha256=%s", hex);
    if (clvae_cfg_set(cfg, set, err)) return -1;
    snprintf(d->codes_sha256, sizeof d->codes_sha256, "%s", hex);
    return 0;
}

/* Where the run to resume stands, said before any work: -1 on an error (in err), 1 when it
 * has nothing to do (it says so; metrics.csv is rewritten from the checkpoint, as every
 * resume does), 0 to go on. ck is read here unless already. */
static int resume_position(clvae_checkpoint_t *ck, const char *ckpath,
                           const clvae_model_desc_t *d, const char *dir, FILE *hout, int json,
                           clvae_error_t *err)
{
    struct stat sb;
    if (!ck->file && stat(ckpath, &sb) != 0) {
        CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot resume: no checkpoint %s (%s); start the run "
                   "without --resume", ckpath, strerror(errno));
        return -1;
    }
    if (!ck->file && clvae_checkpoint_read(ckpath, ck, err)) return -1;
    if (ck->has_state && ck->state.cursor == 0 && ck->state.epoch >= d->epochs) {
        char mpath[4300];
        snprintf(mpath, sizeof mpath, "%s/metrics.csv", dir);
        if (ck->metrics && *ck->metrics &&
            clvae_write_file_atomic(mpath, ck->metrics, strlen(ck->metrics), err))
            return -1;
        fprintf(hout, "%s is at epoch %ld of %ld: nothing to do (raise --epochs to go on)\n",
                dir, ck->state.epoch, d->epochs);
        if (json & 1) print_json(dir, d, &(progress_state_t){0}, "nothing to do", 0.0, "");
        return 1;
    }
    if (ck->has_state)
        fprintf(hout, "resuming %s: epoch %ld of %ld done; continuing with epoch %ld at batch %zu "
                "(step %ld)\n", dir, ck->state.epoch, d->epochs, ck->state.epoch + 1,
                ck->state.cursor + 1, ck->state.step + 1);
    return 0;
}

/* --init RUN: its checkpoint's path into buf, which exists; NULL with err set. */
static const char *init_path(const char *init, char *buf, size_t size, clvae_error_t *err)
{
    cli_run_path(init, buf, size);
    struct stat sb;
    if (stat(buf, &sb) == 0) return buf;
    CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--init %s: %s", buf, strerror(errno));
    return NULL;
}

/* After training: where an interrupted run stands (130), or done and the figures (when
 * draw). */
static int after_training(const cli_common_t *common, FILE *hout, int interrupted, int tty,
                          const char *dir, const char *ckpath, int draw, char *figs,
                          size_t fsize)
{
    char where[160];
    if (interrupted) {
        if (tty) fprintf(stderr, "\n");
        fprintf(hout, "interrupted: the checkpoint in %s holds the state (%s); continue with "
                "`clvae train %s --resume`\n", dir, where_stopped(ckpath, where, sizeof where),
                dir);
        return 130;
    }
    fprintf(hout, "done: %s/checkpoint.safetensors, %s/metrics.csv\n", dir, dir);
    return draw ? draw_figures(common, dir, hout, figs, fsize) : 0;
}

/* This process's communicator, rank and rank count; a rank other than 0 writes its messages
 * to /dev/null (*quiet, to close). */
static clvae_status_t open_ranks(clvae_comm_t **comm, int *rank, int *nranks, FILE **hout,
                                 FILE **quiet, clvae_error_t *err)
{
    clvae_status_t s = clvae_comm_open(comm, err);
    if (s) return s;
    *rank = clvae_comm_rank(*comm);
    *nranks = clvae_comm_size(*comm);
    if (*rank && !(*hout = *quiet = fopen("/dev/null", "w")))
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot open /dev/null: %s", strerror(errno));
    return CLVAE_OK;
}

/* 2 (said by rank 0: every rank finds it) when the global batch does not split over the
 * ranks, else 0. */
static int uneven_batch(const clvae_model_desc_t *d, int rank, int nranks)
{
    if (nranks < 2 || d->batch % (size_t)nranks == 0) return 0;
    if (!rank)
        cli_usage_error(&cli_cmd_train, "train.batch = %zu does not split evenly over %d ranks: "
                        "use a multiple of %d (the global batch is split, each rank trains on "
                        "batch / %d examples)", d->batch, nranks, nranks, nranks);
    return 2;
}

/* RUN --resume: the run's folder and checkpoint path, its checkpoint read into ck and its
 * config into a; 0, a usage error's exit status (said), or -1 with err set. */
static int run_folder(cli_cfg_args_t *a, const char **out, int resume, char *dir, size_t dsize,
                      char *ckpath, size_t csize, clvae_checkpoint_t *ck, clvae_error_t *err)
{
    if (!resume)
        return cli_usage_error(&cli_cmd_train, "%s is a run, not a config file: continue it "
                               "with `clvae train %s --resume`, or give a config to start a new "
                               "run", a->path, a->path);
    if (*out)
        return cli_usage_error(&cli_cmd_train, "--resume %s continues in the run's own folder: "
                               "leave out --out", a->path);
    cli_run_path(a->path, ckpath, csize);
    snprintf(dir, dsize, "%.4150s", ckpath);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    else snprintf(dir, dsize, ".");
    if (clvae_checkpoint_read(ckpath, ck, err)) return -1;
    a->text = ck->config;
    *out = dir;
    return 0;
}

/* The run's first line: the device (one process), or the ranks and batch split, each rank
 * naming its device on stdout. */
static void say_start(FILE *hout, const clvae_model_desc_t *d, const clvae_device_info_t *dev,
                      int rank, int nranks, int shared, const char *dir, int resume)
{
    if (nranks > 1) {
        printf("rank %d of %d: %s (%d:%d %s)%s\n", rank, nranks, dev->name, dev->platform,
               dev->device, clvae_device_type_name(dev->type),
               shared > 1 ? ", shared with other ranks" : "");
        fflush(stdout);
        fprintf(hout, "training %s on %d ranks (batches of %zu, %zu per rank) into %s%s\n",
                d->name, nranks, d->batch, d->batch / (size_t)nranks, dir,
                resume ? " (resuming)" : "");
    } else {
        fprintf(hout, "training %s on %s (%d:%d %s) into %s%s\n", d->name, dev->name,
                dev->platform, dev->device, clvae_device_type_name(dev->type), dir,
                resume ? " (resuming)" : "");
    }
    fflush(hout);
}

/* The gradient sum's piece size: CLVAE_BUCKET_MB (MiB, 0.01 to 1024; default 1). */
static size_t bucket_floats(void)
{
    const char *v = getenv("CLVAE_BUCKET_MB");
    double mb = v ? atof(v) : 1.0;
    if (!(mb >= 0.01 && mb <= 1024)) mb = 1.0;
    return (size_t)(mb * 1048576.0 / 4.0);
}

/* Where a data-parallel step of rank 0 went (after training under mpirun). */
static void print_step_account(FILE *out, int nranks, const clvae_train_comm_stats_t *c)
{
    double k = 1000.0 / (double)c->steps, comm = c->sum_s + c->writeback_s;
    fprintf(out, "rank 0 of %d, per step: %.1f ms in all; ", nranks, c->step_s * k);
    if (c->overlapped)
        fprintf(out, "%.2f ms waiting for the backward pass's gradients (the sum overlaps it), "
                "%.2f ms sum over the ranks after that, %.2f ms write-back", c->readback_s * k,
                c->sum_s * k, c->writeback_s * k);
    else
        fprintf(out, "%.2f ms gradient read-back, %.2f ms waiting for the other ranks, %.2f ms "
                "sum over the ranks, %.2f ms write-back", c->readback_s * k, c->wait_s * k,
                c->sum_s * k, c->writeback_s * k);
    if (!c->overlapped) comm += c->readback_s;
    fprintf(out, " (%.1f%% of the step); %.0f KiB sent in %.1f pieces of at most %.2g MiB\n",
            100.0 * comm / (c->step_s - c->wait_s > 0 ? c->step_s - c->wait_s : 1e-9),
            c->bytes_sent / (double)c->steps / 1024.0, c->pieces / (double)c->steps,
            (double)bucket_floats() * 4.0 / 1048576.0);
}

/* Whether the gradient sum waits for the whole backward pass: CLVAE_OVERLAP=0 (wait) or 1
 * (overlap); by default it overlaps on GPUs and accelerators and waits on a CPU device, whose
 * cores MPI's waiting (a busy poll in Open MPI) would take from the device's own work (measured:
 * no gain on pocl). */
static int overlap_off(const clvae_device_info_t *dev)
{
    const char *v = getenv("CLVAE_OVERLAP");
    if (v && strcmp(v, "0") == 0) return 1;
    if (v && strcmp(v, "1") == 0) return 0;
    return (dev->type & CL_DEVICE_TYPE_CPU) != 0;
}

static int train_run(const cli_common_t *common, int argc, char **argv)
{
    cli_cfg_args_t a;
    const char *out = NULL, *init = NULL;
    int resume = 0, figures = 1, json = 0;
    int bad = train_args(argc, argv, &a, &out, &init, &resume, &figures, &json);
    if (bad) return bad;
    clvae_cfg_t cfg = {0};
    clvae_model_desc_t d;
    memset(&d, 0, sizeof d);
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    clvae_checkpoint_t ck;
    memset(&ck, 0, sizeof ck);
    char *text = NULL, dir[4200], ckpath[4300], initpath[4200], created[4200] = "", figs[256] = "";
    int code = 0, interrupted = 0, prepared = 0, shared = 1, rank = 0, nranks = 1, agreed = 0;
    double t_start = clvae_seconds();
    FILE *hout = json ? stderr : stdout, *quiet = NULL;
    clvae_comm_t *comm = NULL;
    /* RUN --resume: the run's own config (from its checkpoint) and folder */
    if (is_run(a.path)) {
        if ((bad = run_folder(&a, &out, resume, dir, sizeof dir, ckpath, sizeof ckpath, &ck,
                              &err)) > 0)
            return bad;
        if (bad) goto fail;
    }
    if (cli_cfg_load(&a, &cfg, &d, &err)) goto fail;
    /* under mpirun: one rank of a data-parallel run; rank 0 speaks and writes, the others
     * only say which device they use (and their errors) */
    if (open_ranks(&comm, &rank, &nranks, &hout, &quiet, &err)) goto fail;
    if ((code = agreed = uneven_batch(&d, rank, nranks))) goto out;
    if (d.prior && prior_record_hash(&cfg, &d, &err)) goto fail;
    if (!(text = clvae_cfg_format(&cfg))) {
        CLVAE_FAIL(&err, CLVAE_ERR_NOMEM, "out of host memory");
        goto fail;
    }
    if (out != dir) {
        snprintf(dir, sizeof dir, "%s", out ? out : "");
        if (!out) snprintf(dir, sizeof dir, "runs/%s", d.name);
    }
    snprintf(ckpath, sizeof ckpath, "%s/checkpoint.safetensors", dir);
    if (init && !(init = init_path(init, initpath, sizeof initpath, &err))) goto fail;
    /* --resume: where the run is, before any work */
    if (resume) {
        int st = resume_position(&ck, ckpath, &d, dir, hout, json, &err);
        if (st < 0) goto fail;
        if (st > 0) goto out;
    }
    /* the run folder can be made and written before any work; a start that fails leaves
     * nothing it made */
    if (!rank && clvae_dir_prepare(dir, created, sizeof created, &err)) goto fail;
    prepared = !rank;
    if (cli_ctx_open_rank(common, comm, &ctx, &shared, &err)) goto fail;
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    say_start(hout, &d, dev, rank, nranks, shared, dir, resume);
    cli_tuning_note(ctx);
    progress_state_t ps = progress_state_of(&d, hout, dir);
    clvae_train_comm_stats_t cst = {0};
    ps.log_json = (json & 2) != 0;
    clvae_train_opts_t o = {dir, text, cli_data_dir(), resume, init, 0,
                            rank ? NULL : on_progress, &ps, &stop_requested, comm,
                            bucket_floats(), NULL, &cst, overlap_off(dev)};
    catch_stop_signals(1);
    clvae_status_t trained = clvae_train_run(ctx, &d, &o, &interrupted, &err);
    clvae_data_dev_free(&ps.dsnap);
    clvae_dataset_free(&ps.snap);
    if (trained) goto fail;
    if (nranks > 1 && cst.steps) print_step_account(hout, nranks, &cst);
    clvae_ctx_free(ctx);
    ctx = NULL;
    code = after_training(common, hout, interrupted, ps.tty, dir, ckpath, figures && !rank, figs,
                          sizeof figs);
    catch_stop_signals(0);
    if ((json & 1) && !rank)
        print_json(dir, &d, &ps, interrupted ? "interrupted" : code ? "figures failed" : "done",
                   clvae_seconds() - t_start, figs);
    goto out;
fail:
    if (isatty(2)) fprintf(stderr, "\n");
    if (nranks > 1) fprintf(stderr, "rank %d of %d: ", rank, nranks);
    code = cli_report(common, &err);
    /* a failed start leaves no run folder it made: only one that holds a checkpoint stays */
    if (prepared) {
        struct stat sb;
        if (stat(ckpath, &sb) != 0) clvae_dir_unmake(dir, created);
    }
out:
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    clvae_checkpoint_free(&ck);
    free(text);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    if (quiet) fclose(quiet);
    /* a rank that failed alone would leave the others waiting for it: end the job */
    if (code && code != 130 && !agreed && nranks > 1) clvae_comm_abort(comm, code);
    clvae_comm_close(comm);
    return code;
}

const cli_command_t cli_cmd_check_config = {
    "check-config", "resolve a model config: each layer's output shape, parameters and FLOPs",
    "clvae check-config CFG [--set SECTION.KEY=VALUE]... [--epochs N] [--batch N] [--lr X] "
    "[--seed N] [--limit N]",
    check_config_run};

const cli_command_t cli_cmd_train = {
    "train", "train a model config on its data set; checkpoints, metrics.csv and figures in DIR",
    "clvae train CFG [--out DIR] [--resume | --init RUN] [--set SECTION.KEY=VALUE]...\n"
    "       [--epochs N] [--batch N] [--lr X] [--seed N] [--limit N] [--no-shuffle]\n"
    "       [--mean-latent] [--no-figures] [--json] [--log-json] [--device SPEC]\n"
    "       clvae train RUN --resume [--epochs N] [...]\n"
    "  DIR defaults to runs/<model name>; it is made and checked writable before any work,\n"
    "  and a start that fails leaves nothing behind. --resume continues DIR's checkpoint\n"
    "  (RUN --resume: a run folder, with the config its checkpoint holds) and says where;\n"
    "  a finished run has nothing to do until --epochs is raised. --init RUN starts from\n"
    "  the weights of a run folder or a .safetensors file. --limit N trains on the first N\n"
    "  images; --json ends with one JSON line (paths, final losses, time; the rest goes to\n"
    "  stderr); --log-json writes a JSON line to stdout at every loss readback (epoch, batch,\n"
    "  step, examples, the epoch's mean loss so far, images/s, seconds; the rest to stderr);\n"
    "  --mean-latent trains with z = z_mean (deterministic); Ctrl-C saves a checkpoint\n"
    "  that --resume continues from (exit status 130). A folder that already holds a\n"
    "  checkpoint needs --resume (or another --out). A step with a NaN or infinite loss or\n"
    "  gradient is skipped; more than train.max_skipped (10) in a row stop the run (exit 2).\n"
    "  A failed save stops it (exit 1) and keeps the previous checkpoint.\n"
    "  Under mpirun (mpirun -np N clvae train ...) N processes train one model, each on its\n"
    "  own device (its local rank's among those --device matches, or --device 0,2: one per\n"
    "  rank) and on batch / N examples of each global batch; gradients are summed in rank\n"
    "  order; rank 0 writes the run. CLVAE_BUCKET_MB: the pieces of the sum (default 1);\n"
    "  CLVAE_OVERLAP=1: the sum starts with the last layers' gradients while the backward\n"
    "  pass goes on (the default on GPUs), 0: it waits for the whole pass (the default on a\n"
    "  CPU device).",
    train_run};
