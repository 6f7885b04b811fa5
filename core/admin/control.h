/* core/control.h -- the control socket emberctl talks to. */
#ifndef EMBER_CORE_CONTROL_H
#define EMBER_CORE_CONTROL_H

/* Longest request line, newline excluded. */
#define EMBER_CONTROL_LINE_MAX (64 * 1024)

/*
 * Listen on the unix socket `path` (mode 0600) on ember__loop().  A stale
 * socket file is replaced; EMBER_EBUSY when another process answers on it.
 * Protocol: one JSON object per line, {"command": NAME, "args": {...}},
 * answered in order by one line each: {"ok": true, "result": R} or
 * {"ok": false, "error": "EINVAL", "message": "..."}.  The command
 * "commands" lists every registered command.
 */
int ember__control_start(const char *path);
/* Close the socket and every connection; the socket file is removed. */
void ember__control_stop(void);

#endif
