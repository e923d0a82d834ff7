#ifndef KONTOR_ERR_H
#define KONTOR_ERR_H

/*
 * Error codes shared by every module: functions return 0 on success or a
 * negative KT_ERR_* code. When the caller needs to know *what* was wrong
 * (which config key, which claim), the function also fills a caller-owned
 * struct kt_error. The OpenSSH ssherr.h pattern.
 */

#include <stddef.h>

#define KT_OK 0
#define KT_ERR_INTERNAL -1
#define KT_ERR_NOMEM -2
#define KT_ERR_INVALID -3   /* malformed input */
#define KT_ERR_NOTFOUND -4
#define KT_ERR_IO -5
#define KT_ERR_CRYPTO -6
#define KT_ERR_REDIS -7
#define KT_ERR_LIMIT -8     /* input exceeds a configured bound */
#define KT_ERR_CONFLICT -9  /* concurrent change, duplicate */
#define KT_ERR_EXPIRED -10
#define KT_ERR_DENIED -11   /* authentication/authorisation failure */
#define KT_ERR_UNSUPPORTED -12
#define KT_ERR_BUSY -13     /* throttled or overloaded */
#define KT_ERR_UNAVAILABLE -14 /* a dependency (Redis) is down */

#define KT_ERROR_MSG_MAX 512

struct kt_error {
	int code;
	char msg[KT_ERROR_MSG_MAX];
};

/* Static description of a code; never NULL. */
const char *kt_strerror(int code);

/*
 * Fill *err (may be NULL) with code and a formatted message; returns code so
 * that callers can write `return kt_error_set(err, KT_ERR_INVALID, ...);`.
 */
int kt_error_set(struct kt_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reset to KT_OK with an empty message. */
void kt_error_clear(struct kt_error *err);

#endif
