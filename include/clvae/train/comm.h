/* Communicators for data-parallel training, one process per device (DESIGN.md, "Data-parallel").
 * The local communicator is one process and does nothing; started by mpirun (Open MPI, which
 * sets OMPI_COMM_WORLD_SIZE) with more than one process, the MPI one sums across the ranks in
 * a fixed order, so that the same ranks give bit-identical results. */
#ifndef CLVAE_COMM_H
#define CLVAE_COMM_H

#include <stddef.h>

#include "clvae/io/error.h"

typedef struct clvae_comm clvae_comm_t;

/* Whether this process was started by mpirun with more than one process (the environment
 * says so; nothing is initialised). */
int clvae_comm_launched(void);

/* The communicator of this process: local (rank 0 of 1, no MPI start-up) unless
 * clvae_comm_launched(), then MPI's world (MPI_Init). CLVAE_ERR_INVALID when started by mpirun
 * but built without MPI; CLVAE_ERR_IO when MPI does not start. */
clvae_status_t clvae_comm_open(clvae_comm_t **out, clvae_error_t *err);

/* Ends it (MPI_Finalize after a barrier for the MPI one); NULL is fine. */
void clvae_comm_close(clvae_comm_t *c);

/* Rank and size in the job, and among the processes of this machine (the local rank picks the
 * device). NULL: the local communicator's 0 and 1. */
int clvae_comm_rank(const clvae_comm_t *c);
int clvae_comm_size(const clvae_comm_t *c);
int clvae_comm_local_rank(const clvae_comm_t *c);
int clvae_comm_local_size(const clvae_comm_t *c);

/* v[0..n) becomes the sum over the ranks of their v, the same bits on every rank: each rank
 * sums one slice of the vector over the ranks in rank order 0, 1, ..., N-1, then the slices are
 * gathered (an all-to-all and an all-gather: data movement only, so the order of the additions
 * never depends on the MPI library's algorithm). The vector goes in pieces of at most `bucket`
 * floats (0: all at once), each piece's all-to-all started (non-blocking) before the previous
 * piece is summed. Local: nothing. */
clvae_status_t clvae_comm_sum(clvae_comm_t *c, float *v, size_t n, size_t bucket,
                              clvae_error_t *err);

/* What clvae_comm_sum_pieces calls before it sends piece p: wait for its data (and change it). */
typedef clvae_status_t (*clvae_comm_ready_t)(void *user, size_t p, clvae_error_t *err);

/* clvae_comm_sum over the np pieces [lo[p], lo[p] + len[p]) of v, sent in this order, each
 * after ready(user, p) (NULL: none); a piece's all-to-all is in flight while the previous one is
 * summed, and ready for the next may wait meanwhile (e.g. for the device's backward pass). */
clvae_status_t clvae_comm_sum_pieces(clvae_comm_t *c, float *v, size_t np, const size_t *lo,
                                     const size_t *len, clvae_comm_ready_t ready, void *user,
                                     clvae_error_t *err);

/* The bytes one rank sends in clvae_comm_sum of n floats in pieces of `bucket` (0 when alone):
 * per piece 2 (N - 1) slices of ceil(piece / N) floats (the all-to-all and the all-gather). */
double clvae_comm_sum_bytes(const clvae_comm_t *c, size_t n, size_t bucket);

/* *flag becomes the largest of the ranks' flags (to decide together, e.g. whether to stop). */
clvae_status_t clvae_comm_any(clvae_comm_t *c, int *flag, clvae_error_t *err);

/* Rank root's bytes into every rank's buf. */
clvae_status_t clvae_comm_bcast(clvae_comm_t *c, void *buf, size_t bytes, int root,
                                clvae_error_t *err);

/* Waits for every rank. */
clvae_status_t clvae_comm_barrier(clvae_comm_t *c, clvae_error_t *err);

/* Ends every process of the job with this exit code (MPI_Abort); for the CLI's error path, so
 * that the other ranks do not wait for one that gave up. The local communicator returns. */
void clvae_comm_abort(clvae_comm_t *c, int code);

#endif
