#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "match_int.h"

uint64_t ktm_hash_bytes(const void *s, size_t n, uint64_t seed)
{
	const unsigned char *p = s;
	uint64_t h = 0xcbf29ce484222325ull ^ ktm_mix64(seed);

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return ktm_mix64(h);
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return (a > b) - (a < b);
}

void ktm_radix_u64(uint64_t *v, uint64_t *tmp, size_t n, unsigned lo,
		   unsigned hi)
{
	size_t *count = NULL;
	uint64_t *src = v, *dst = tmp, *sw;

	if (n < 2)
		return; /* also: v may be NULL when n is 0 */
	if (n < 2048) {
		/* Below the histogram's cost a comparison sort is faster;
		 * sorting all 64 bits orders the [lo, hi) bits too. */
		qsort(v, n, sizeof(*v), cmp_u64);
		return;
	}
	count = malloc(65536 * sizeof(*count));
	if (count == NULL) {
		qsort(v, n, sizeof(*v), cmp_u64);
		return;
	}
	for (unsigned shift = lo; shift < hi; shift += 16) {
		uint64_t mask =
		    hi - shift >= 16 ? 0xffffu : ((1u << (hi - shift)) - 1u);
		size_t sum = 0;

		memset(count, 0, 65536 * sizeof(*count));
		for (size_t i = 0; i < n; i++)
			count[(src[i] >> shift) & mask]++;
		/* All keys share this digit: nothing to move. */
		if (count[(src[0] >> shift) & mask] == n)
			continue;
		for (size_t d = 0; d <= mask; d++) {
			size_t c = count[d];

			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & mask]++] = src[i];
		sw = src;
		src = dst;
		dst = sw;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(count);
}

struct work {
	ktm_work_fn *fn;
	void *ctx;
	unsigned tid;
	size_t lo, hi;
};

static void *work_main(void *arg)
{
	struct work *w = arg;

	w->fn(w->ctx, w->tid, w->lo, w->hi);
	return NULL;
}

int ktm_parallel(unsigned threads, size_t n, ktm_work_fn *fn, void *ctx)
{
	struct work w[64];
	pthread_t th[64];
	int started[64] = {0};

	if (threads == 0)
		threads = 1;
	if (threads > 64)
		threads = 64;
	if ((size_t)threads > n)
		threads = n > 0 ? (unsigned)n : 1;
	for (unsigned i = 0; i < threads; i++) {
		w[i].fn = fn;
		w[i].ctx = ctx;
		w[i].tid = i;
		w[i].lo = n * i / threads;
		w[i].hi = n * (i + 1) / threads;
	}
	for (unsigned i = 1; i < threads; i++)
		started[i] =
		    pthread_create(&th[i], NULL, work_main, &w[i]) == 0;
	work_main(&w[0]);
	for (unsigned i = 1; i < threads; i++) {
		if (started[i])
			pthread_join(th[i], NULL);
		else
			work_main(&w[i]); /* no thread: do it here */
	}
	return KT_OK;
}

double ktm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

unsigned ktm_default_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 1)
		return 1;
	return n > 64 ? 64 : (unsigned)n;
}

int ktm_read_small_file(const char *path, size_t max, char **out,
			const char *what, struct kt_error *err)
{
	FILE *f = NULL;
	char *buf = NULL;
	size_t n;
	int r = KT_OK;

	*out = NULL;
	f = fopen(path, "rb");
	if (f == NULL)
		return kt_error_set(err, KT_ERR_IO, "%s: %s: %s", what, path,
				    strerror(errno));
	buf = malloc(max + 2);
	if (buf == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "%s: out of memory", what);
		goto cleanup;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f)) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s: read error", what,
				 path);
		goto cleanup;
	}
	if (n > max) {
		r = kt_error_set(err, KT_ERR_LIMIT,
				 "%s: %s: larger than %zu bytes", what, path,
				 max);
		goto cleanup;
	}
	if (memchr(buf, '\0', n) != NULL) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "%s: %s: contains a NUL byte", what, path);
		goto cleanup;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
cleanup:
	free(buf);
	fclose(f);
	return r;
}
