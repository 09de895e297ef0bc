/* fuzz_config.c — libFuzzer harness for the configuration loader: any text
 * is either a valid configuration whose lookups work, or refused with
 * messages that start with "config: ". */
#include "hotline/config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *errors = NULL;
    hl_config *cfg = hl_config_parse((const char *)data, size, "fuzz.json", &errors);
    if (cfg) {
        if (errors) abort();
        for (int i = 0; i < cfg->nunits; i++)
            if (hl_config_unit(cfg, cfg->units[i].id) != i) abort();
        for (int i = 0; i < cfg->ncells; i++) {
            const hl_cell *c = &cfg->cells[i];
            (void)hl_config_locate(cfg, (c->minlat + c->maxlat) / 2, (c->minlon + c->maxlon) / 2);
        }
        for (int i = 0; i < cfg->ncategories; i++)
            for (int u = 0; u < HL_URG__COUNT; u++) (void)hl_config_sla(cfg, i, (hl_urgency)u);
        free(hl_config_summary(cfg));
        hl_config_destroy(&cfg);
    } else {
        if (!errors || strncmp(errors, "config: ", 8) != 0) abort();
        free(errors);
    }
    return 0;
}
