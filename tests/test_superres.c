/* Super-resolution's yardstick (src/eval/superres.c): bilinear upsampling of block means
 * against closed forms: a constant stays constant, and a linear ramp comes back exactly away
 * from the clamped edges (a block's mean is the ramp at the block's centre). */
#define TEST_FILE "test_superres"
#include "test.h"

#include <math.h>

#include "clvae/eval/superres.h"

static void t_bilinear_closed_forms(void)
{
    enum { H = 8, W = 12 };
    float low[H * W], out[H * W];
    for (int f = 2; f <= 4; f += 2) {
        /* the ramp v = 0.1 x + 0.05 y, downsampled: each value its block's mean */
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int y0 = y / f * f, x0 = x / f * f;
                low[y * W + x] = (float)(0.1 * (x0 + (f - 1) / 2.0) + 0.05 * (y0 + (f - 1) / 2.0));
            }
        clvae_bilinear_from_blocks(low, H, W, f, out);
        double worst = 0;
        /* interior: between the first and the last block centres */
        for (int y = f / 2; y < H - f / 2; y++)
            for (int x = f / 2; x < W - f / 2; x++)
                worst = fmax(worst, fabs(out[y * W + x] - (0.1 * x + 0.05 * y)));
        CHECK(worst < 1e-5, "factor %d: the ramp comes back within %g", f, worst);
        /* edges are clamped to the outer block centres */
        CHECK(fabs(out[0] - low[0]) < 1e-6, "factor %d: corner %g, want %g", f, out[0], low[0]);
        for (int i = 0; i < H * W; i++) low[i] = 0.375f;
        clvae_bilinear_from_blocks(low, H, W, f, out);
        int same = 1;
        for (int i = 0; i < H * W; i++) same &= out[i] == 0.375f;
        CHECK(same, "factor %d: a constant changed", f);
    }
}

int main(void)
{
    RUN(t_bilinear_closed_forms);
    return TEST_EXIT();
}
