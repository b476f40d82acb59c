/* Shared pieces of the clvae command line: options, error reporting, commands. */
#ifndef CLVAE_CLI_H
#define CLVAE_CLI_H

#include <stdio.h>

#include "clvae/train/checkpoint.h"
#include "clvae/net/config.h"
#include "clvae/data/data.h"
#include "clvae/device/device.h"
#include "clvae/train/objective.h"
#include "clvae/train/prior.h"
#include "clvae/train/comm.h"

/* The thesis VAE's config: what `clvae tune` and `clvae bench --gemm` use without a CFG. */
#define CLI_THESIS_CFG "models/mnist_vae.cfg"

/* The thesis VAE's config that tune and bench --gemm default to: models/mnist_vae.cfg in the
 * working folder when there, else the installed copy (PREFIX/share/clvae/models, PREFIX the
 * folder above the executable's), else models/mnist_vae.cfg (whose absence is then said). */
const char *cli_thesis_cfg(char *buf, size_t size);

/* Options every command takes, parsed before the command's own. */
typedef struct cli_common {
    const char *device;  /* --device SPEC, else CLVAE_DEVICE */
    int verbose;         /* -v count: 1 and more show source locations in errors */
    int device_from_env; /* device came from CLVAE_DEVICE (its errors name the variable) */
} cli_common_t;

/* A subcommand: name, one-line summary, usage text, handler. */
typedef struct cli_command {
    const char *name;
    const char *summary;
    const char *usage;
    int (*run)(const cli_common_t *common, int argc, char **argv);
} cli_command_t;

/* Prints err as "clvae: error: ..." with its detail and returns the exit code
 * for its status: 2 for bad input or no match, 1 for runtime failures. The library's source
 * locations "(src/x.c:N)" are shown only with -v (common NULL: never). */
int cli_report(const cli_common_t *common, const clvae_error_t *err);

/* The name in names nearest to s (a typo or a prefix: `trian`, `--epoch`), or NULL. */
const char *cli_nearest(const char *s, const char *const *names, size_t n);

/* Usage error for an argument cmd does not take: an extra positional argument, or an unknown
 * option with the nearest option its usage names ("did you mean --epochs?"); returns 2. */
int cli_unknown_arg(const cli_command_t *cmd, const char *arg);

/* A device that matches nothing when the spec came from CLVAE_DEVICE: the message names the
 * variable. Returns s. */
clvae_status_t cli_device_error(const cli_common_t *common, clvae_status_t s, clvae_error_t *err);

/* Prints a usage error for cmd and returns 2. */
int cli_usage_error(const cli_command_t *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Opens a context with the environment's defaults and the common options. */
clvae_status_t cli_ctx_open(const cli_common_t *common, int profiling, clvae_ctx_t **ctx,
                            clvae_error_t *err);

/* The context of a data-parallel rank: the device clvae_device_select_rank picks for its local
 * rank from --device (or CLVAE_DEVICE); *shared: the ranks of this machine on that device. */
clvae_status_t cli_ctx_open_rank(const cli_common_t *common, const clvae_comm_t *comm,
                                 clvae_ctx_t **ctx, int *shared, clvae_error_t *err);

/* Parses a whole non-negative number into *out; returns 0 on success. */
int cli_parse_size(const char *s, size_t *out);

/* Writes s as a JSON string literal, quotes included. */
void cli_json_string(FILE *f, const char *s);

/* Matches option `name` at argv[*i] ("--n 5" or "--n=5"): 1 and *val set (advancing *i past a
 * separate value), 0 when it is another option, -1 when the value is missing. */
int cli_opt(int *i, int argc, char **argv, const char *name, const char **val);

/* Parses a whole integer in [lo, hi] / a finite number; 0 on success. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *s, float *out);

/* Where datasets are: NULL, the library's list (clvae_data_dirs: $CLVAE_DATA_DIR, else
 * $XDG_DATA_HOME/clvae then data). */
const char *cli_data_dir(void);

/* A trained run opened for figures and evaluation. */
typedef struct cli_run {
    char ckpath[4096];          /* the checkpoint file */
    char dir[4096];             /* its folder: the default place for outputs */
    clvae_checkpoint_t ck;
    clvae_cfg_t cfg;
    clvae_model_desc_t desc;
    clvae_ctx_t *ctx;
    clvae_objective_t *model;
    clvae_dataset_t test;       /* after cli_run_test_data */
    clvae_data_dev_t dtest;
    clvae_vqvae_run_t vq;       /* a prior's VQ-VAE (its decoder; its test set is the prior's) */
} cli_run_t;

/* Opens RUN (a run folder or a checkpoint file): its config, the device, the model with the
 * checkpoint's weights, for batches of up to batch examples (fewer when the device is too
 * small for that many). */
clvae_status_t cli_run_open(cli_run_t *r, const cli_common_t *common, const char *run,
                            size_t batch, clvae_error_t *err);

/* Loads the run's test set (its config's [data] test) onto the device. */
clvae_status_t cli_run_test_data(cli_run_t *r, clvae_error_t *err);

/* A diffusion model's sampling options (sample, score, chain): --steps S, --eta E,
 * --ancestral, --guidance G, --no-clip, --raw-weights; steps 0, eta and guidance < 0 when not given. */
typedef struct cli_sampler_opts {
    long steps;
    float eta;
    int ancestral;
    float guidance;
    int raw;      /* --raw-weights: the trained weights, not their moving average */
    int no_clip;  /* --no-clip: the predicted x_0 is not clipped to [-1, 1] at each step */
} cli_sampler_opts_t;

/* Takes argv[*i] when it is one of those options (1; with a bad value -1 after the usage
 * message to stderr), else 0. */
int cli_sampler_take(const cli_command_t *cmd, cli_sampler_opts_t *o, int *i, int argc,
                     char **argv);

/* Sets the run's sampler from the options given (none: the model's default sampler stays);
 * CLVAE_ERR_INVALID when the run is not a diffusion model, --ancestral comes with --steps or
 * --eta, or the model refuses them (clvae_objective_ddpm_set_sampler). */
clvae_status_t cli_sampler_apply(cli_run_t *r, const cli_sampler_opts_t *o, clvae_error_t *err);

/* "DDIM over 50 steps, eta 0", "ancestral DDPM over 1000 steps", with ", guidance 2" for a
 * conditional model and whether x_0 is clipped, for the sampler the run will use. */
void cli_sampler_text(const cli_run_t *r, const cli_sampler_opts_t *o, char *buf, size_t size);

/* The checkpoint file of RUN: RUN/checkpoint.safetensors for a folder, else RUN itself. */
void cli_run_path(const char *run, char *buf, size_t size);

/* cli_run_open on an open context ctx (not owned: set r->ctx = NULL before cli_run_close),
 * e.g. a classifier beside a generative run; RUN is a folder or a .safetensors file. */
clvae_status_t cli_run_open_in(cli_run_t *r, clvae_ctx_t *ctx, const char *run, size_t batch,
                               clvae_error_t *err);

/* The name the Frechet distance of classifier cd's features goes by: "FID (own MNIST
 * classifier)" (never plain FID: it is not the Inception-based one). */
void cli_fid_name(const clvae_model_desc_t *cd, char *buf, size_t size);

/* How `score` and `compare` sample generative model gd, in words. */
const char *cli_sampling_note(const clvae_model_desc_t *gd);

/* Releases everything the run holds. */
void cli_run_close(cli_run_t *r);

/* out when given, else DIR/name of the run. */
void cli_default_out(const cli_run_t *r, const char *out, const char *name, char *buf, size_t size);

/* A config file and its command-line overrides (--set and the shortcuts). */
typedef struct cli_cfg_args {
    const char *path;
    const char *sets[64];
    int nsets;
    char shortcut[8][96];
    const char *shortopt[8]; /* the option each shortcut came from (--lr), for messages */
    int nshort;
    const char *text;   /* the config text itself (a run's checkpoint), else NULL: read path */
} cli_cfg_args_t;

/* Takes a config option at argv[*i] (the CFG path, --set, --epochs, --batch, --lr, --seed,
 * --limit, --no-shuffle, --mean-latent): 1 taken, 0 not one, 2 (printed) on bad usage. */
int cli_cfg_take(const cli_command_t *cmd, cli_cfg_args_t *a, int *i, int argc, char **argv);

/* Loads the config, applies the overrides and resolves the model. */
clvae_status_t cli_cfg_load(const cli_cfg_args_t *a, clvae_cfg_t *cfg, clvae_model_desc_t *d,
                            clvae_error_t *err);

/* Prints a one-line note on stderr suggesting `clvae tune` when the device is untuned. */
void cli_tuning_note(clvae_ctx_t *ctx);

/* The commands. */
extern const cli_command_t cli_cmd_devices;
extern const cli_command_t cli_cmd_selftest;
extern const cli_command_t cli_cmd_check_config, cli_cmd_figures;
extern const cli_command_t cli_cmd_train;
extern const cli_command_t cli_cmd_sample;
extern const cli_command_t cli_cmd_chain;
extern const cli_command_t cli_cmd_reconstruct;
extern const cli_command_t cli_cmd_manifold;
extern const cli_command_t cli_cmd_latent;
extern const cli_command_t cli_cmd_interpolate;
extern const cli_command_t cli_cmd_denoise;
extern const cli_command_t cli_cmd_eval;
extern const cli_command_t cli_cmd_bench;
extern const cli_command_t cli_cmd_tune;
extern const cli_command_t cli_cmd_sweep;
extern const cli_command_t cli_cmd_inspect;
extern const cli_command_t cli_cmd_score;
extern const cli_command_t cli_cmd_generate;
extern const cli_command_t cli_cmd_encode;
extern const cli_command_t cli_cmd_restyle;
extern const cli_command_t cli_cmd_superres;
extern const cli_command_t cli_cmd_inpaint;
extern const cli_command_t cli_cmd_compare;
extern const cli_command_t cli_cmd_codes;

#endif
