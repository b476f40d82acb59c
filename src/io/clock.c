/* The monotonic clock (include/clvae/io/clock.h). */
#include "clvae/io/clock.h"

#include <time.h>

double clvae_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
