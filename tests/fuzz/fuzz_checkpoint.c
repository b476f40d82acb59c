/* libFuzzer harness: clvae_st_read, clvae_checkpoint_read and clvae_checkpoint_bind on a file made from the input (no OpenCL device). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clvae/train/checkpoint.h"
#include "clvae/net/config.h"
#include "clvae/io/safetensors.h"
#include "fuzz.h"

/* The input is the file. Each one goes through the paths of the CLI that need no device:
 *  1. clvae_st_read, every tensor and metadata entry read back;
 *  2. as plain weights (--init): bound to a fixed small model;
 *  3. clvae_checkpoint_read, then bound to the fixed model and to the model of the config
 *     the checkpoint carries (as `clvae sample RUN` does), when that model is small. */

/* The model of the seed checkpoints (tests/fuzz/tiny.cfg): conv, latent, dense, deconv. */
static const char tiny_cfg[] =
    "[model]\nname = tiny\nkind = vae\n"
    "[data]\ntrain = digits:train\ntest = digits:test\n"
    "[train]\nepochs = 1\nbatch = 32\n"
    "[input]\nchannels = 1\nheight = 8\nwidth = 8\n"
    "[conv]\nfilters = 2\nsize = 3\nstride = 2\nactivation = relu\n"
    "[flatten]\n"
    "[latent]\nsize = 2\n"
    "[dense]\nunits = 32\nactivation = relu\n"
    "[reshape]\nchannels = 2\nheight = 4\nwidth = 4\n"
    "[deconv]\nfilters = 1\nsize = 3\nstride = 2\npadding = 1\noutput_padding = 1\n"
    "activation = sigmoid\n";

/* Models from a checkpoint's own config are bound only up to this many parameters. */
#define MAX_PARAMS ((size_t)1 << 20)

static char dir[256];
static char path[300];
static clvae_model_desc_t tiny;

static void cleanup(void)
{
    unlink(path);
    rmdir(dir);
    clvae_model_desc_free(&tiny);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_scratch(dir, sizeof dir, "checkpoint");
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    if (clvae_cfg_parse(&cfg, tiny_cfg, strlen(tiny_cfg), "tiny.cfg", &err) ||
        clvae_model_resolve(&tiny, &cfg, &err)) {
        fprintf(stderr, "fuzz_checkpoint: %s\n", err.msg);
        abort();
    }
    clvae_cfg_free(&cfg);
    atexit(cleanup);
    return 0;
}

static void check_error(clvae_status_t st, clvae_error_t *err)
{
    ASSERT(st != CLVAE_OK && err->status == st && err->msg[0]);
    if (fuzz_verbose) fprintf(stderr, "fuzz_checkpoint: %s\n", err->msg);
    clvae_error_clear(err);
}

/* Reads every byte the file object hands out. */
static void check_file(const clvae_st_file_t *f)
{
    volatile uint8_t sink = 0;
    size_t n = clvae_st_count(f);
    for (size_t i = 0; i < n; i++) {
        const clvae_st_tensor_t *t = clvae_st_get(f, i);
        ASSERT(t && t->ndim >= 0 && t->ndim <= 8 && t->name[0]);
        ASSERT(strlen(t->name) < sizeof t->name);
        uint64_t count = 1;
        for (int k = 0; k < t->ndim; k++) count *= t->shape[k];
        ASSERT(count * clvae_st_dtype_size(t->dtype) == t->nbytes);
        const uint8_t *p = t->data;
        for (size_t b = 0; b < t->nbytes; b++) sink ^= p[b];
        ASSERT(clvae_st_find(f, t->name) == t);
    }
    ASSERT(clvae_st_get(f, n) == NULL);
    for (size_t i = 0; i < clvae_st_meta_count(f); i++) {
        const char *key = clvae_st_meta_key(f, i);
        ASSERT(key);
        const char *value = clvae_st_meta(f, key);
        ASSERT(value);
        sink ^= (uint8_t)strlen(value);
    }
    (void)sink;
}

/* Binds ck to desc; on success every parameter was written. */
static void bind_model(clvae_checkpoint_t *ck, const clvae_model_desc_t *desc)
{
    clvae_error_t err = {0};
    clvae_status_t st = clvae_checkpoint_bind(ck, desc, path, &err);
    if (st) {
        check_error(st, &err);
        return;
    }
    if (fuzz_verbose) fprintf(stderr, "fuzz_checkpoint: bound %zu parameters%s\n", desc->nparams,
                         ck->m1 ? " and moments" : "");
    volatile float sink = 0;
    for (size_t i = 0; i < desc->nparams; i++) sink += ck->params[i];
    if (ck->m1 && ck->m2)
        for (size_t i = 0; i < desc->nparams; i++) sink += ck->m1[i] + ck->m2[i];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0) abort();
    clvae_error_t err = {0};

    clvae_st_file_t *f = NULL;
    clvae_status_t st = clvae_st_read(path, &f, &err);
    if (st) {
        check_error(st, &err);
        ASSERT(f == NULL);
        return 0; /* clvae_checkpoint_read starts with the same read */
    }
    check_file(f);
    clvae_checkpoint_t ck;
    memset(&ck, 0, sizeof ck);
    ck.file = f; /* as clvae_checkpoint_load_weights does, minus the device */
    bind_model(&ck, &tiny);
    clvae_checkpoint_free(&ck);

    st = clvae_checkpoint_read(path, &ck, &err);
    if (st) {
        check_error(st, &err);
        ASSERT(ck.file == NULL && ck.config == NULL);
        return 0;
    }
    ASSERT(ck.config && ck.metrics && ck.file);
    bind_model(&ck, &tiny);
    clvae_cfg_t cfg;
    if ((st = clvae_cfg_parse(&cfg, ck.config, strlen(ck.config), "checkpoint", &err))) {
        check_error(st, &err);
    } else {
        clvae_model_desc_t m;
        if ((st = clvae_model_resolve(&m, &cfg, &err))) {
            check_error(st, &err);
        } else {
            if (m.nparams <= MAX_PARAMS) bind_model(&ck, &m);
            clvae_model_desc_free(&m);
        }
        clvae_cfg_free(&cfg);
    }
    clvae_checkpoint_free(&ck);
    return 0;
}
