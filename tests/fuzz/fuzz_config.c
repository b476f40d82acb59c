/* libFuzzer harness: config text and --set overrides through clvae_cfg_parse, clvae_cfg_set, clvae_model_resolve. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/net/config.h"
#include "clvae/net/net.h"
#include "clvae/train/objective.h"
#include "fuzz.h"

/* The input is config text, optionally followed by a line "@set" and then one
 * SECTION.KEY=VALUE override per line (as `--set` passes them). */
#define SET_MARK "\n@set\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_verbose = getenv("CLVAE_FUZZ_VERBOSE") != NULL;
    return 0;
}

static const char *find(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, word, k) == 0) return s + i;
    return NULL;
}

/* Every failure leaves a message and the status it returned. */
static void check_error(clvae_status_t st, clvae_error_t *err)
{
    ASSERT(st != CLVAE_OK && err->status == st && err->msg[0]);
    if (fuzz_verbose) fprintf(stderr, "fuzz_config: %s\n", err->msg);
    clvae_error_clear(err);
}

/* a * b, or abort on overflow: the resolver's sizes must never wrap. */
static size_t mul(size_t a, size_t b)
{
    size_t r;
    ASSERT(!__builtin_mul_overflow(a, b, &r));
    return r;
}

/* What a resolved model promises: shapes flow, every size is exact (no wrap-around), the
 * parameters tile the flat array. */
static void check_model(const clvae_model_desc_t *m)
{
    ASSERT(m->nlayers >= 2 && m->layers[0].kind == CLVAE_LAYER_INPUT);
    /* an autoencoder's latent is inside; a classifier's and a discriminator's past the last
     * layer; a generator's is its input (z) */
    if (m->gan) ASSERT(m->latent == 0 && m->disc && m->disc->latent == m->disc->nlayers);
    else if (m->latent != m->nlayers) ASSERT(m->latent > 0 && m->latent < m->nlayers - 1);
    ASSERT(m->batch >= 1 && m->epochs >= 1);
    size_t nparams = 0;
    for (int i = 0; i < m->nlayers; i++) {
        const clvae_layer_t *L = &m->layers[i];
        ASSERT(L->out_c >= 1 && L->out_h >= 1 && L->out_w >= 1);
        size_t in = mul(mul(L->in_c, L->in_h), L->in_w);
        size_t out = mul(mul(L->out_c, L->out_h), L->out_w);
        size_t w = 0;
        /* a layer reads earlier layers only; its input shape is its first input's ([concat]:
         * the channels of all of them) */
        ASSERT(i == 0 || L->kind == CLVAE_LAYER_TIME_EMBED ? L->nfrom == 0 : L->nfrom >= 1);
        size_t cat = 0;
        for (int k = 0; k < L->nfrom; k++) {
            ASSERT(L->from[k] >= 0 && L->from[k] < i);
            const clvae_layer_t *P = &m->layers[L->from[k]];
            cat += P->out_c;
            /* [add]: a 1 x 1 input after the first may be a vector of its channels, added to
             * every pixel */
            if (L->kind == CLVAE_LAYER_ADD && k > 0 && P->out_h == 1 && P->out_w == 1)
                ASSERT(P->out_c == L->out_c);
            else
                ASSERT(L->in_h == P->out_h && L->in_w == P->out_w);
            if (L->kind != CLVAE_LAYER_CONCAT) ASSERT(L->in_c == m->layers[L->from[0]].out_c);
        }
        if (L->kind == CLVAE_LAYER_CONCAT) ASSERT(L->in_c == cat && L->out_c == cat);
        switch (L->kind) {
        case CLVAE_LAYER_CONV:
        case CLVAE_LAYER_DECONV:
            w = mul(mul(L->in_c, L->out_c), mul(L->conv.kh, L->conv.kw));
            break;
        case CLVAE_LAYER_DENSE:
        case CLVAE_LAYER_LATENT:
            ASSERT(L->units == L->out_c && L->out_h == 1 && L->out_w == 1);
            w = mul(L->units, in);
            break;
        case CLVAE_LAYER_FLATTEN:
        case CLVAE_LAYER_RESHAPE:
            ASSERT(out == in);
            break;
        case CLVAE_LAYER_INPUT:
            ASSERT(i == 0);
            break;
        case CLVAE_LAYER_CONCAT:
            ASSERT(L->nfrom >= 2);
            break;
        case CLVAE_LAYER_ADD:
            ASSERT(L->nfrom >= 2 && out == in);
            break;
        case CLVAE_LAYER_LABELS:
            ASSERT(L->implicit && L->out_c == L->in_c + m->conditional);
            break;
        case CLVAE_LAYER_BATCHNORM:
            ASSERT(out == in && L->out_c == L->in_c && L->s_len == 2 * L->in_c + 1);
            w = L->in_c;
            break;
        case CLVAE_LAYER_GROUPNORM:
            ASSERT(out == in && L->out_c == L->in_c && L->groups >= 1 &&
                   L->in_c % L->groups == 0 && L->s_len == 0);
            w = L->in_c;
            break;
        case CLVAE_LAYER_UPSAMPLE:
            ASSERT(L->up_factor >= 2 && L->out_c == L->in_c &&
                   L->out_h == L->in_h * L->up_factor && L->out_w == L->in_w * L->up_factor);
            break;
        case CLVAE_LAYER_TIME_EMBED:
            ASSERT(i > 0 && L->flat && L->units == L->out_c && L->units % 2 == 0 &&
                   L->out_h == 1 && L->out_w == 1 && L->embed_max_period > 1.0f);
            break;
        case CLVAE_LAYER_VQ:
            ASSERT(m->vqvae && m->latent == i && out == in && L->vq_codes >= 2 && L->vq_dim >= 1);
            ASSERT(in % L->vq_dim == 0);
            ASSERT(L->s_len == (L->vq_ema ? 2 * L->vq_codes * L->vq_dim + 2 * L->vq_codes
                                          : L->vq_codes));
            w = L->vq_ema ? 0 : mul(L->vq_codes, L->vq_dim);
            break;
        case CLVAE_LAYER_KINDS:
            ASSERT(0);
            break;
        }
        ASSERT(L->w_len == w);
        if (!w) continue;
        ASSERT(L->b_len == (L->bias ? L->out_c : 0));
        ASSERT(L->w_off == nparams && L->b_off == L->w_off + w);
        nparams = L->b_off + L->b_len;
        if (L->kind == CLVAE_LAYER_LATENT && m->variational) {
            ASSERT(L->w2_off == nparams && L->b2_off == L->w2_off + w);
            nparams = L->b2_off + L->b_len;
        }
    }
    ASSERT(nparams == m->nparams);
    char name[128];
    size_t off;
    int ndim;
    uint64_t shape[4];
    for (int i = 0; clvae_net_tensor(m, i, name, sizeof name, &off, &ndim, shape); i++) {
        ASSERT(ndim >= 1 && ndim <= 4 && name[0]);
        size_t n = 1;
        for (int k = 0; k < ndim; k++) {
            ASSERT(shape[k] >= 1);
            n = mul(n, (size_t)shape[k]);
        }
        ASSERT(off <= m->nparams && n <= m->nparams - off);
    }
    ASSERT(clvae_model_flops(m) >= 0);
    if (m->gan) check_model(m->disc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *mark = find(text, size, SET_MARK);
    size_t tlen = mark ? (size_t)(mark - text) + 1 : size;
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    clvae_status_t st = clvae_cfg_parse(&cfg, text, tlen, "fuzz.cfg", &err);
    if (st) {
        check_error(st, &err);
        ASSERT(cfg.nsections == 0 && cfg.sections == NULL);
        return 0;
    }
    if (mark) {
        const char *p = mark + strlen(SET_MARK), *end = text + size;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
            char *a = malloc(n + 1);
            if (!a) abort();
            memcpy(a, p, n);
            a[n] = 0;
            st = clvae_cfg_set(&cfg, a, &err);
            if (st) check_error(st, &err);
            free(a);
            p += n + (nl ? 1 : 0);
        }
    }
    /* A checkpoint stores the formatted text: it must parse back to the same config. */
    char *formatted = clvae_cfg_format(&cfg);
    ASSERT(formatted);
    clvae_cfg_t again;
    st = clvae_cfg_parse(&again, formatted, strlen(formatted), "fuzz.cfg", &err);
    if (st)
        fprintf(stderr, "fuzz_config: formatted config does not parse: %s\n---\n%s---\n", err.msg,
                formatted);
    ASSERT(st == CLVAE_OK);
    char *twice = clvae_cfg_format(&again);
    ASSERT(twice && strcmp(formatted, twice) == 0);
    free(twice);
    free(formatted);
    clvae_cfg_free(&again);

    clvae_model_desc_t m;
    st = clvae_model_resolve(&m, &cfg, &err);
    if (st) {
        check_error(st, &err);
        ASSERT(m.layers == NULL);
    } else {
        check_model(&m);
        if (fuzz_verbose) fprintf(stderr, "fuzz_config: resolved, %zu parameters\n", m.nparams);
        clvae_model_desc_free(&m);
    }
    clvae_cfg_free(&cfg);
    return 0;
}
