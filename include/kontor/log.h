#ifndef KONTOR_LOG_H
#define KONTOR_LOG_H

/*
 * Structured logging: one JSON object per line on stderr (or a chosen fd),
 * each written whole by one write(2) (alone, or with other whole lines of
 * the same thread, see kt_log_thread_buffer) so lines from several threads
 * never interleave. Every line carries the current request id when there is one.
 *
 * A line is always one valid JSON object of at most 4 KiB: bytes that are
 * not UTF-8 become U+FFFD, a message too long is cut at a character
 * boundary, extra fields that do not fit are dropped whole, and either cut
 * adds "truncated":true.
 *
 * Never pass passwords, codes, tokens, client secrets or cookies to these
 * functions; log a kt_util_fingerprint() of them if correlation is needed.
 */

#include <jansson.h>

enum kt_log_level {
	KT_LOG_DEBUG = 0,
	KT_LOG_INFO,
	KT_LOG_WARN,
	KT_LOG_ERROR,
	KT_LOG_OFF,
};

void kt_log_init(enum kt_log_level level, int fd);
int kt_log_enabled(enum kt_log_level level);
/* "debug", "info", "warn", "error", "off"; returns 0 or KT_ERR_INVALID. */
int kt_log_level_parse(const char *s, enum kt_log_level *out);

/* Thread-local id of the request being served; NULL clears it. Copied. */
void kt_log_set_request_id(const char *rid);
const char *kt_log_request_id(void);

void kt_log_write(enum kt_log_level level, const char *func, int line,
		  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Log msg with extra structured fields (borrowed; may be NULL), e.g. the
 * access log line with method, path, status and duration.
 */
void kt_log_fields(enum kt_log_level level, const char *func, int line,
		   const char *msg, json_t *fields);

/*
 * The per-request access log line at info level: the same output as
 * kt_log_fields(KT_LOG_INFO, NULL, 0, "request", {method, path, status,
 * ms, ip, gone}), without building a JSON object (it runs on every request).
 */
void kt_log_access(const char *method, const char *path, int status,
		   long long ms, const char *ip, int gone);

/*
 * Buffering for an event-loop thread, where one write(2) per request line
 * costs about a tenth of a small request's CPU time. After
 * kt_log_thread_buffer(wake, arg), the calling thread's debug and info
 * lines collect in a buffer of at most PIPE_BUF bytes of whole lines (one
 * write stays atomic on a pipe) and are written when it is full, when the
 * thread calls kt_log_flush(), or right before any warn or error line of
 * the thread. wake(arg) runs when the buffer goes from empty to non-empty:
 * the loop then schedules kt_log_flush() after the events at hand, so a
 * line waits at most one loop iteration. kt_log_thread_buffer(NULL, NULL)
 * flushes and stops buffering (call it before the thread ends).
 */
void kt_log_thread_buffer(void (*wake)(void *arg), void *arg);
void kt_log_flush(void);

#define KT_LOG_(lvl, ...)                                                      \
	do {                                                                   \
		if (kt_log_enabled(lvl))                                       \
			kt_log_write(lvl, __func__, __LINE__, __VA_ARGS__);    \
	} while (0)

#define kt_log_debug(...) KT_LOG_(KT_LOG_DEBUG, __VA_ARGS__)
#define kt_log_info(...) KT_LOG_(KT_LOG_INFO, __VA_ARGS__)
#define kt_log_warn(...) KT_LOG_(KT_LOG_WARN, __VA_ARGS__)
#define kt_log_error(...) KT_LOG_(KT_LOG_ERROR, __VA_ARGS__)

/* Error-code variants append ": <kt_strerror(r)>" (openssh error_fr). */
#define kt_log_warn_r(r, fmt, ...)                                             \
	KT_LOG_(KT_LOG_WARN, fmt ": %s", ##__VA_ARGS__, kt_strerror(r))
#define kt_log_error_r(r, fmt, ...)                                            \
	KT_LOG_(KT_LOG_ERROR, fmt ": %s", ##__VA_ARGS__, kt_strerror(r))

#endif
