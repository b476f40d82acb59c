/* Helpers shared by every clvae kernel; included after the generated -D block. */

#ifndef CLVAE_WGS
#define CLVAE_WGS 64
#endif

/* Global id as a plain unsigned index (all clvae kernels are sized by uint n). */
#define CLVAE_GID0 ((uint)get_global_id(0))

/* 1 when x is NaN or infinite: all exponent bits set. A test of the bits, not isfinite(),
 * which a compiler may fold to a constant under -cl-fast-relaxed-math (finite maths only). */
#define CLVAE_NONFINITE(x) ((as_uint(x) & 0x7f800000u) == 0x7f800000u)
