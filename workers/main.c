/* main.c — worker: command line entry point. */
#include "hotline/util.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("hotline-worker %s\n", HL_VERSION);
            return 0;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: hotline-worker --help | --version\n");
            return 0;
        }
    }
    fprintf(stderr, "hotline-worker: not available in this build\n");
    return 2;
}
