/* Shared bits of the libFuzzer harnesses: invariant checks, a scratch folder, verbose mode. */
#ifndef CLVAE_FUZZ_H
#define CLVAE_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* A broken invariant is a bug: reported to libFuzzer as a crash. */
#define ASSERT(cond)                                                                      \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);  \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* CLVAE_FUZZ_VERBOSE set: the harness says what became of each input (to check seeds). */
static int fuzz_verbose;

/* Makes a scratch folder of this process into dir (size bytes) for the files the loaders
 * read: in $TMPDIR when set, else /dev/shm when writable (files on a disk make the
 * harnesses about 15 times slower), else /tmp. Also reads CLVAE_FUZZ_VERBOSE. */
static inline void fuzz_scratch(char *dir, size_t size, const char *name)
{
    fuzz_verbose = getenv("CLVAE_FUZZ_VERBOSE") != NULL;
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, size, "%s/clvae-fuzz-%s-XXXXXX", tmp, name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
}

#endif
