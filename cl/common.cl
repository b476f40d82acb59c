/* Helpers shared by every clvae kernel; included after the generated -D block. */

#ifndef CLVAE_WGS
#define CLVAE_WGS 64
#endif

/* Global id as a plain unsigned index (all clvae kernels are sized by uint n). */
#define CLVAE_GID0 ((uint)get_global_id(0))
