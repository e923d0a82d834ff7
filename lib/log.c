#include <errno.h>
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

static void emit(enum kt_log_level level, const char *func, int line,
		 const char *msg, json_t *fields)
{
	char buf[KT_LOG_LINE_MAX];
	char ts[40], num[24];
	struct timespec now;
	struct tm tm;
	size_t off = 0;
	int saved_errno = errno;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

	off = append(buf, sizeof(buf), off, "{\"ts\":\"");
	off = append(buf, sizeof(buf), off, ts);
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
	if (fields != NULL && json_is_object(fields)) {
		/* Compact dump without the outer braces, appended as fields. */
		char *extra = json_dumps(fields, JSON_COMPACT | JSON_ENSURE_ASCII);
		size_t n = extra ? strlen(extra) : 0;
		if (n > 2) {
			extra[n - 1] = '\0';
			off = append(buf, sizeof(buf), off, ",");
			off = append(buf, sizeof(buf), off, extra + 1);
		}
		free(extra);
	}
	/* Room for the closing brace and newline is always kept. */
	if (off > sizeof(buf) - 3)
		off = sizeof(buf) - 3;
	buf[off++] = '}';
	buf[off++] = '\n';

	for (size_t done = 0; done < off;) {
		ssize_t w = write(log_fd, buf + done, off - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
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
	if (!kt_log_enabled(level))
		return;
	emit(level, func, line, msg, fields);
}
