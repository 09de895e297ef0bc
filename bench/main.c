/* main.c — hotline-bench: runs the benchmarks of bench/README.md against the
 * real binaries and prints one table: each figure, the limit it is compared
 * with (measured in the same run), the ratio and the target. Measures only:
 * the exit status says whether every bench ran (1 when one could not),
 * never whether a target was met. */
#include "bench.h"

#include "hotline/util.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: hotline-bench [--quick] [--only B1,B2,...] [--bin DIR] [--dir DIR]\n"
            "                     [--config FILE]\n"
            "\n"
            "Benchmarks of the hotline dispatcher against limits measured in the same run.\n"
            "\n"
            "  --quick          small counts (seconds): checks that every bench runs\n"
            "  --only LIST      run only these benches (B1 … B5)\n"
            "  --bin DIR        where hotline-dispatcher and hotline-worker are (bin)\n"
            "  --dir DIR        scratch directory for databases and logs (var/bench)\n"
            "  --config FILE    the city configuration (config/zhucheng.json)\n"
            "  --count N        requests of B1, lifecycles of B2, samples of B3 (profiling)\n");
}

static void *s_cjson_malloc(size_t n)
{
    return hl_malloc(n);
}

static void s_machine(void)
{
    char model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 2;
                p[strcspn(p, "\n")] = '\0';
                hl_strlcpy(model, p, sizeof model);
            }
            break;
        }
    if (f) fclose(f);
    double load[3] = {0};
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &load[0], &load[1], &load[2]) != 3) load[0] = -1;
        fclose(f);
    }
    printf("machine: %ld cores, %s; load average %.2f %.2f %.2f at the start\n",
           sysconf(_SC_NPROCESSORS_ONLN), model, load[0], load[1], load[2]);
}

int main(int argc, char **argv)
{
    hl_log_init("hotline-bench", HL_LOG_WARN);
    cJSON_Hooks hooks = {s_cjson_malloc, free};
    cJSON_InitHooks(&hooks);
    static const struct option opts[] = {
        {"quick", no_argument, NULL, 'q'},        {"only", required_argument, NULL, 'o'},
        {"bin", required_argument, NULL, 'b'},    {"dir", required_argument, NULL, 'd'},
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
        {"count", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    bn_opts o = {0, "bin", "var/bench", "config/zhucheng.json", 0, 0, NULL};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'q': o.quick = 1; break;
        case 'o':
            for (const char *p = optarg; *p; p++)
                if ((*p == 'B' || *p == 'b') && p[1] >= '1' && p[1] <= '5')
                    o.only |= 1u << (p[1] - '0');
            break;
        case 'b': o.bin = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'c': o.config = optarg; break;
        case 'n': o.count = atoi(optarg); break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    char *errors = NULL;
    o.cfg = hl_config_load(o.config, &errors);
    if (!o.cfg) {
        fprintf(stderr, "hotline-bench: %s", errors);
        free(errors);
        return 2;
    }
    /* mkdir -p of the scratch directory */
    char dir[1024];
    hl_strlcpy(dir, o.dir, sizeof dir);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
    mkdir(dir, 0755);

    double t0 = bn_sec();
    s_machine();
    fflush(stdout);
    void (*benches[])(const bn_opts *) = {NULL,           bn_b1_create, bn_b2_lifecycle,
                                          bn_b3_latency,  bn_b4_deadlines, bn_b5_memory};
    for (int b = 1; b <= 5; b++)
        if (!o.only || (o.only & (1u << b))) benches[b](&o);
    bn_table_print();
    printf("%s run in %.0f s\n", o.quick ? "quick" : "full", bn_sec() - t0);
    hl_config_destroy(&o.cfg);
    return bn_failures() ? 1 : 0;
}
