/* The clvae version, written into checkpoints and printed by --version. */
#ifndef CLVAE_VERSION_H
#define CLVAE_VERSION_H

/* Semantic version of the program and library. */
#define CLVAE_VERSION "0.1.0"

#endif
