#ifndef KONTOR_STRMAP_H
#define KONTOR_STRMAP_H

#include <stddef.h>

/*
 * A string-keyed hash map for the migration's large indexes (a million
 * account ids, cluster labels, organisation ids of a journal): open
 * addressing with linear probing, FNV-1a, at most half full.
 *
 * Keys are the caller's: the map keeps the pointer, so a key must outlive
 * its entry, unless own_keys is set before the first kt_strmap_add, in
 * which case the map copies each key and frees the copies. Values are
 * size_t (an index into the caller's arrays, typically). Entries cannot be
 * removed. A zeroed struct is an empty map.
 *
 *	struct kt_strmap m = {.own_keys = 1};
 *	size_t v;
 *	if (kt_strmap_add(&m, "HH:4711", 0, NULL) < 0) ... out of memory
 *	if (kt_strmap_get(&m, "HH:4711", &v)) ... found
 *	kt_strmap_free(&m);
 */
struct kt_strmap {
	const char **key; /* mask + 1 slots, NULL: free */
	size_t *val;
	size_t mask, n;
	int own_keys;
};

/* 1 and *val (may be NULL) when key is present, else 0. */
int kt_strmap_get(const struct kt_strmap *m, const char *key, size_t *val);

/*
 * Adds key -> val: 0 when added, 1 when key was already present (nothing
 * changes; *old, which may be NULL, gets its value), KT_ERR_NOMEM.
 */
int kt_strmap_add(struct kt_strmap *m, const char *key, size_t val,
		  size_t *old);

/* Frees the table (and the keys if own_keys); the map is empty again. */
void kt_strmap_free(struct kt_strmap *m);

#endif
