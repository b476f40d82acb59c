/* `clvae selftest --all`: every kernel file built, one launch of each family checked against the host. */
#ifndef CLVAE_CLI_SELFTEST_ALL_H
#define CLVAE_CLI_SELFTEST_ALL_H

#include <stdio.h>

#include "clvae/device/device.h"

/* Builds every kernel file for ctx's device and runs one small launch of each op family against a
 * host computation, printing "ok   FAMILY" or "FAIL FAMILY: why" to out. Returns the number of
 * failures; the first failure's error goes to *first (may be NULL). */
int clvae_selftest_all(clvae_ctx_t *ctx, FILE *out, clvae_error_t *first);

#endif
