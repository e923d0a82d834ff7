#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kontor/err.h"
#include "kontor/log.h"
#include "kontor/util.h"

#define KT_LOG_LINE_MAX 4096

static enum kt_log_level log_level = KT_LOG_INFO;
static int log_fd = 2;
static _Thread_local char log_rid[64];

/*
 * Per-thread line buffer of an event-loop thread (kt_log_thread_buffer).
 * At most PIPE_BUF bytes of whole lines, so that one write(2) stays atomic
 * on a pipe and lines of several threads never interleave.
 */
#define LOG_BUF_MAX PIPE_BUF
static _Thread_local struct {
	int on;
	void (*wake)(void *arg);
	void *arg;
	size_t len;
	char buf[LOG_BUF_MAX];
} tbuf;

static const char *const level_names[] = {"debug", "info", "warn", "error",
					  "off"};

void kt_log_init(enum kt_log_level level, int fd)
{
	log_level = level;
	log_fd = fd;
}

int kt_log_enabled(enum kt_log_level level)
{
	return level >= log_level && level < KT_LOG_OFF;
}

int kt_log_level_parse(const char *s, enum kt_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum kt_log_level)i;
			return KT_OK;
		}
	}
	return KT_ERR_INVALID;
}

void kt_log_set_request_id(const char *rid)
{
	size_t n;

	if (rid == NULL) {
		log_rid[0] = '\0';
		return;
	}
	n = strnlen(rid, sizeof(log_rid) - 1);
	memcpy(log_rid, rid, n);
	log_rid[n] = '\0';
}

const char *kt_log_request_id(void)
{
	return log_rid[0] ? log_rid : NULL;
}

/*
 * Room always left at the end of a line for ',"truncated":true' and "}\n",
 * so that a line cut anywhere still closes as valid JSON.
 */
#define TRUNCATED_MARK ",\"truncated\":true"
#define TAIL_RESERVE 24

static size_t append(char *dst, size_t cap, size_t off, const char *s)
{
	size_t n = strlen(s);

	if (off + 1 >= cap)
		return off;
	if (off + n >= cap)
		n = cap - off - 1;
	memcpy(dst + off, s, n);
	return off + n;
}

/*
 * The seconds part of the timestamp, formatted once per second per thread:
 * gmtime_r and strftime cost more than the rest of an access-log line.
 */
static const char *ts_seconds(time_t sec)
{
	static _Thread_local time_t cached_sec = (time_t)-1;
	static _Thread_local char cached[40];
	struct tm tm;

	if (sec != cached_sec) {
		gmtime_r(&sec, &tm);
		strftime(cached, sizeof(cached), "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	return cached;
}

static void write_all(const char *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = write(log_fd, buf + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
}

void kt_log_flush(void)
{
	int saved_errno = errno;

	if (tbuf.len > 0) {
		write_all(tbuf.buf, tbuf.len);
		tbuf.len = 0;
	}
	errno = saved_errno;
}

void kt_log_thread_buffer(void (*wake)(void *arg), void *arg)
{
	kt_log_flush();
	tbuf.on = wake != NULL;
	tbuf.wake = wake;
	tbuf.arg = arg;
}

/*
 * Write one line. extra, if not NULL, holds further members already
 * serialised as JSON without the braces ("\"k\":1,\"k2\":\"v\""); it is
 * added whole or not at all (a member cut anywhere is not JSON). cut marks
 * a line that lost something on the way: it ends with "truncated":true.
 */
static void emit(enum kt_log_level level, const char *func, int line,
		 const char *msg, const char *extra, int cut)
{
	char buf[KT_LOG_LINE_MAX];
	char num[24];
	const size_t limit = sizeof(buf) - TAIL_RESERVE;
	struct timespec now;
	size_t off = 0;
	int saved_errno = errno;

	clock_gettime(CLOCK_REALTIME, &now);
	off = append(buf, limit, off, "{\"ts\":\"");
	off = append(buf, limit, off, ts_seconds(now.tv_sec));
	{
		long msec = now.tv_nsec / 1000000;
		num[0] = '.';
		num[1] = (char)('0' + msec / 100);
		num[2] = (char)('0' + msec / 10 % 10);
		num[3] = (char)('0' + msec % 10);
		num[4] = 'Z';
		num[5] = '\0';
	}
	off = append(buf, limit, off, num);
	off = append(buf, limit, off, "\",\"level\":\"");
	off = append(buf, limit, off, level_names[level]);
	off = append(buf, limit, off, "\"");
	if (log_rid[0]) {
		off = append(buf, limit, off, ",\"rid\":\"");
		off = kt_json_escape(buf, limit, off, log_rid, &cut);
		off = append(buf, limit, off, "\"");
	}
	if (func != NULL) {
		off = append(buf, limit, off, ",\"src\":\"");
		off = kt_json_escape(buf, limit, off, func, &cut);
		snprintf(num, sizeof(num), ":%d\"", line);
		off = append(buf, limit, off, num);
	}
	off = append(buf, limit, off, ",\"msg\":\"");
	off = kt_json_escape(buf, limit, off, msg, &cut);
	/* kt_json_escape stops at limit, so the quote always fits. */
	buf[off++] = '"';
	if (extra != NULL && *extra != '\0') {
		size_t n = strlen(extra);
		size_t mark = cut ? sizeof(TRUNCATED_MARK) - 1 : 0;

		if (off + 1 + n + mark + 2 > sizeof(buf)) {
			cut = 1;
		} else {
			buf[off++] = ',';
			memcpy(buf + off, extra, n);
			off += n;
		}
	}
	if (cut) {
		memcpy(buf + off, TRUNCATED_MARK, sizeof(TRUNCATED_MARK) - 1);
		off += sizeof(TRUNCATED_MARK) - 1;
	}
	buf[off++] = '}';
	buf[off++] = '\n';

	if (tbuf.on && level < KT_LOG_WARN) {
		if (tbuf.len + off > sizeof(tbuf.buf))
			kt_log_flush();
		if (off <= sizeof(tbuf.buf)) {
			memcpy(tbuf.buf + tbuf.len, buf, off);
			if (tbuf.len == 0 && tbuf.wake != NULL)
				tbuf.wake(tbuf.arg);
			tbuf.len += off;
			errno = saved_errno;
			return;
		}
	}
	/* Warnings and errors go out at once, after what came before them. */
	kt_log_flush();
	write_all(buf, off);
	errno = saved_errno;
}

/* Drop a multi-byte character that vsnprintf cut in half at the end. */
static void trim_partial_utf8(char *s, size_t len)
{
	size_t i = len, k = 0, need;
	unsigned char c;

	while (i > 0 && k < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
		i--;
		k++;
	}
	if (i == 0 || (c = (unsigned char)s[i - 1]) < 0xc0)
		return;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (k + 1 < need)
		s[i - 1] = '\0';
}

void kt_log_write(enum kt_log_level level, const char *func, int line,
		  const char *fmt, ...)
{
	char msg[KT_LOG_LINE_MAX / 2];
	va_list ap;
	int n;

	if (!kt_log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unformattable message)");
	else if ((size_t)n >= sizeof(msg))
		trim_partial_utf8(msg, sizeof(msg) - 1);
	emit(level, func, line, msg, NULL, n < 0 || (size_t)n >= sizeof(msg));
}

void kt_log_fields(enum kt_log_level level, const char *func, int line,
		   const char *msg, json_t *fields)
{
	char *extra = NULL;
	size_t n;

	if (!kt_log_enabled(level))
		return;
	if (fields != NULL && json_is_object(fields)) {
		/* Compact dump without the outer braces, appended as fields. */
		extra = json_dumps(fields, JSON_COMPACT | JSON_ENSURE_ASCII);
		n = extra ? strlen(extra) : 0;
		if (extra == NULL) {
			emit(level, func, line, msg, NULL, 1);
			return;
		}
		if (n >= 2) {
			extra[n - 1] = '\0';
			emit(level, func, line, msg, extra + 1, 0);
			free(extra);
			return;
		}
		free(extra);
	}
	emit(level, func, line, msg, NULL, 0);
}

/*
 * The access log line, once per request: formatted directly instead of
 * through a jansson object and json_dumps(), which cost several
 * allocations and most of the line's CPU time. The output is the same as
 * kt_log_fields() with {method, path, status, ms, ip, gone} in that order.
 */
void kt_log_access(const char *method, const char *path, int status,
		   long long ms, const char *ip, int gone)
{
	char extra[KT_LOG_LINE_MAX / 2];
	char num[KT_FMT_INT_LEN];
	const size_t limit = sizeof(extra) - 32;
	size_t off = 0;
	int cut = 0;

	if (!kt_log_enabled(KT_LOG_INFO))
		return;
	off = append(extra, limit, off, "\"method\":\"");
	off = kt_json_escape(extra, limit, off, method, &cut);
	off = append(extra, limit, off, "\",\"path\":\"");
	off = kt_json_escape(extra, limit, off, path, &cut);
	/* No snprintf: it cost more than the rest of the line together. */
	off = append(extra, limit, off, "\",\"status\":");
	kt_fmt_int(num, status);
	off = append(extra, limit, off, num);
	off = append(extra, limit, off, ",\"ms\":");
	kt_fmt_int(num, ms);
	off = append(extra, limit, off, num);
	off = append(extra, limit, off, ",\"ip\":\"");
	if (off + 1 >= limit)
		cut = 1; /* a path that filled the line: drop the fields */
	off = kt_json_escape(extra, limit, off, ip, &cut);
	off = append(extra, sizeof(extra), off,
		     gone ? "\",\"gone\":true" : "\",\"gone\":false");
	extra[off] = '\0';
	emit(KT_LOG_INFO, NULL, 0, "request", cut ? NULL : extra, cut);
}
