/* core/base/process.c -- the loop, the clock, the configuration in force. */
#include <string.h>
#include <sys/time.h>

#include "base/process.h"

static struct {
    uv_loop_t *loop;
    ember_config_t *cfg;
    int offline;
    int64_t started_us;
} proc;


uv_loop_t *
ember__loop(void)
{
    if (proc.loop == NULL)
        proc.loop = uv_default_loop();
    return proc.loop;
}


const ember_config_t *
ember__config(void)
{
    return proc.cfg;
}


void
ember__config_set_current(ember_config_t *cfg)
{
    proc.cfg = cfg;
}


void
ember__process_start(int offline)
{
    proc.offline = offline;
    proc.started_us = ember__now_us();
}


int64_t
ember__now_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}


uint64_t
ember__uptime_ms(void)
{
    return (uint64_t) (ember__now_us() - proc.started_us) / 1000;
}


int
ember__server_offline(void)
{
    return proc.offline;
}


int
ember__host_exists(const char *name)
{
    return proc.cfg != NULL && name != NULL &&
           ember__config_host(proc.cfg, name) != NULL;
}


int
ember__is_admin(const char *bare)
{
    size_t i;

    for (i = 0; proc.cfg != NULL && proc.cfg->admins != NULL &&
                proc.cfg->admins[i] != NULL; i++)
        if (strcmp(proc.cfg->admins[i], bare) == 0)
            return 1;
    return 0;
}
