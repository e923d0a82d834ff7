#ifndef KONTOR_RECFILE_H
#define KONTOR_RECFILE_H

/*
 * The importer's records.jsonl as input of the later stages: read record by
 * record (kt_rec, format in docs/migration.md), or straight into a matcher
 * table through kt_rec_match_row, so that `kontor-migrate match` runs on the
 * import's output without a conversion step.
 *
 * Every error stops the read with "FILE:LINE: reason" (a line that is not
 * JSON, a record that kt_rec_from_json refuses, a repeated record id when
 * loading a table).
 */

#include <stdint.h>

#include "kontor/err.h"
#include "kontor/match.h"
#include "kontor/progress.h"
#include "kontor/record.h"

struct kt_recfile;

/* 0, KT_ERR_IO ("FILE: cannot open: ..."), KT_ERR_NOMEM. Caller frees with
 * kt_recfile_close. */
int kt_recfile_open(const char *path, struct kt_recfile **out,
		    struct kt_error *err);

/*
 * The next record: 1 with *rec (owned by the reader, valid until the next
 * call), 0 at the end, or a negative KT_ERR_* with "FILE:LINE: reason".
 */
int kt_recfile_next(struct kt_recfile *f, struct kt_rec **rec,
		    struct kt_error *err);

/* Line of the record last returned; bytes read so far; the file's size
 * (0 if unknown), for progress. */
uint64_t kt_recfile_line(const struct kt_recfile *f);
uint64_t kt_recfile_bytes_read(const struct kt_recfile *f);
uint64_t kt_recfile_size(const struct kt_recfile *f);
void kt_recfile_close(struct kt_recfile *f);

/*
 * 1 if the first object of the JSON Lines file at path is an importer
 * record (its "name" is an object with a "key"), 0 if it is something
 * else (e.g. the matcher's flat JSON Lines), or a negative KT_ERR_* when
 * the file cannot be read.
 */
int kt_recfile_sniff(const char *path, struct kt_error *err);

/*
 * Append every record of path to t. Each profile field must be one of the
 * matcher columns of kt_rec_match_column (by name, any order; columns the
 * profile does not name are left out), else KT_ERR_INVALID "profile field
 * 'x' is not a column of the importer's records (name_key, ...)". Invalid
 * identifiers are already blank in the row, so every present value is
 * valid. threads (0: one per online core) parse the JSON in parallel; the
 * table is the same for any number. progress (may be NULL) is advanced by
 * bytes read.
 */
int kt_recfile_load_table(const char *path, struct kt_match_table *t,
			  unsigned threads, struct kt_progress *progress,
			  struct kt_error *err);

#endif
