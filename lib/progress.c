#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/progress.h"
#include "kontor/util.h"

#define BAR_WIDTH 30
#define BAR_REDRAW_MS 100

struct kt_progress {
	FILE *out;
	enum kt_progress_mode mode;
	char label[32], item[16];
	uint64_t total;
	unsigned interval_ms;
	int64_t start_ms, last_ms;
	unsigned calls;
	int drawn;
};

struct kt_progress *kt_progress_new(FILE *out, enum kt_progress_mode mode,
				    const char *label, const char *item,
				    uint64_t total, unsigned interval_s)
{
	struct kt_progress *p;

	if (mode == KT_PROGRESS_OFF || out == NULL)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->out = out;
	p->mode = mode;
	snprintf(p->label, sizeof(p->label), "%s", label ? label : "");
	snprintf(p->item, sizeof(p->item), "%s", item ? item : "items");
	p->total = total;
	p->interval_ms = (interval_s ? interval_s : 5) * 1000u;
	p->start_ms = p->last_ms = kt_mono_ms();
	return p;
}

void kt_progress_format_eta(char *buf, size_t cap, uint64_t s)
{
	if (s >= 3600)
		snprintf(buf, cap, "%llu:%02llu:%02llu",
			 (unsigned long long)(s / 3600),
			 (unsigned long long)(s / 60 % 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, cap, "%llu:%02llu", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
}

/* 1234567 -> "1,234,567" */
static void grouped(char *buf, size_t cap, uint64_t v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
	size_t w = 0;

	for (int i = 0; i < n && w + 2 < cap; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[w++] = ',';
		buf[w++] = tmp[i];
	}
	buf[w] = '\0';
}

static void draw(struct kt_progress *p, uint64_t done, uint64_t items,
		 int64_t now, int final)
{
	double el = (double)(now - p->start_ms) / 1000.0;
	double rate = el > 0 ? (double)items / el : 0;
	char its[32], rs[32], eta[48] = "";
	int pct = -1;

	grouped(its, sizeof(its), items);
	grouped(rs, sizeof(rs), (uint64_t)rate);
	if (p->total > 0) {
		pct = (int)(done >= p->total ? 100 : done * 100 / p->total);
		if (!final && done > 0 && done < p->total && el > 0.5) {
			double left =
			    el * (double)(p->total - done) / (double)done;
			kt_progress_format_eta(eta, sizeof(eta),
					       (uint64_t)(left + 0.5));
		}
	}
	if (final) {
		char t[24];
		kt_progress_format_eta(t, sizeof(t), (uint64_t)(el + 0.5));
		snprintf(eta, sizeof(eta), "took %s", t);
	}
	if (p->mode == KT_PROGRESS_BAR) {
		char bar[BAR_WIDTH + 1];
		int fill = pct < 0 ? 0 : pct * BAR_WIDTH / 100;

		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		if (pct >= 0)
			fprintf(p->out, "\r%s [%s] %3d%%  %s %s  %s %s/s  %s%s",
				p->label, bar, pct, its, p->item, rs, p->item,
				eta[0] && !final ? "ETA " : "", eta);
		else
			fprintf(p->out, "\r%s  %s %s  %s %s/s", p->label, its,
				p->item, rs, p->item);
		fputs("\033[K", p->out); /* clear the rest of the line */
		if (final)
			fputc('\n', p->out);
	} else {
		if (pct >= 0)
			fprintf(p->out, "%s: %d%%  %s %s  %s %s/s%s%s\n",
				p->label, pct, its, p->item, rs, p->item,
				eta[0] ? (final ? "  " : "  ETA ") : "", eta);
		else
			fprintf(p->out, "%s: %s %s  %s %s/s\n", p->label, its,
				p->item, rs, p->item);
	}
	fflush(p->out);
	p->drawn = 1;
}

void kt_progress_update(struct kt_progress *p, uint64_t done, uint64_t items)
{
	int64_t now;

	if (p == NULL || (++p->calls & 255) != 0)
		return;
	now = kt_mono_ms();
	if (p->mode == KT_PROGRESS_BAR ? now - p->last_ms < BAR_REDRAW_MS
				       : now - p->last_ms < p->interval_ms)
		return;
	p->last_ms = now;
	draw(p, done, items, now, 0);
}

void kt_progress_finish(struct kt_progress *p, uint64_t done, uint64_t items)
{
	if (p == NULL)
		return;
	/* short plain runs print nothing until the end: one final line */
	draw(p, done, items, kt_mono_ms(), 1);
}

void kt_progress_free(struct kt_progress *p)
{
	free(p);
}
