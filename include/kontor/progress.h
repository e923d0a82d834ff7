#ifndef KONTOR_PROGRESS_H
#define KONTOR_PROGRESS_H

/*
 * Progress of a long run on stderr: on a terminal a bar redrawn in place
 * (at most ten times a second) with percentage, items, rate and ETA;
 * otherwise one plain line every interval seconds, so logs of batch jobs
 * stay readable. Progress is measured in work units (bytes read, rows
 * written); the rate is shown in items (records).
 */

#include <stdint.h>
#include <stdio.h>

enum kt_progress_mode {
	KT_PROGRESS_OFF = 0,
	KT_PROGRESS_BAR,   /* terminal */
	KT_PROGRESS_LINES, /* plain periodic lines */
};

struct kt_progress;

/*
 * label names the run ("import"), item the unit of the rate ("records"),
 * total the work units to do (0 = unknown: no percentage, no ETA).
 * interval_s: seconds between plain lines. NULL on allocation failure;
 * every function accepts NULL and then does nothing.
 */
struct kt_progress *kt_progress_new(FILE *out, enum kt_progress_mode mode,
				    const char *label, const char *item,
				    uint64_t total, unsigned interval_s);

/* Cheap to call per row: looks at the clock every 256 calls. */
void kt_progress_update(struct kt_progress *p, uint64_t done, uint64_t items);

/* Final state and a line break (bar) or a last line (plain). */
void kt_progress_finish(struct kt_progress *p, uint64_t done, uint64_t items);

void kt_progress_free(struct kt_progress *p);

/* "1:02:03" / "2:03" for seconds. */
void kt_progress_format_eta(char *buf, size_t cap, uint64_t seconds);

#endif
