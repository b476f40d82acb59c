/* The kernel sources of cl/, embedded at build time by tools/clembed.c. */
#ifndef CLVAE_CL_SOURCES_H
#define CLVAE_CL_SOURCES_H

/* One embedded kernel file: base name without ".cl", and its text. */
typedef struct clvae_cl_source {
    const char *name;
    const char *text;
} clvae_cl_source_t;

/* All embedded files, ended by an entry whose name is NULL. */
extern const clvae_cl_source_t clvae_cl_sources[];

#endif
