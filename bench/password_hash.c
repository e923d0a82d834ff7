/*
 * Time kt_password_hash() at the default (or given) scrypt parameters.
 *
 *     bench_password_hash [iterations [log_n r p]]
 *
 * Prints milliseconds per hash and the process's peak RSS, the two figures
 * docs/passwords.md quotes. A benchmark, not a test: it checks nothing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "kontor/err.h"
#include "kontor/password.h"
#include "kontor/util.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int arg_uint(const char *s, uint64_t max, unsigned *out)
{
	uint64_t v;

	if (kt_parse_uint(s, max, &v) != KT_OK)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct kt_password_params pp = kt_password_params_default;
	struct kt_error err;
	struct rusage ru;
	unsigned iters = 20;
	double t0, dt, best = 1e300, total = 0;
	char *phc;

	if ((argc != 1 && argc != 2 && argc != 5) ||
	    (argc >= 2 && arg_uint(argv[1], 100000, &iters) != 0) ||
	    (argc == 5 && (arg_uint(argv[2], 64, &pp.log_n) != 0 ||
			   arg_uint(argv[3], 1024, &pp.r) != 0 ||
			   arg_uint(argv[4], 1024, &pp.p) != 0)) ||
	    iters == 0) {
		fprintf(stderr, "usage: %s [iterations [log_n r p]]\n",
			argv[0]);
		return 2;
	}
	for (unsigned i = 0; i < iters; i++) {
		t0 = now_ms();
		if (kt_password_hash("correct horse battery staple", &pp, &phc,
				     &err) != KT_OK) {
			fprintf(stderr, "hash failed: %s\n", err.msg);
			return 1;
		}
		dt = now_ms() - t0;
		free(phc);
		total += dt;
		if (dt < best)
			best = dt;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("scrypt ln=%u r=%u p=%u: %.1f ms/hash (min %.1f ms, %u "
	       "hashes), peak RSS %ld KiB\n",
	       pp.log_n, pp.r, pp.p, total / iters, best, iters, ru.ru_maxrss);
	return 0;
}
