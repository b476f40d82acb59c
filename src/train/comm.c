/* Communicators: the local one (nothing to do) and MPI's world (Open MPI under mpirun). */
#include "clvae/train/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef CLVAE_HAVE_MPI
#include <mpi.h>
#endif

struct clvae_comm {
    int rank, size, local_rank, local_size;
    int mpi; /* MPI_Init was called */
};

/* A positive integer from the environment, or 0. */
static int env_int(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    long n = strtol(v, &end, 10);
    return *end || n < 0 || n > 1 << 20 ? 0 : (int)n;
}

int clvae_comm_launched(void)
{
    return env_int("OMPI_COMM_WORLD_SIZE") > 1;
}

clvae_status_t clvae_comm_open(clvae_comm_t **out, clvae_error_t *err)
{
    *out = NULL;
    clvae_comm_t *c = calloc(1, sizeof *c);
    if (!c) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    c->size = c->local_size = 1;
    if (!clvae_comm_launched()) {
        *out = c;
        return CLVAE_OK;
    }
#ifdef CLVAE_HAVE_MPI
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        free(c);
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "MPI did not start (MPI_Init_thread failed)");
    }
    c->mpi = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &c->size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL,
                            &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &c->local_rank);
        MPI_Comm_size(node, &c->local_size);
        MPI_Comm_free(&node);
    } else {
        c->local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK");
        c->local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE");
        if (c->local_size < 1) c->local_size = 1;
    }
    *out = c;
    return CLVAE_OK;
#else
    free(c);
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "started by mpirun with %d processes, but this "
                      "clvae was built without MPI: install libopenmpi-dev (make deps) and "
                      "build again (make clean all)", env_int("OMPI_COMM_WORLD_SIZE"));
#endif
}

void clvae_comm_close(clvae_comm_t *c)
{
    if (!c) return;
#ifdef CLVAE_HAVE_MPI
    if (c->mpi) {
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Finalize();
    }
#endif
    free(c);
}

int clvae_comm_rank(const clvae_comm_t *c) { return c ? c->rank : 0; }
int clvae_comm_size(const clvae_comm_t *c) { return c ? c->size : 1; }
int clvae_comm_local_rank(const clvae_comm_t *c) { return c ? c->local_rank : 0; }
int clvae_comm_local_size(const clvae_comm_t *c) { return c ? c->local_size : 1; }

#ifdef CLVAE_HAVE_MPI
/* An MPI call's failure as a clvae error. */
static clvae_status_t mpi_failed(int rc, const char *what, clvae_error_t *err)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", rc);
    return CLVAE_FAIL(err, CLVAE_ERR_IO, "%s failed: %s (another rank may have ended)", what, msg);
}

/* One piece of the sum: the all-to-all of its N slices of `chunk` floats is in flight in
 * *req (send: the piece padded to N * chunk, recv: N * chunk); sums slice `rank` in rank order
 * into acc, then gathers the slices into out (N * chunk). */
static clvae_status_t finish_piece(const clvae_comm_t *c, MPI_Request *req, const float *recv,
                                   size_t chunk, float *acc, float *out, clvae_error_t *err)
{
    int rc = MPI_Wait(req, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return mpi_failed(rc, "MPI_Wait (all-to-all)", err);
    for (size_t i = 0; i < chunk; i++) acc[i] = recv[i];
    for (int j = 1; j < c->size; j++)
        for (size_t i = 0; i < chunk; i++) acc[i] += recv[(size_t)j * chunk + i];
    rc = MPI_Allgather(acc, (int)chunk, MPI_FLOAT, out, (int)chunk, MPI_FLOAT, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? CLVAE_OK : mpi_failed(rc, "MPI_Allgather", err);
}
#endif

clvae_status_t clvae_comm_sum_pieces(clvae_comm_t *c, float *v, size_t np, const size_t *lo,
                                     const size_t *len, clvae_comm_ready_t ready, void *user,
                                     clvae_error_t *err)
{
    if (!c || c->size == 1 || np == 0) return CLVAE_OK;
#ifdef CLVAE_HAVE_MPI
    size_t N = (size_t)c->size, most = 1;
    for (size_t p = 0; p < np; p++)
        if (len[p] > most) most = len[p];
    size_t cap = (most + N - 1) / N; /* floats per rank of the largest piece */
    if (cap > (size_t)1 << 30)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a piece of %zu floats is too large for MPI",
                          most);
    /* two pieces in flight at most: send and recv buffers for each parity */
    float *mem = malloc((4 * N * cap + cap + N * cap) * sizeof *mem);
    if (!mem) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *send[2] = {mem, mem + N * cap}, *recv[2] = {mem + 2 * N * cap, mem + 3 * N * cap};
    float *acc = mem + 4 * N * cap, *out = acc + cap;
    MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
    clvae_status_t s = CLVAE_OK;
    for (size_t p = 0; p <= np && !s; p++) {
        if (p < np) { /* start piece p */
            size_t chunk = (len[p] + N - 1) / N;
            float *sb = send[p & 1];
            if (ready && (s = ready(user, p, err))) break;
            memcpy(sb, v + lo[p], len[p] * sizeof *v);
            memset(sb + len[p], 0, (N * chunk - len[p]) * sizeof *v);
            int rc = MPI_Ialltoall(sb, (int)chunk, MPI_FLOAT, recv[p & 1], (int)chunk, MPI_FLOAT,
                                   MPI_COMM_WORLD, &req[p & 1]);
            if (rc != MPI_SUCCESS) {
                s = mpi_failed(rc, "MPI_Ialltoall", err);
                break;
            }
        }
        if (p > 0) { /* finish piece p - 1 while p travels */
            size_t q = p - 1, chunk = (len[q] + N - 1) / N;
            s = finish_piece(c, &req[q & 1], recv[q & 1], chunk, acc, out, err);
            if (!s) memcpy(v + lo[q], out, len[q] * sizeof *v);
        }
    }
    for (int k = 0; k < 2; k++)
        if (req[k] != MPI_REQUEST_NULL) MPI_Wait(&req[k], MPI_STATUS_IGNORE);
    free(mem);
    return s;
#else
    (void)v, (void)lo, (void)len, (void)ready, (void)user;
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "built without MPI");
#endif
}

clvae_status_t clvae_comm_sum(clvae_comm_t *c, float *v, size_t n, size_t bucket,
                              clvae_error_t *err)
{
    if (!c || c->size == 1 || n == 0) return CLVAE_OK;
    if (bucket == 0 || bucket > n) bucket = n;
    size_t np = (n + bucket - 1) / bucket;
    size_t *lo = malloc(2 * np * sizeof *lo);
    if (!lo) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    size_t *len = lo + np;
    for (size_t p = 0; p < np; p++) {
        lo[p] = p * bucket;
        len[p] = n - lo[p] < bucket ? n - lo[p] : bucket;
    }
    clvae_status_t s = clvae_comm_sum_pieces(c, v, np, lo, len, NULL, NULL, err);
    free(lo);
    return s;
}

double clvae_comm_sum_bytes(const clvae_comm_t *c, size_t n, size_t bucket)
{
    if (!c || c->size == 1 || n == 0) return 0.0;
    size_t N = (size_t)c->size;
    if (bucket == 0 || bucket > n) bucket = n;
    size_t chunk = (bucket + N - 1) / N, np = (n + bucket - 1) / bucket;
    return (double)np * 2.0 * (double)(N - 1) * (double)chunk * 4.0;
}

clvae_status_t clvae_comm_any(clvae_comm_t *c, int *flag, clvae_error_t *err)
{
    if (!c || c->size == 1) return CLVAE_OK;
#ifdef CLVAE_HAVE_MPI
    int mine = *flag;
    int rc = MPI_Allreduce(&mine, flag, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? CLVAE_OK : mpi_failed(rc, "MPI_Allreduce", err);
#else
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "built without MPI");
#endif
}

clvae_status_t clvae_comm_bcast(clvae_comm_t *c, void *buf, size_t bytes, int root,
                                clvae_error_t *err)
{
    if (!c || c->size == 1) return CLVAE_OK;
#ifdef CLVAE_HAVE_MPI
    for (size_t done = 0; done < bytes;) {
        size_t len = bytes - done < (size_t)1 << 30 ? bytes - done : (size_t)1 << 30;
        int rc = MPI_Bcast((char *)buf + done, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return mpi_failed(rc, "MPI_Bcast", err);
        done += len;
    }
    return CLVAE_OK;
#else
    (void)buf, (void)bytes, (void)root;
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "built without MPI");
#endif
}

clvae_status_t clvae_comm_barrier(clvae_comm_t *c, clvae_error_t *err)
{
    if (!c || c->size == 1) return CLVAE_OK;
#ifdef CLVAE_HAVE_MPI
    int rc = MPI_Barrier(MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? CLVAE_OK : mpi_failed(rc, "MPI_Barrier", err);
#else
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "built without MPI");
#endif
}

void clvae_comm_abort(clvae_comm_t *c, int code)
{
#ifdef CLVAE_HAVE_MPI
    if (c && c->mpi) MPI_Abort(MPI_COMM_WORLD, code);
#else
    (void)code;
#endif
    (void)c;
}
