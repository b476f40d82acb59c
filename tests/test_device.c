/* Device listing on the real driver, and every kind of --device spec on a made-up list. */
#define TEST_FILE "test_device"
#include "test.h"

#include "clvae/device/device.h"

/* Three made-up devices on two platforms: cpu, gpu, cpu. */
static int fake(clvae_device_info_t d[3])
{
    memset(d, 0, 3 * sizeof *d);
    const char *names[] = {"pthread-skylake", "NVIDIA H100 80GB", "Intel(R) Core CPU"};
    cl_device_type types[] = {CL_DEVICE_TYPE_CPU, CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_CPU};
    int plat[] = {0, 1, 1}, dev[] = {0, 0, 1};
    for (int i = 0; i < 3; i++) {
        d[i].index = i;
        d[i].platform = plat[i];
        d[i].device = dev[i];
        d[i].type = types[i];
        snprintf(d[i].name, sizeof d[i].name, "%s", names[i]);
        snprintf(d[i].platform_name, sizeof d[i].platform_name, "platform %d", plat[i]);
    }
    return 3;
}

static int pick(const clvae_device_info_t *d, int n, const char *spec, clvae_status_t *st)
{
    clvae_error_t err = {0};
    int idx = -7;
    *st = clvae_device_select(d, n, spec, &idx, &err);
    clvae_error_clear(&err);
    return idx;
}

static void t_list_real_devices(void)
{
    clvae_error_t err = {0};
    clvae_device_info_t *devs = NULL;
    int n = 0;
    clvae_status_t s = clvae_device_list(&devs, &n, &err);
    REQUIRE(s == CLVAE_OK, "%s", err.msg);
    REQUIRE(n >= 1, "no devices listed");
    for (int i = 0; i < n; i++) {
        CHECK(devs[i].index == i, "index %d at position %d", devs[i].index, i);
        CHECK(devs[i].name[0] != 0, "device %d has no name", i);
        CHECK(devs[i].max_wg >= 1, "device %d max work-group %zu", i, devs[i].max_wg);
        CHECK(devs[i].max_alloc > 0 && devs[i].max_alloc <= devs[i].global_mem,
              "device %d max alloc %llu of %llu", i, (unsigned long long)devs[i].max_alloc,
              (unsigned long long)devs[i].global_mem);
        CHECK(strncmp(devs[i].c_version, "OpenCL C ", 9) == 0, "device %d C version '%s'", i,
              devs[i].c_version);
    }
    free(devs);
}

static void t_default_prefers_gpu(void)
{
    clvae_device_info_t d[3];
    int n = fake(d);
    clvae_status_t st;
    CHECK(pick(d, n, NULL, &st) == 1 && st == CLVAE_OK, "NULL spec");
    CHECK(pick(d, n, "", &st) == 1 && st == CLVAE_OK, "empty spec");
    d[1].type = CL_DEVICE_TYPE_ACCELERATOR; /* no GPU left: the first device */
    CHECK(pick(d, n, NULL, &st) == 0 && st == CLVAE_OK, "no GPU");
}

static void t_spec_forms(void)
{
    clvae_device_info_t d[3];
    int n = fake(d);
    clvae_status_t st;
    CHECK(pick(d, n, "2", &st) == 2 && st == CLVAE_OK, "flat index");
    CHECK(pick(d, n, "0", &st) == 0 && st == CLVAE_OK, "flat index 0");
    CHECK(pick(d, n, "1:1", &st) == 2 && st == CLVAE_OK, "P:D");
    CHECK(pick(d, n, "1:0", &st) == 1 && st == CLVAE_OK, "P:D");
    CHECK(pick(d, n, "gpu", &st) == 1 && st == CLVAE_OK, "type gpu");
    CHECK(pick(d, n, "CPU", &st) == 0 && st == CLVAE_OK, "type CPU, any case");
    CHECK(pick(d, n, "h100", &st) == 1 && st == CLVAE_OK, "substring, any case");
    CHECK(pick(d, n, "core", &st) == 2 && st == CLVAE_OK, "substring");
    CHECK(pick(d, n, "intel", &st) == 2 && st == CLVAE_OK, "substring of later device");
}

static void t_spec_no_match(void)
{
    clvae_device_info_t d[3];
    int n = fake(d);
    const char *bad[] = {"nosuch", "3", "99999999999999999999", "2:0", "0:1", "accelerator",
                         "1:", ":1", "-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clvae_status_t st;
        int idx = pick(d, n, bad[i], &st);
        CHECK(st == CLVAE_ERR_NOT_FOUND && idx == -1, "spec '%s' gave %d (%s)", bad[i], idx,
              clvae_status_name(st));
    }
    /* The error lists the devices so the user can choose. */
    clvae_error_t err = {0};
    int idx;
    clvae_device_select(d, n, "nosuch", &idx, &err);
    CHECK(strstr(err.msg, "nosuch") != NULL, "message '%s' names the spec", err.msg);
    CHECK(err.detail && strstr(err.detail, "NVIDIA H100 80GB") &&
              strstr(err.detail, "pthread-skylake"),
          "detail lists the devices: %s", err.detail ? err.detail : "(none)");
    clvae_error_clear(&err);
    clvae_status_t st;
    CHECK(pick(d, 0, NULL, &st) == -1 && st == CLVAE_ERR_NOT_FOUND, "empty list");
}

static void t_error_names(void)
{
    CHECK(strcmp(clvae_cl_error_name(-5), "CL_OUT_OF_RESOURCES") == 0, "-5");
    CHECK(strcmp(clvae_cl_error_name(-11), "CL_BUILD_PROGRAM_FAILURE") == 0, "-11");
    CHECK(strcmp(clvae_cl_error_name(-54), "CL_INVALID_WORK_GROUP_SIZE") == 0, "-54");
    CHECK(strcmp(clvae_cl_error_name(12345), "CL_UNKNOWN_ERROR") == 0, "unknown");
    clvae_error_t err = {0};
    clvae_status_t s = clvae_error_cl(&err, -5, "clEnqueueNDRangeKernel(q, k, 1)", "src/x.c", 42);
    CHECK(s == CLVAE_ERR_OPENCL, "status %s", clvae_status_name(s));
    CHECK(strstr(err.msg, "clEnqueueNDRangeKernel failed: CL_OUT_OF_RESOURCES (-5)") &&
              strstr(err.msg, "src/x.c:42"),
          "message '%s'", err.msg);
}

int main(void)
{
    RUN(t_list_real_devices);
    RUN(t_default_prefers_gpu);
    RUN(t_spec_forms);
    RUN(t_spec_no_match);
    RUN(t_error_names);
    return TEST_EXIT();
}
