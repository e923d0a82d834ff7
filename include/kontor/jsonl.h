#ifndef KONTOR_JSONL_H
#define KONTOR_JSONL_H

/*
 * Streaming JSON Lines reader (one JSON object per line, UTF-8) with the
 * same discipline as the CSV reader: lines counted from 1, a UTF-8 BOM
 * tolerated, blank lines skipped, a hard line-length limit, and every
 * error fatal for the file as "name:line: reason" (invalid JSON, not an
 * object, duplicate keys, line too long, UTF-16).
 */

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "kontor/err.h"

#define KT_JSONL_DEFAULT_MAX_LINE (1024 * 1024)
#define KT_JSONL_MAX_PATH_DEPTH 8

struct kt_jsonl;

/* max_line 0 = KT_JSONL_DEFAULT_MAX_LINE. 0, KT_ERR_IO, KT_ERR_NOMEM. */
int kt_jsonl_open(const char *path, size_t max_line, struct kt_jsonl **out,
		  struct kt_error *err);
/* From memory (not copied). */
int kt_jsonl_open_mem(const char *name, const void *data, size_t len,
		      size_t max_line, struct kt_jsonl **out,
		      struct kt_error *err);

/*
 * Next object: 1 with *obj (caller decrefs) and *line, 0 at the end, or a
 * negative KT_ERR_* with "name:line: reason". Errors are sticky.
 */
int kt_jsonl_next(struct kt_jsonl *j, json_t **obj, uint64_t *line,
		  struct kt_error *err);

/*
 * For a chunk of a bigger file (readers that split a file between threads):
 * its first line is line first_line of the file, and unless that is 1 the
 * chunk is not the start of the file (no byte order mark expected). Call
 * before the first kt_jsonl_next.
 */
void kt_jsonl_set_first_line(struct kt_jsonl *j, uint64_t first_line);

uint64_t kt_jsonl_bytes_read(const struct kt_jsonl *j);
void kt_jsonl_free(struct kt_jsonl *j);

/*
 * The text of the value at a dotted path ("address.street") in obj:
 * strings as they are, integers and reals in decimal ("1067", "1067.0"
 * for a real), true/false as "true"/"false", an array of strings and
 * numbers joined with "; ". Missing or null: "" and 0. Written to buf
 * (NUL-terminated). KT_ERR_INVALID when the value is an object or an
 * array holding objects/arrays ("expected text, found an object"),
 * KT_ERR_LIMIT when it does not fit buf. *reason (may be NULL) gets a
 * static description.
 */
int kt_jsonl_text(const json_t *obj, const char *path, char *buf, size_t cap,
		  const char **reason);

#endif
