/* Reproduces the two Oclgrind faults that the Oclgrind quirk of src/device/tensor.c works around,
 * with plain OpenCL (no clvae code), for tests/test_oclgrind.sh: run under `oclgrind
 * --uninitialized`, each mode but "control" should draw "Uninitialized value" reports although
 * every value the kernel reads was written. The day they stop, the quirk can go.
 *   partial  a buffer written from the host in two halves (fault 1: a host write replaces the
 *            shadow of the whole buffer with one of the write's size)
 *   reuse    a buffer written by a kernel only, in the slot of a smaller buffer released before
 *            (fault 2: the released buffer's shadow survives and is inherited)
 *   control  the same kernels with a whole-buffer host write and no reuse: no report */
#include <CL/cl.h>
#include <stdio.h>
#include <string.h>

static const char *src =
    "__kernel void fill(__global float *z) { z[get_global_id(0)] = 2.0f; }\n"
    "__kernel void add1(__global float *z, __global const float *a)\n"
    "{ uint i = get_global_id(0); z[i] = a[i] + 1.0f; }\n";

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "control";
    if (strcmp(mode, "partial") && strcmp(mode, "reuse") && strcmp(mode, "control")) {
        fprintf(stderr, "usage: oclgrind_faults partial|reuse|control\n");
        return 2;
    }
    enum { N = 40 };
    float h[N];
    for (int i = 0; i < N; i++) h[i] = 0.5f * (float)i;
    cl_platform_id p;
    cl_device_id d;
    cl_int rc;
    if (clGetPlatformIDs(1, &p, NULL) != CL_SUCCESS ||
        clGetDeviceIDs(p, CL_DEVICE_TYPE_ALL, 1, &d, NULL) != CL_SUCCESS) {
        fprintf(stderr, "oclgrind_faults: no OpenCL device\n");
        return 1;
    }
    cl_context c = clCreateContext(NULL, 1, &d, NULL, NULL, &rc);
    cl_command_queue q = clCreateCommandQueue(c, d, 0, &rc);
    cl_program pr = clCreateProgramWithSource(c, 1, &src, NULL, &rc);
    if (rc != CL_SUCCESS || clBuildProgram(pr, 1, &d, "", NULL, NULL) != CL_SUCCESS) {
        fprintf(stderr, "oclgrind_faults: build failed\n");
        return 1;
    }
    cl_kernel fill = clCreateKernel(pr, "fill", &rc), add1 = clCreateKernel(pr, "add1", &rc);
    cl_mem small = clCreateBuffer(c, CL_MEM_READ_WRITE, 3 * sizeof(float), NULL, &rc);
    clEnqueueWriteBuffer(q, small, CL_TRUE, 0, 3 * sizeof(float), h, 0, NULL, NULL);
    if (strcmp(mode, "reuse") == 0) clReleaseMemObject(small); /* its slot goes to a */
    cl_mem a = clCreateBuffer(c, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &rc);
    cl_mem z = clCreateBuffer(c, CL_MEM_READ_WRITE, N * sizeof(float), NULL, &rc);
    size_t g = N, half = N / 2 * sizeof(float);
    if (strcmp(mode, "partial") == 0) {
        clEnqueueWriteBuffer(q, a, CL_TRUE, 0, half, h, 0, NULL, NULL);
        clEnqueueWriteBuffer(q, a, CL_TRUE, half, half, h + N / 2, 0, NULL, NULL);
    } else if (strcmp(mode, "control") == 0) {
        clEnqueueWriteBuffer(q, a, CL_TRUE, 0, sizeof h, h, 0, NULL, NULL);
    } else {
        clSetKernelArg(fill, 0, sizeof a, &a);
        clEnqueueNDRangeKernel(q, fill, 1, NULL, &g, NULL, 0, NULL, NULL);
    }
    clSetKernelArg(add1, 0, sizeof z, &z);
    clSetKernelArg(add1, 1, sizeof a, &a);
    clEnqueueNDRangeKernel(q, add1, 1, NULL, &g, NULL, 0, NULL, NULL);
    float out[N];
    rc = clEnqueueReadBuffer(q, z, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL);
    float want = strcmp(mode, "reuse") == 0 ? 3.0f : h[N - 1] + 1.0f;
    printf("%s: z[%d] = %g (want %g)\n", mode, N - 1, (double)out[N - 1], (double)want);
    return rc == CL_SUCCESS && out[N - 1] == want ? 0 : 1;
}
