/*
 * Benchmark of the matcher on synthetic company records.
 *
 *     bench_match run RECORDS [PROFILE [THREADS]]
 *         generate RECORDS in memory, then block, compare, estimate and
 *         cluster; print seconds and records/s per stage, the run's
 *         summary (with pair completeness and F1 against the generator's
 *         truth) and the peak RSS.
 *     bench_match generate RECORDS RECORDS.tsv TRUTH.csv [SEED]
 *         write a table and its truth for kontor-migrate match/eval.
 *
 * A benchmark, not a test: it checks nothing. bench/match.sh runs both at
 * 100k and 1M records.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "kontor/err.h"
#include "kontor/match.h"
#include "kontor/matchsynth.h"
#include "kontor/util.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_mib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024;
}

static int usage(const char *argv0)
{
	fprintf(stderr,
		"usage: %s run RECORDS [PROFILE [THREADS]]\n"
		"       %s generate RECORDS RECORDS.tsv TRUTH.csv [SEED]\n",
		argv0, argv0);
	return 2;
}

static void stage(const char *name, double secs, size_t records)
{
	printf("%-10s %8.2f s %12.0f records/s\n", name, secs,
	       secs > 0 ? (double)records / secs : 0.0);
}

/* Explain a few false merges and missed true pairs (for tuning). */
static void show_errors(const struct kt_match *m,
			const struct kt_match_table *t, const uint32_t *truth,
			int max)
{
	const uint32_t *cl;
	uint32_t ncl;
	int shown = 0;
	struct kt_match_explanation ex;
	struct kt_error err;

	cl = kt_match_clusters(m, &ncl);
	printf("== false merges (edges joining different entities)\n");
	for (size_t i = 0; i < kt_match_npairs(m) && shown < max; i++) {
		uint32_t a, b;
		unsigned passes;
		uint64_t pat;

		kt_match_pair(m, i, &a, &b, &passes, &pat);
		if (truth[a] == truth[b] || cl[a] != cl[b])
			continue;
		if (kt_match_explain(m, a, b, &ex, &err) != KT_OK ||
		    ex.decision != KT_MATCH_MERGE)
			continue;
		kt_match_explain_print(m, &ex, stdout);
		putchar('\n');
		shown++;
	}
	printf("== missed true pairs (same entity, different clusters)\n");
	shown = 0;
	for (uint32_t a = 0; a + 1 < kt_match_table_size(t) && shown < max;
	     a++) {
		uint32_t b = a + 1;

		if (truth[a] != truth[b] || cl[a] == cl[b])
			continue;
		if (kt_match_explain(m, a, b, &ex, &err) != KT_OK)
			continue;
		kt_match_explain_print(m, &ex, stdout);
		putchar('\n');
		shown++;
	}
}

static int run(size_t n, const char *profile_path, unsigned threads)
{
	struct kt_match_profile *p = NULL;
	struct kt_match_table *t = NULL;
	struct kt_match *m = NULL;
	struct kt_matchsynth_params sp;
	struct kt_error err;
	uint32_t *truth = NULL;
	json_t *summary = NULL;
	double t0, total = 0;
	int r;

	if ((r = kt_match_profile_load_file(profile_path, &p, &err)) != KT_OK)
		goto fail;
	kt_matchsynth_defaults(&sp);
	sp.records = n;
	t0 = now_s();
	if ((r = kt_matchsynth_generate(p, &sp, &t, &truth, &err)) != KT_OK)
		goto fail;
	printf("generated %zu records in %.2f s (not counted)\n",
	       kt_match_table_size(t), now_s() - t0);
	if ((r = kt_match_new(p, t, threads, &m, &err)) != KT_OK)
		goto fail;
	kt_match_set_truth(m, truth);
	t0 = now_s();
	if ((r = kt_match_block(m, &err)) != KT_OK)
		goto fail;
	stage("block", now_s() - t0, kt_match_table_size(t));
	total += now_s() - t0;
	t0 = now_s();
	if ((r = kt_match_compare(m, &err)) != KT_OK)
		goto fail;
	stage("compare", now_s() - t0, kt_match_table_size(t));
	printf("%-10s %8s   %12.0f pairs/s\n", "", "",
	       (double)kt_match_npairs(m) / (now_s() - t0));
	total += now_s() - t0;
	t0 = now_s();
	if ((r = kt_match_estimate(m, NULL, &err)) != KT_OK)
		goto fail;
	stage("estimate", now_s() - t0, kt_match_table_size(t));
	total += now_s() - t0;
	t0 = now_s();
	if ((r = kt_match_cluster(m, &err)) != KT_OK)
		goto fail;
	stage("cluster", now_s() - t0, kt_match_table_size(t));
	total += now_s() - t0;
	stage("total", total, kt_match_table_size(t));
	printf("peak RSS %ld MiB\n\n", peak_rss_mib());
	if (getenv("BENCH_ERRORS") != NULL)
		show_errors(m, t, truth, atoi(getenv("BENCH_ERRORS")));
	summary = kt_match_summary_json(m);
	kt_match_summary_print(summary, stdout);
	json_decref(summary);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
	free(truth);
	return 0;
fail:
	fprintf(stderr, "bench_match: %s\n", err.msg);
	kt_match_free(m);
	kt_match_table_free(t);
	kt_match_profile_free(p);
	free(truth);
	return 1;
}

static int generate(size_t n, const char *tsv, const char *truth_path,
		    uint64_t seed)
{
	struct kt_match_profile *p = NULL;
	struct kt_match_table *t = NULL;
	struct kt_matchsynth_params sp;
	struct kt_error err;
	uint32_t *truth = NULL;
	FILE *out = NULL;
	const char *profile = getenv("KONTOR_PROFILE");
	int rc = 1;

	if (kt_match_profile_load_file(profile ? profile
					       : "docs/profiles/company.json",
				       &p, &err) != KT_OK)
		goto fail;
	kt_matchsynth_defaults(&sp);
	sp.records = n;
	sp.seed = seed;
	if (kt_matchsynth_generate(p, &sp, &t, &truth, &err) != KT_OK)
		goto fail;
	out = fopen(tsv, "w");
	if (out == NULL || kt_match_table_write_tsv(t, out) != KT_OK ||
	    fclose(out) != 0) {
		snprintf(err.msg, sizeof(err.msg), "cannot write %s", tsv);
		goto fail;
	}
	out = fopen(truth_path, "w");
	if (out == NULL) {
		snprintf(err.msg, sizeof(err.msg), "cannot write %s",
			 truth_path);
		goto fail;
	}
	fputs("id,entity\n", out);
	for (size_t i = 0; i < kt_match_table_size(t); i++)
		fprintf(out, "%s,e%u\n", kt_match_table_id(t, (uint32_t)i),
			truth[i]);
	if (fclose(out) != 0) {
		snprintf(err.msg, sizeof(err.msg), "cannot write %s",
			 truth_path);
		goto fail;
	}
	rc = 0;
	goto done;
fail:
	fprintf(stderr, "bench_match: %s\n", err.msg);
done:
	kt_match_table_free(t);
	kt_match_profile_free(p);
	free(truth);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t n, threads = 0, seed = 1;

	if (argc >= 3 && strcmp(argv[1], "run") == 0 && argc <= 5) {
		if (kt_parse_uint(argv[2], 100000000, &n) != KT_OK ||
		    (argc == 5 &&
		     kt_parse_uint(argv[4], 64, &threads) != KT_OK))
			return usage(argv[0]);
		return run((size_t)n,
			   argc >= 4 ? argv[3] : "docs/profiles/company.json",
			   (unsigned)threads);
	}
	if (argc >= 5 && argc <= 6 && strcmp(argv[1], "generate") == 0) {
		if (kt_parse_uint(argv[2], 100000000, &n) != KT_OK ||
		    (argc == 6 &&
		     kt_parse_uint(argv[5], UINT64_MAX, &seed) != KT_OK))
			return usage(argv[0]);
		return generate((size_t)n, argv[3], argv[4], seed);
	}
	return usage(argv[0]);
}
