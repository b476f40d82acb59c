/* A minimal test harness: RUN(case) prints "PASS: file case" or "FAIL: ..." lines. */
#ifndef CLVAE_TEST_H
#define CLVAE_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_case_failed; /* the running case has failed a CHECK */
static int test_failures;    /* cases failed so far */
static int test_passes;      /* cases passed so far */

/* Fails the running case (and goes on) when cond is false. */
#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            test_case_failed = 1;                                         \
            fprintf(stderr, "  %s:%d: check failed: %s: ", __FILE__,      \
                    __LINE__, #cond);                                     \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

/* Like CHECK, but leaves the case when cond is false (cond is evaluated once). */
#define REQUIRE(cond, ...)                                                \
    do {                                                                  \
        int require_ok_ = !!(cond);                                       \
        CHECK(require_ok_ && #cond, __VA_ARGS__);                         \
        if (!require_ok_) return;                                         \
    } while (0)

/* 1 when the environment variable CLVAE_TEST_CASES (a comma-separated list of case names,
 * e.g. "t_determinism,t_known_values") is unset or empty or names this case. */
static int test_case_selected(const char *name)
{
    const char *list = getenv("CLVAE_TEST_CASES");
    if (!list || !*list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        p += len + (end ? 1 : 0);
    }
    return 0;
}

/* Runs one case and reports it (nothing when CLVAE_TEST_CASES leaves it out). */
#define RUN(fn)                                                           \
    do {                                                                  \
        if (!test_case_selected(#fn)) break;                              \
        test_case_failed = 0;                                             \
        fn();                                                             \
        if (test_case_failed) {                                           \
            test_failures++;                                              \
            printf("FAIL: %s %s\n", TEST_FILE, #fn);                      \
        } else {                                                          \
            test_passes++;                                                \
            printf("PASS: %s %s\n", TEST_FILE, #fn);                      \
        }                                                                 \
        fflush(stdout);                                                   \
    } while (0)

/* The exit status of a test binary: non-zero when any case failed. */
#define TEST_EXIT() (test_failures ? 1 : 0)

#endif
