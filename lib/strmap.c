#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kontor/err.h"
#include "kontor/strmap.h"

#define STRMAP_MIN 1024

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The slot holding key, or the free slot where it would go. */
static size_t slot_of(const struct kt_strmap *m, const char *key, int *found)
{
	size_t j = fnv1a(key) & m->mask;

	while (m->key[j] != NULL) {
		if (strcmp(m->key[j], key) == 0) {
			*found = 1;
			return j;
		}
		j = (j + 1) & m->mask;
	}
	*found = 0;
	return j;
}

static int grow(struct kt_strmap *m)
{
	size_t cap = m->key ? (m->mask + 1) * 2 : STRMAP_MIN;
	const char **nk;
	size_t *nv;

	if (cap > SIZE_MAX / sizeof(*nv))
		return KT_ERR_NOMEM;
	nk = calloc(cap, sizeof(*nk));
	nv = calloc(cap, sizeof(*nv));
	if (nk == NULL || nv == NULL) {
		free(nk);
		free(nv);
		return KT_ERR_NOMEM;
	}
	for (size_t i = 0; m->key != NULL && i <= m->mask; i++) {
		size_t j;

		if (m->key[i] == NULL)
			continue;
		for (j = fnv1a(m->key[i]) & (cap - 1); nk[j] != NULL;
		     j = (j + 1) & (cap - 1))
			;
		nk[j] = m->key[i];
		nv[j] = m->val[i];
	}
	free(m->key);
	free(m->val);
	m->key = nk;
	m->val = nv;
	m->mask = cap - 1;
	return KT_OK;
}

int kt_strmap_get(const struct kt_strmap *m, const char *key, size_t *val)
{
	size_t j;
	int found;

	if (m->key == NULL)
		return 0;
	j = slot_of(m, key, &found);
	if (found && val != NULL)
		*val = m->val[j];
	return found;
}

int kt_strmap_add(struct kt_strmap *m, const char *key, size_t val, size_t *old)
{
	size_t j;
	int found;

	if ((m->key == NULL || (m->n + 1) * 2 > m->mask + 1) &&
	    grow(m) != KT_OK)
		return KT_ERR_NOMEM;
	j = slot_of(m, key, &found);
	if (found) {
		if (old != NULL)
			*old = m->val[j];
		return 1;
	}
	if (m->own_keys && (key = strdup(key)) == NULL)
		return KT_ERR_NOMEM;
	m->key[j] = key;
	m->val[j] = val;
	m->n++;
	return 0;
}

void kt_strmap_free(struct kt_strmap *m)
{
	int own = m->own_keys;

	for (size_t i = 0; own && m->key != NULL && i <= m->mask; i++)
		free((char *)m->key[i]);
	free(m->key);
	free(m->val);
	memset(m, 0, sizeof(*m));
	m->own_keys = own;
}
