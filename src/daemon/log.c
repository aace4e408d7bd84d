/*
 * src/daemon/log.c -- vmvarsd's logging: one line per event on stderr,
 * with a level.  Under systemd (JOURNAL_STREAM set) each line starts with
 * the sd-daemon "<N>" priority prefix so the journal records the level;
 * otherwise "vmvarsd[pid]: level: text".  Guest-controlled bytes are never
 * logged raw: callers log numbers and lengths only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

static enum log_level max_level = LOG_LVL_INFO;
static bool journal;

void
log_init(enum log_level level)
{
	max_level = level;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

int
log_level_parse(const char *text, enum log_level *out)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

static void
log_vline(enum log_level level, const char *fmt, va_list ap)
{
	/* syslog priorities: err 3, warning 4, info 6, debug 7 */
	static const int prio[] = { 3, 4, 6, 7 };
	static const char *names[] = { "error", "warning", "info", "debug" };
	char line[1024];
	int saved = errno;

	vsnprintf(line, sizeof(line), fmt, ap);
	if (journal)
		fprintf(stderr, "<%d>%s\n", prio[level], line);
	else
		fprintf(stderr, "vmvarsd[%ld]: %s: %s\n", (long)getpid(), names[level], line);
	errno = saved;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	log_vline(level, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vline(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
