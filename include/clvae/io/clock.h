/* The monotonic clock that every timing in clvae reads (training time, bench, tune, score). */
#ifndef CLVAE_CLOCK_H
#define CLVAE_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: use differences). */
double clvae_seconds(void);

#endif
