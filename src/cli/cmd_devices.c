/* `clvae devices`: every OpenCL device as a table or JSON, and which one a spec picks. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static void print_json(const clvae_device_info_t *devs, int n, int selected)
{
    printf("{\n  \"selected\": %d,\n  \"devices\": [", selected);
    for (int i = 0; i < n; i++) {
        const clvae_device_info_t *d = &devs[i];
        printf("%s\n    {\"index\": %d, \"id\": \"%d:%d\", \"platform\": ", i ? "," : "",
               d->index, d->platform, d->device);
        cli_json_string(stdout, d->platform_name);
        printf(", \"platform_version\": ");
        cli_json_string(stdout, d->platform_version);
        printf(", \"name\": ");
        cli_json_string(stdout, d->name);
        printf(", \"vendor\": ");
        cli_json_string(stdout, d->vendor);
        printf(", \"driver_version\": ");
        cli_json_string(stdout, d->driver_version);
        printf(", \"type\": \"%s\", \"compute_units\": %u, \"clock_mhz\": %u, "
               "\"global_mem_bytes\": %llu, \"max_alloc_bytes\": %llu, "
               "\"local_mem_bytes\": %llu, \"max_work_group_size\": %zu, \"opencl_c_version\": ",
               clvae_device_type_name(d->type), d->compute_units, d->clock_mhz,
               (unsigned long long)d->global_mem, (unsigned long long)d->max_alloc,
               (unsigned long long)d->local_mem, d->max_wg);
        cli_json_string(stdout, d->c_version);
        printf(", \"fp16\": %s, \"fp64\": %s}", d->fp16 ? "true" : "false",
               d->fp64 ? "true" : "false");
    }
    printf("\n  ]\n}\n");
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            return cli_unknown_arg(&cli_cmd_devices, argv[i]);
    }
    clvae_error_t err = {0};
    clvae_device_info_t *devs = NULL;
    int n = 0, pick = -1;
    if (clvae_device_list(&devs, &n, &err) != CLVAE_OK) {
        int code = cli_report(common, &err);
        clvae_error_clear(&err);
        return code;
    }
    /* A spec that matches nothing is an error here too, so the user sees it. */
    if (!clvae_comm_launched() && cli_device_error(common, clvae_device_select(devs, n, common->device, &pick, &err),
                         &err) != CLVAE_OK) {
        int code = cli_report(common, &err);
        clvae_error_clear(&err);
        free(devs);
        return code;
    }
    if (clvae_comm_launched() && !json) {
        /* under mpirun: the device each rank of `clvae train` would take (no MPI start-up:
         * Open MPI's environment gives the ranks) */
        const char *v = getenv("OMPI_COMM_WORLD_LOCAL_RANK"), *w = getenv("OMPI_COMM_WORLD_RANK");
        const char *ls = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        int local = v ? atoi(v) : 0, rank = w ? atoi(w) : 0, lsize = ls ? atoi(ls) : 1, shared;
        if (cli_device_error(common, clvae_device_select_rank(devs, n, common->device, local,
                                                               lsize, &pick, &shared, &err),
                             &err) != CLVAE_OK) {
            int code = cli_report(common, &err);
            clvae_error_clear(&err);
            free(devs);
            return code;
        }
        printf("rank %d (local rank %d of %d): device %d, %d:%d %s (%s)%s\n", rank, local, lsize,
               pick, devs[pick].platform, devs[pick].device,
               clvae_device_type_name(devs[pick].type), devs[pick].name,
               shared > 1 ? ", shared with other ranks" : "");
        free(devs);
        return 0;
    }
    if (json) {
        print_json(devs, n, pick);
    } else {
        size_t size = 1024 + (size_t)n * 512;
        char *table = malloc(size);
        if (!table) {
            free(devs);
            fprintf(stderr, "clvae: error: out of host memory\n");
            return 1;
        }
        clvae_device_format_table(devs, n, table, size);
        fputs(table, stdout);
        printf("selected: %d (%s)", pick, devs[pick].name);
        if (!common->device)
            printf("  [default: of the %s devices (GPUs first, else the first device's type), "
                   "the one with the most compute units, %u]", clvae_device_type_name(devs[pick].type),
                   devs[pick].compute_units);
        printf("\n");
        free(table);
    }
    free(devs);
    return 0;
}

const cli_command_t cli_cmd_devices = {
    "devices", "list the OpenCL devices and show which one --device picks",
    "clvae devices [--json] [--device SPEC]\n"
    "  Under mpirun (mpirun -np N clvae devices [--device SPEC]) each rank prints the device it\n"
    "  would train on: its local rank's among the devices SPEC matches (or of a list 0,2).",
    run};
