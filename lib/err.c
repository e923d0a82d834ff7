#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kontor/err.h"

const char *kt_strerror(int code)
{
	switch (code) {
	case KT_OK:
		return "success";
	case KT_ERR_INTERNAL:
		return "internal error";
	case KT_ERR_NOMEM:
		return "out of memory";
	case KT_ERR_INVALID:
		return "invalid input";
	case KT_ERR_NOTFOUND:
		return "not found";
	case KT_ERR_IO:
		return "I/O error";
	case KT_ERR_CRYPTO:
		return "cryptographic operation failed";
	case KT_ERR_REDIS:
		return "Redis error";
	case KT_ERR_LIMIT:
		return "limit exceeded";
	case KT_ERR_CONFLICT:
		return "conflict";
	case KT_ERR_EXPIRED:
		return "expired";
	case KT_ERR_DENIED:
		return "access denied";
	case KT_ERR_UNSUPPORTED:
		return "unsupported";
	case KT_ERR_BUSY:
		return "too many requests";
	case KT_ERR_UNAVAILABLE:
		return "service unavailable";
	default:
		return "unknown error";
	}
}

int kt_error_set(struct kt_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

void kt_error_clear(struct kt_error *err)
{
	if (err == NULL)
		return;
	err->code = KT_OK;
	err->msg[0] = '\0';
}
