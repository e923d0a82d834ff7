#ifndef KONTOR_OAUTH2LOG_H
#define KONTOR_OAUTH2LOG_H

/*
 * liboauth2's log, written to kt_log: the glue shared by kontor-idp
 * (federation: the upstream ID token's signature) and the demo portal.
 *
 * Only liboauth2's warnings and errors pass; its debug and trace output
 * holds tokens, cookies and payloads. Even at warn and error level
 * liboauth2 1.4.5.4 may print a token (oauth2_cache_set: "leave: could NOT
 * store: <the token>"), so every message is filtered by
 * kt_oauth2log_redact before it reaches kt_log.
 */

#include <stddef.h>

#include <oauth2/log.h>

/*
 * A sink at OAUTH2_LOG_WARN that writes liboauth2's errors as kt_log errors
 * and its warnings as warnings, with liboauth2's function and line, after
 * kt_oauth2log_redact. Hand it to oauth2_init() or oauth2_log_init(), which
 * own it from then on (oauth2_log_free frees it); if that fails, free it
 * with oauth2_mem_free. NULL when out of memory.
 */
oauth2_log_sink_t *kt_oauth2log_sink_new(void);

/*
 * A liboauth2 log handle with only that sink, for code that does not call
 * oauth2_init() (kontor-idp: curl and OpenSSL are set up by its own
 * modules). Free with kt_oauth2log_free. NULL when out of memory.
 */
oauth2_log_t *kt_oauth2log_new(void);

/* Frees the handle and its sink; NULL is ignored. */
void kt_oauth2log_free(oauth2_log_t *log);

/* Longest run of token characters that is kept (see below). */
#define KT_OAUTH2LOG_RUN_MAX 19

/*
 * Copy msg to dst (cap bytes, truncated at a byte boundary if too small)
 * with every token-like word replaced by "[redacted]": a run of more than
 * KT_OAUTH2LOG_RUN_MAX characters from [A-Za-z0-9._~+/=-] with both upper-
 * and lower-case letters. That covers JWTs, JWEs, codes, state values and
 * cookies (random base64); words, function names, lower-case host names
 * and URL paths stay readable. A message cut for lack of room never ends
 * in part of a token. dst never gets longer than msg, so
 * cap = strlen(msg) + 1 always suffices. Returns dst.
 */
char *kt_oauth2log_redact(char *dst, size_t cap, const char *msg);

#endif
