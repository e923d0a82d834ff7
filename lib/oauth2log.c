#include <string.h>

#include <oauth2/log.h>
#include <oauth2/mem.h>

#include "kontor/log.h"
#include "kontor/oauth2log.h"

#define REDACTED "[redacted]"
/* kt_log_write keeps at most this much of a message anyway. */
#define MSG_MAX 2048

static int token_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~' || c == '+' || c == '/' || c == '=';
}

/*
 * A random base64 token of 20 or more characters mixes upper and lower
 * case with near certainty (a JWT always does: it starts with "eyJ"); the
 * words, function names, host names and paths in liboauth2's messages are
 * lower case or short.
 */
static int token_like(const char *s, size_t n)
{
	int lower = 0, upper = 0;

	if (n <= KT_OAUTH2LOG_RUN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		lower |= c >= 'a' && c <= 'z';
		upper |= c >= 'A' && c <= 'Z';
	}
	return lower && upper;
}

/* Append s[0..n) to dst as far as it fits; returns the new length. */
static size_t put(char *dst, size_t cap, size_t len, const char *s, size_t n)
{
	if (len + 1 >= cap)
		return len;
	if (n > cap - 1 - len)
		n = cap - 1 - len;
	memcpy(dst + len, s, n);
	return len + n;
}

char *kt_oauth2log_redact(char *dst, size_t cap, const char *msg)
{
	size_t len = 0, i = 0;

	if (cap == 0)
		return dst;
	while (msg != NULL && msg[i] != '\0') {
		size_t run = 0;

		while (msg[i + run] != '\0' &&
		       token_char((unsigned char)msg[i + run]))
			run++;
		if (run == 0) {
			len = put(dst, cap, len, msg + i, 1);
			i++;
			continue;
		}
		if (token_like(msg + i, run))
			len = put(dst, cap, len, REDACTED, strlen(REDACTED));
		else
			len = put(dst, cap, len, msg + i, run);
		i += run;
	}
	dst[len] = '\0';
	return dst;
}

static void to_kt_log(oauth2_log_sink_t *sink, const char *filename,
		      unsigned long line, const char *function,
		      oauth2_log_level_t level, const char *msg)
{
	enum kt_log_level kl =
	    level <= OAUTH2_LOG_ERROR ? KT_LOG_ERROR : KT_LOG_WARN;
	char clean[MSG_MAX];

	(void)sink;
	(void)filename;
	/* The sink's level keeps notices and below out; make sure anyway. */
	if (level > OAUTH2_LOG_WARN || !kt_log_enabled(kl))
		return;
	kt_oauth2log_redact(clean, sizeof(clean), msg);
	kt_log_write(kl, function ? function : "liboauth2",
		     line > 1000000 ? 0 : (int)line, "liboauth2: %s", clean);
}

oauth2_log_sink_t *kt_oauth2log_sink_new(void)
{
	return oauth2_log_sink_create(OAUTH2_LOG_WARN, to_kt_log, NULL);
}

oauth2_log_t *kt_oauth2log_new(void)
{
	oauth2_log_sink_t *sink = kt_oauth2log_sink_new();
	oauth2_log_t *log;

	/* oauth2_log_init(.., NULL) would take liboauth2's stderr sink. */
	if (sink == NULL)
		return NULL;
	if ((log = oauth2_log_init(OAUTH2_LOG_WARN, sink)) == NULL)
		oauth2_mem_free(sink);
	return log;
}

void kt_oauth2log_free(oauth2_log_t *log)
{
	if (log != NULL)
		oauth2_log_free(log);
}
