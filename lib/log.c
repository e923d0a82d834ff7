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
	if (rid == NULL) {
		log_rid[0] = '\0';
		return;
	}
	snprintf(log_rid, sizeof(log_rid), "%s", rid);
}

const char *kt_log_request_id(void)
{
	return log_rid[0] ? log_rid : NULL;
}

/* Append s as a JSON string body (without quotes); truncates safely. */
static size_t json_escape(char *dst, size_t cap, size_t off, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s && off + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			dst[off++] = '\\';
			dst[off++] = (char)c;
		} else if (c == '\n') {
			dst[off++] = '\\';
			dst[off++] = 'n';
		} else if (c < 0x20 || c == 0x7f) {
			dst[off++] = '\\';
			dst[off++] = 'u';
			dst[off++] = '0';
			dst[off++] = '0';
			dst[off++] = hex[c >> 4];
			dst[off++] = hex[c & 15];
		} else {
			dst[off++] = (char)c;
		}
	}
	return off;
}

static size_t append(char *dst, size_t cap, size_t off, const char *s)
{
	size_t n = strlen(s);
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
 * serialised as JSON without the braces ("\"k\":1,\"k2\":\"v\"").
 */
static void emit(enum kt_log_level level, const char *func, int line,
		 const char *msg, const char *extra)
{
	char buf[KT_LOG_LINE_MAX];
	char num[24];
	struct timespec now;
	size_t off = 0;
	int saved_errno = errno;

	clock_gettime(CLOCK_REALTIME, &now);

	off = append(buf, sizeof(buf), off, "{\"ts\":\"");
	off = append(buf, sizeof(buf), off, ts_seconds(now.tv_sec));
	snprintf(num, sizeof(num), ".%03ldZ", now.tv_nsec / 1000000);
	off = append(buf, sizeof(buf), off, num);
	off = append(buf, sizeof(buf), off, "\",\"level\":\"");
	off = append(buf, sizeof(buf), off, level_names[level]);
	off = append(buf, sizeof(buf), off, "\"");
	if (log_rid[0]) {
		off = append(buf, sizeof(buf), off, ",\"rid\":\"");
		off = json_escape(buf, sizeof(buf), off, log_rid);
		off = append(buf, sizeof(buf), off, "\"");
	}
	if (func != NULL) {
		off = append(buf, sizeof(buf), off, ",\"src\":\"");
		off = json_escape(buf, sizeof(buf), off, func);
		snprintf(num, sizeof(num), ":%d\"", line);
		off = append(buf, sizeof(buf), off, num);
	}
	off = append(buf, sizeof(buf), off, ",\"msg\":\"");
	off = json_escape(buf, sizeof(buf), off, msg);
	off = append(buf, sizeof(buf), off, "\"");
	if (extra != NULL && *extra != '\0') {
		off = append(buf, sizeof(buf), off, ",");
		off = append(buf, sizeof(buf), off, extra);
	}
	/* Room for the closing brace and newline is always kept. */
	if (off > sizeof(buf) - 3)
		off = sizeof(buf) - 3;
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

void kt_log_write(enum kt_log_level level, const char *func, int line,
		  const char *fmt, ...)
{
	char msg[KT_LOG_LINE_MAX / 2];
	va_list ap;

	if (!kt_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	emit(level, func, line, msg, NULL);
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
		if (n >= 2) {
			extra[n - 1] = '\0';
			emit(level, func, line, msg, extra + 1);
			free(extra);
			return;
		}
		free(extra);
	}
	emit(level, func, line, msg, NULL);
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
	size_t off = 0;

	if (!kt_log_enabled(KT_LOG_INFO))
		return;
	off = append(extra, sizeof(extra), off, "\"method\":\"");
	off = json_escape(extra, sizeof(extra), off, method);
	off = append(extra, sizeof(extra), off, "\",\"path\":\"");
	off = json_escape(extra, sizeof(extra), off, path);
	off += (size_t)snprintf(extra + off, sizeof(extra) - off,
				"\",\"status\":%d,\"ms\":%lld,\"ip\":\"",
				status, ms);
	if (off >= sizeof(extra))
		off = sizeof(extra) - 1;
	off = json_escape(extra, sizeof(extra), off, ip);
	off = append(extra, sizeof(extra), off,
		     gone ? "\",\"gone\":true" : "\",\"gone\":false");
	extra[off] = '\0';
	emit(KT_LOG_INFO, NULL, 0, "request", extra);
}
