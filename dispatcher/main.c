/* main.c — hotline-dispatcher: command line, configuration, start-up and
 * shutdown. Owns the process; the work is done by the modules it starts. */
#include "hotline/config.h"
#include "hotline/util.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: hotline-dispatcher -c CONFIG [--db PATH] [--check]\n"
            "\n"
            "The 12345 hotline dispatcher: owns the ticket database, routes tickets to units,\n"
            "keeps deadlines and publishes events.\n"
            "\n"
            "  -c, --config FILE   configuration file (see config/README.md)\n"
            "      --db PATH       database file (overrides dispatcher.db)\n"
            "      --check         validate the configuration, print a summary, exit\n"
            "  -h, --help          this text\n"
            "  -V, --version       print the version\n"
            "\n"
            "Exit status: 0 stopped by SIGTERM/SIGINT or --check passed; 1 runtime failure;\n"
            "2 usage error or invalid configuration.\n");
}

int main(int argc, char **argv)
{
    hl_log_init("hotline-dispatcher", HL_LOG_INFO);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
        {"check", no_argument, NULL, 'k'},        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *db = NULL;
    int check = 0, c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'd': db = optarg; break;
        case 'k': check = 1; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("hotline-dispatcher %s\n", HL_VERSION); return 0;
        default: s_usage(stderr); return 2;
        }
    }
    if (!config || optind < argc) {
        s_usage(stderr);
        return 2;
    }
    char *errors = NULL;
    hl_config *cfg = hl_config_load(config, &errors);
    if (!cfg) {
        fputs(errors, stderr);
        free(errors);
        return 2;
    }
    if (check) {
        char *summary = hl_config_summary(cfg);
        fputs(summary, stdout);
        free(summary);
        hl_config_destroy(&cfg);
        return 0;
    }
    (void)db;
    hl_error("serving is not available in this build");
    hl_config_destroy(&cfg);
    return 1;
}
