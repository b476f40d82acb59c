/* clvae's entry point: global options, then dispatch to a subcommand. */
#include <stdlib.h>
#include <string.h>

#include "clvae/io/version.h"
#include "cli.h"

static const cli_command_t *const commands[] = {
    &cli_cmd_devices,  &cli_cmd_selftest,    &cli_cmd_check_config, &cli_cmd_train,
    &cli_cmd_figures,
    &cli_cmd_sample,   &cli_cmd_chain, &cli_cmd_reconstruct, &cli_cmd_manifold,     &cli_cmd_latent,
    &cli_cmd_interpolate, &cli_cmd_denoise, &cli_cmd_codes, &cli_cmd_eval, &cli_cmd_bench, &cli_cmd_tune,
    &cli_cmd_sweep, &cli_cmd_inspect, &cli_cmd_score, &cli_cmd_compare, &cli_cmd_generate,
    &cli_cmd_encode, &cli_cmd_restyle, &cli_cmd_superres,
    &cli_cmd_inpaint};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "clvae %s: train and sample autoencoders on any OpenCL device\n\n"
            "usage: clvae [-v] [--device SPEC] COMMAND [ARGS...]\n\n"
            "commands:\n",
            CLVAE_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f,
            "  %-12s %s\n\n"
            "options for every command:\n"
            "  --device SPEC  device to run on: an index from `clvae devices`, P:D, gpu, cpu,\n"
            "                 accelerator, or part of the device name (case-insensitive);\n"
            "                 default: $CLVAE_DEVICE, else the GPU with the most compute units,\n"
            "                 else the device with the most among those of the first type\n"
            "  -v, -vv        say more (device chosen; kernel builds and cache use)\n"
            "  -h, --help     this text; `clvae help COMMAND` for one command\n"
            "  --version      print the version\n\n"
            "environment:\n"
            "  CLVAE_DEVICE        default for --device\n"
            "  CLVAE_KERNEL_DIR    read kernel sources from this folder (e.g. cl) instead of\n"
            "                      the copy built into the program\n"
            "  CLVAE_KERNEL_CACHE  0 turns the kernel binary cache off, a path moves it; by\n"
            "                      default it is $XDG_CACHE_HOME/clvae/kernels, else\n"
            "                      ~/.cache/clvae/kernels\n"
            "  CLVAE_FAST_MATH     1 builds kernels with -cl-fast-relaxed-math (default: strict)\n"
            "  CLVAE_MAX_ALLOC     lower the device's maximum allocation to BYTES (64K, 256M, 1G\n"
            "                      allowed) to imitate a small device\n"
            "  CLVAE_DATA_DIR      where the data sets are (default: data)\n"
            "  CLVAE_TUNING        0 ignores the tuning cache of `clvae tune` (defaults)\n"
            "  CLVAE_TUNING_DIR    the tuning cache folder (default $XDG_CACHE_HOME/clvae/tuning,\n"
            "                      else ~/.cache/clvae/tuning)\n"
            "  CLVAE_GEMM_DEFAULTS 1 runs CLBlast with its own parameters (no tuned or built-in)\n"
            "  CLVAE_BUCKET_MB     train under mpirun: the gradient sum's pieces (default 1)\n"
            "  CLVAE_OVERLAP       train under mpirun: 1 overlaps the sum with the backward pass\n"
            "                      (default on GPUs), 0 waits for it (default on CPU devices)\n"
            "test hooks:\n"
            "  CLVAE_FAULT_WRITE_AFTER=K  a checkpoint write fails with ENOSPC after K bytes\n"
            "                             (-K: K bytes before the end of the file)\n"
            "  CLVAE_FAULT_NAN_BATCH=B[-C] training steps B to C get a NaN pixel on the device\n\n"
            "exit status: 0 success, 2 bad input (arguments, no matching device, a config, a\n"
            "run folder that already holds a checkpoint, training that diverged to NaN), 1 failure\n"
            "at run time (OpenCL, out of device memory, a checkpoint that cannot be saved),\n"
            "130 interrupted (checkpoint saved)\n",
            "help", "show help for a command");
}

static const cli_command_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

/* "no command 'trian' (did you mean train?)". */
static void no_command(const char *name)
{
    const char *names[NCOMMANDS + 1];
    for (size_t i = 0; i < NCOMMANDS; i++) names[i] = commands[i]->name;
    names[NCOMMANDS] = "help";
    const char *near = cli_nearest(name, names, NCOMMANDS + 1);
    if (near)
        fprintf(stderr, "clvae: error: no command '%s' (did you mean %s?)\n", name, near);
    else
        fprintf(stderr, "clvae: error: no command '%s' (try `clvae --help`)\n", name);
}

int main(int argc, char **argv)
{
    cli_common_t common = {0};
    /* Global options may stand anywhere; the rest goes to the command. */
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "clvae: error: out of host memory\n");
        return 1;
    }
    int nrest = 0, help = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--device") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "clvae: error: --device needs a SPEC (see `clvae devices`)\n");
                free(rest);
                return 2;
            }
            common.device = argv[++i];
        } else if (strncmp(a, "--device=", 9) == 0) {
            common.device = a + 9;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            common.verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            common.verbose += 2;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help = 1;
        } else if (strcmp(a, "--version") == 0) {
            printf("clvae %s\n", CLVAE_VERSION);
            free(rest);
            return 0;
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (!common.device) {
        const char *env = getenv("CLVAE_DEVICE");
        if (env && *env) {
            common.device = env;
            common.device_from_env = 1;
        }
    }
    int code;
    const cli_command_t *cmd = nrest > 0 ? find(rest[0]) : NULL;
    if (nrest == 0) {
        usage(help ? stdout : stderr);
        code = help ? 0 : 2;
    } else if (strcmp(rest[0], "help") == 0) {
        const cli_command_t *c = nrest > 1 ? find(rest[1]) : NULL;
        if (nrest > 1 && strcmp(rest[1], "help") == 0) {
            printf("help: show help for a command\nusage: clvae help [COMMAND]\n");
            code = 0;
        } else if (nrest > 1 && !c) {
            no_command(rest[1]);
            code = 2;
        } else if (c) {
            printf("%s: %s\nusage: %s\n", c->name, c->summary, c->usage);
            code = 0;
        } else {
            usage(stdout);
            code = 0;
        }
    } else if (!cmd) {
        no_command(rest[0]);
        code = 2;
    } else if (help) {
        printf("%s: %s\nusage: %s\n", cmd->name, cmd->summary, cmd->usage);
        code = 0;
    } else {
        code = cmd->run(&common, nrest - 1, rest + 1);
    }
    free(rest);
    return code;
}
