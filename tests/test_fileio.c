/* The one atomic writer (clvae/io/fileio.h): whole files, pieces, failures that keep the old file. */
#define TEST_FILE "test_fileio"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clvae/io/fileio.h"

static char tmpdir[256];

/* dir/name into buf. */
static void in_dir(char *buf, size_t size, const char *dir, const char *name)
{
    snprintf(buf, size, "%.600s/%.100s", dir, name);
}

/* The whole file at path (malloc'd, *n bytes), or NULL when it cannot be read. */
static char *slurp(const char *path, size_t *n)
{
    char *text = NULL;
    clvae_error_t err = {0};
    if (clvae_file_read(path, (size_t)64 << 20, "test file", &text, n, &err)) return NULL;
    return text;
}

/* 1 when path holds exactly the n bytes want. */
static int holds(const char *path, const void *want, size_t n)
{
    size_t m = 0;
    char *got = slurp(path, &m);
    int ok = got && m == n && memcmp(got, want, n) == 0;
    free(got);
    return ok;
}

/* The names in dir into names ("a b c ", in readdir order); returns how many, -1 on error. */
static int entries(const char *dir, char *names, size_t size)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    names[0] = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
        size_t len = strlen(names);
        snprintf(names + len, size - len, "%s ", e->d_name);
    }
    closedir(d);
    return n;
}

/* A fresh empty folder NAME in tmpdir, its path in buf. */
static int fresh_dir(char *buf, size_t size, const char *name)
{
    in_dir(buf, size, tmpdir, name);
    return mkdir(buf, 0755);
}

static void t_whole_file(void)
{
    char dir[512], path[600], names[1024];
    REQUIRE(fresh_dir(dir, sizeof dir, "whole") == 0, "mkdir");
    in_dir(path, sizeof path, dir, "out.txt");
    clvae_error_t err = {0};
    const char *a = "first version\n", *b = "second, longer version of the file\n";
    REQUIRE(clvae_write_file_atomic(path, a, strlen(a), &err) == CLVAE_OK, "%s", err.msg);
    CHECK(holds(path, a, strlen(a)), "the new file is not complete");
    REQUIRE(clvae_write_file_atomic(path, b, strlen(b), &err) == CLVAE_OK, "%s", err.msg);
    CHECK(holds(path, b, strlen(b)), "the replaced file is not complete");
    REQUIRE(clvae_write_file_atomic(path, "", 0, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(holds(path, "", 0), "an empty write leaves a non-empty file");
    CHECK(entries(dir, names, sizeof names) == 1, "the folder holds [%s]", names);
    /* a file name without a folder: the current folder's */
    char here[512];
    REQUIRE(getcwd(here, sizeof here) != NULL, "getcwd");
    REQUIRE(chdir(dir) == 0, "chdir");
    CHECK(clvae_write_file_atomic("bare.txt", a, strlen(a), &err) == CLVAE_OK, "%s", err.msg);
    CHECK(holds("bare.txt", a, strlen(a)), "bare name not written");
    REQUIRE(chdir(here) == 0, "chdir back");
}

/* Written in pieces: the target is the old file until commit, the temp file is named
 * PATH.tmp.PID.N beside it, a leftover of that name is skipped and left alone. */
static void t_pieces(void)
{
    char dir[512], path[600], tmp0[700], tmp1[700], names[1024];
    REQUIRE(fresh_dir(dir, sizeof dir, "pieces") == 0, "mkdir");
    in_dir(path, sizeof path, dir, "model.bin");
    clvae_error_t err = {0};
    REQUIRE(clvae_write_file_atomic(path, "old", 3, &err) == CLVAE_OK, "%s", err.msg);
    snprintf(tmp0, sizeof tmp0, "%s.tmp.%ld.0", path, (long)getpid());
    snprintf(tmp1, sizeof tmp1, "%s.tmp.%ld.1", path, (long)getpid());

    clvae_atomic_file_t f;
    REQUIRE(clvae_atomic_open(&f, path, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(strcmp(f.tmp, tmp0) == 0, "temp file %s, want %s", f.tmp, tmp0);
    char big[70000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7 + 3);
    CHECK(clvae_atomic_write(&f, "head:", 5, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_atomic_write(&f, big, sizeof big, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_atomic_write(&f, NULL, 0, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(holds(path, "old", 3), "the target changed before commit");
    CHECK(access(tmp0, F_OK) == 0, "no temp file %s while writing", tmp0);
    REQUIRE(clvae_atomic_commit(&f, &err) == CLVAE_OK, "%s", err.msg);
    size_t n = 0;
    char *got = slurp(path, &n);
    CHECK(got && n == 5 + sizeof big && memcmp(got, "head:", 5) == 0 &&
              memcmp(got + 5, big, sizeof big) == 0, "the pieces did not arrive whole");
    free(got);
    CHECK(entries(dir, names, sizeof names) == 1, "after commit the folder holds [%s]", names);

    /* a leftover temp of this pid (an earlier process with the same id): skipped, kept */
    FILE *left = fopen(tmp0, "wb");
    REQUIRE(left && fputs("leftover", left) >= 0 && fclose(left) == 0, "cannot plant %s", tmp0);
    REQUIRE(clvae_atomic_open(&f, path, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(strcmp(f.tmp, tmp1) == 0, "temp file %s, want %s", f.tmp, tmp1);
    CHECK(clvae_atomic_write(&f, "new", 3, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_atomic_commit(&f, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(holds(path, "new", 3), "the file after the second commit");
    CHECK(holds(tmp0, "leftover", 8), "the leftover was touched");
    unlink(tmp0);

    /* abort: the old file stays, the temp file goes; a second abort and a zeroed one are fine */
    REQUIRE(clvae_atomic_open(&f, path, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_atomic_write(&f, "never", 5, &err) == CLVAE_OK, "%s", err.msg);
    clvae_atomic_abort(&f);
    clvae_atomic_abort(&f);
    clvae_atomic_file_t zero;
    memset(&zero, 0, sizeof zero);
    clvae_atomic_abort(&zero);
    CHECK(holds(path, "new", 3), "abort changed the file");
    CHECK(entries(dir, names, sizeof names) == 1, "after abort the folder holds [%s]", names);
    /* a write or commit after the end is refused */
    CHECK(clvae_atomic_write(&f, "x", 1, &err) == CLVAE_ERR_INVALID, "write after abort");
    CHECK(clvae_atomic_commit(&f, &err) == CLVAE_ERR_INVALID, "commit after abort");
    CHECK(clvae_atomic_write(&zero, "x", 1, &err) == CLVAE_ERR_INVALID, "write to a zeroed file");
    clvae_error_clear(&err);
}

/* Failures: each leaves the old file as it was and no temp file, with an IO error naming the
 * file. */
static void t_failures(void)
{
    char dir[512], path[600], names[1024], other[700];
    REQUIRE(fresh_dir(dir, sizeof dir, "fail") == 0, "mkdir");
    in_dir(path, sizeof path, dir, "keep.csv");
    clvae_error_t err = {0};
    const char *old = "epoch,loss\n1,0.5\n";
    REQUIRE(clvae_write_file_atomic(path, old, strlen(old), &err) == CLVAE_OK, "%s", err.msg);

    /* a folder that does not exist, and a "folder" that is a plain file */
    const char *bad[] = {"no/such/folder/x.csv", "keep.csv/x.csv"};
    for (size_t i = 0; i < 2; i++) {
        in_dir(other, sizeof other, dir, bad[i]);
        clvae_status_t s = clvae_write_file_atomic(other, "x", 1, &err);
        CHECK(s == CLVAE_ERR_IO && strstr(err.msg, other) && strstr(err.msg, "temp file"),
              "%s: %s %s", bad[i], clvae_status_name(s), err.msg);
    }
    CHECK(holds(path, old, strlen(old)), "the old file changed");
    CHECK(entries(dir, names, sizeof names) == 1, "the folder holds [%s]", names);

    /* a folder we may not write to (root may write anywhere: then nothing to prove) */
    if (geteuid() != 0) {
        REQUIRE(chmod(dir, 0555) == 0, "chmod");
        clvae_status_t s = clvae_write_file_atomic(path, "x", 1, &err);
        CHECK(s == CLVAE_ERR_IO && strstr(err.msg, path), "read-only folder: %s %s",
              clvae_status_name(s), err.msg);
        chmod(dir, 0755);
        CHECK(holds(path, old, strlen(old)), "read-only folder: the old file changed");
    }

    /* the disk fills up halfway (a file size limit: write fails with EFBIG) */
    struct rlimit was;
    REQUIRE(getrlimit(RLIMIT_FSIZE, &was) == 0, "getrlimit");
    struct rlimit small = was;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0, "setrlimit");
    char *big = malloc(100000);
    REQUIRE(big, "no memory");
    memset(big, 'z', 100000);
    clvae_status_t s = clvae_write_file_atomic(path, big, 100000, &err);
    setrlimit(RLIMIT_FSIZE, &was);
    signal(SIGXFSZ, prev);
    free(big);
    CHECK(s == CLVAE_ERR_IO && strstr(err.msg, path) && strstr(err.msg, "write"),
          "full disk: %s %s", clvae_status_name(s), err.msg);
    CHECK(holds(path, old, strlen(old)), "full disk: the old file changed");
    CHECK(entries(dir, names, sizeof names) == 1, "full disk: the folder holds [%s]", names);

    /* the target is a folder: the rename fails after the whole temp file was written */
    in_dir(other, sizeof other, dir, "sub");
    REQUIRE(mkdir(other, 0755) == 0, "mkdir sub");
    char inner[800];
    in_dir(inner, sizeof inner, other, "inside");
    REQUIRE(clvae_write_file_atomic(inner, "x", 1, &err) == CLVAE_OK, "%s", err.msg);
    s = clvae_write_file_atomic(other, "x", 1, &err);
    CHECK(s == CLVAE_ERR_IO && strstr(err.msg, other) && strstr(err.msg, "rename"),
          "over a folder: %s %s", clvae_status_name(s), err.msg);
    CHECK(entries(dir, names, sizeof names) == 2, "over a folder: the folder holds [%s]", names);
    CHECK(entries(other, names, sizeof names) == 1, "over a folder: sub/ holds [%s]", names);
    unlink(inner);
    rmdir(other);

    CHECK(clvae_write_file_atomic("", "x", 1, &err) == CLVAE_ERR_INVALID, "an empty name");
    CHECK(holds(path, old, strlen(old)), "the old file changed in the end");
    clvae_error_clear(&err);
}

/* clvae_dir_prepare and clvae_file_check_writable: the real reason before any work, and
 * nothing left behind by a failure or by clvae_dir_unmake. */
static void t_dir_prepare(void)
{
    char dir[800], file[800], made[800], inner[800];
    clvae_error_t err = {0};
    in_dir(dir, sizeof dir, tmpdir, "prep/a/b");
    REQUIRE(clvae_dir_prepare(dir, made, sizeof made, &err) == CLVAE_OK, "%s", err.msg);
    char want[800];
    in_dir(want, sizeof want, tmpdir, "prep");
    CHECK(strcmp(made, want) == 0, "created %s, want %s", made, want);
    char names[256];
    CHECK(entries(dir, names, sizeof names) == 0, "the probe stayed: [%s]", names);
    clvae_dir_unmake(dir, made);
    struct stat sb;
    CHECK(stat(want, &sb) != 0, "unmake left %s", want);
    /* an existing folder: nothing made, nothing removed */
    REQUIRE(clvae_dir_prepare(tmpdir, made, sizeof made, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(made[0] == 0, "created %s in an existing folder", made);
    clvae_dir_unmake(tmpdir, made);
    CHECK(stat(tmpdir, &sb) == 0, "unmake removed an existing folder");
    /* a file on the way */
    in_dir(file, sizeof file, tmpdir, "afile");
    REQUIRE(clvae_write_file_atomic(file, "x", 1, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_dir_prepare(file, made, sizeof made, &err) == CLVAE_ERR_INVALID &&
          strstr(err.msg, "not a folder"), "a file as the folder: %s", err.msg);
    in_dir(inner, sizeof inner, file, "sub");
    CHECK(clvae_dir_prepare(inner, made, sizeof made, &err) == CLVAE_ERR_INVALID &&
          strstr(err.msg, "is a file, not a folder"), "a file in the path: %s", err.msg);
    CHECK(clvae_file_check_writable(inner, &err) == CLVAE_ERR_INVALID &&
          strstr(err.msg, "not a folder"), "a file's folder is a file: %s", err.msg);
    CHECK(clvae_file_check_writable(tmpdir, &err) == CLVAE_ERR_INVALID &&
          strstr(err.msg, "it is a folder"), "a folder as the file: %s", err.msg);
    in_dir(inner, sizeof inner, tmpdir, "nosuch/x.png");
    CHECK(clvae_file_check_writable(inner, &err) == CLVAE_ERR_INVALID &&
          strstr(err.msg, "No such file"), "a missing folder: %s", err.msg);
    in_dir(inner, sizeof inner, tmpdir, "x.png");
    CHECK(clvae_file_check_writable(inner, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(stat(inner, &sb) != 0, "the check wrote the file");
    /* a folder without write permission (root may write anyway: then only the cleanup) */
    in_dir(inner, sizeof inner, tmpdir, "ro");
    REQUIRE(mkdir(inner, 0555) == 0, "mkdir ro");
    if (geteuid() != 0) {
        in_dir(dir, sizeof dir, inner, "run");
        CHECK(clvae_dir_prepare(dir, made, sizeof made, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "Permission denied"), "read-only: %s", err.msg);
        CHECK(clvae_dir_prepare(inner, made, sizeof made, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "Permission denied"), "read-only: %s", err.msg);
    }
    rmdir(inner);
    unlink(file);
    clvae_error_clear(&err);
}

/* Removes tmpdir and everything in it (one level of folders is all the tests make). */
static void cleanup(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
    strcpy(tmpdir, "/tmp/clvae-fileio-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(t_whole_file);
    RUN(t_pieces);
    RUN(t_failures);
    RUN(t_dir_prepare);
    cleanup();
    return TEST_EXIT();
}
