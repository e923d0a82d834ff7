#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "migrate.h"
#include "kontor/err.h"
#include "kontor/match.h"
#include "kontor/recfile.h"
#include "kontor/util.h"

/* What match and explain share: the options and the loaded inputs. */
struct opts {
	const char *profile, *in, *truth, *labels, *out, *clusters, *model,
	    *model_out, *review, *review_html, *decisions;
	enum kt_match_format format;
	enum kt_progress_mode progress;
	int records; /* -1: guess, 0: matcher TSV/JSONL, 1: importer records */
	unsigned threads;
	int json, all_pairs;
};

struct inputs {
	struct kt_match_profile *p;
	struct kt_match_table *t;
	struct kt_match *m;
	struct kt_match_decisions *decisions;
	uint32_t *truth, *labels;
	size_t truth_unknown, labels_unknown;
	double read_s;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *cmd, const char *msg)
{
	fprintf(stderr, "kontor-migrate %s: %s\n", cmd, msg);
	return 1;
}

static void inputs_free(struct inputs *in)
{
	kt_match_free(in->m);
	kt_match_decisions_free(in->decisions);
	kt_match_table_free(in->t);
	kt_match_profile_free(in->p);
	free(in->truth);
	free(in->labels);
}

static int labels_for(const char *path, const struct kt_match_table *t,
		      uint32_t **out, size_t *unknown, struct kt_error *err)
{
	struct kt_match_labels *l = NULL;
	int r;

	if ((r = kt_match_labels_read(path, &l, err)) != KT_OK)
		return r;
	r = kt_match_labels_for_table(l, t, out, unknown);
	kt_match_labels_free(l);
	if (r != KT_OK)
		return kt_error_set(err, r, "%s: %s", path, kt_strerror(r));
	return KT_OK;
}

/*
 * The records: the importer's records.jsonl (through kt_rec_match_row,
 * recognised by its nested "name") or the matcher's own TSV/JSON Lines.
 */
static int read_records(const struct opts *o, struct kt_match_table *t,
			struct kt_error *err)
{
	struct kt_progress *prog = NULL;
	FILE *f;
	uint64_t size = 0;
	int records = o->records, r;

	if (records < 0) {
		records = 0;
		if (o->format != KT_MATCH_FORMAT_TSV &&
		    (o->format == KT_MATCH_FORMAT_JSONL ||
		     kt_migrate_has_suffix(o->in, ".jsonl") ||
		     kt_migrate_has_suffix(o->in, ".ndjson"))) {
			if ((r = kt_recfile_sniff(o->in, err)) < 0)
				return r;
			records = r;
		}
	}
	if (!records)
		return kt_match_table_read_file(t, o->in, o->format, err);
	if ((f = fopen(o->in, "r")) != NULL) {
		fseek(f, 0, SEEK_END);
		size = (uint64_t)ftell(f);
		fclose(f);
	}
	prog = kt_progress_new(stderr, o->progress, "read", "records", size, 5);
	r = kt_recfile_load_table(o->in, t, o->threads, prog, err);
	kt_progress_free(prog);
	return r;
}

/* Profile, table, optional truth and labels; then every stage up to the
 * model, and the clustering. */
static int load_and_run(const struct opts *o, struct inputs *in,
			struct kt_error *err)
{
	double t0 = now_s();
	int r;

	if ((r = kt_match_profile_load_file(o->profile, &in->p, err)) !=
		KT_OK ||
	    (r = kt_match_table_new(in->p, &in->t)) != KT_OK ||
	    (r = read_records(o, in->t, err)) != KT_OK)
		return r == KT_ERR_NOMEM ? kt_error_set(err, r, "out of memory")
					 : r;
	if (o->truth != NULL &&
	    (r = labels_for(o->truth, in->t, &in->truth, &in->truth_unknown,
			    err)) != KT_OK)
		return r;
	if (o->labels != NULL &&
	    (r = labels_for(o->labels, in->t, &in->labels, &in->labels_unknown,
			    err)) != KT_OK)
		return r;
	in->read_s = now_s() - t0;
	if ((r = kt_match_new(in->p, in->t, o->threads, &in->m, err)) != KT_OK)
		return r;
	if (in->truth != NULL)
		kt_match_set_truth(in->m, in->truth);
	if ((r = kt_match_block(in->m, err)) != KT_OK ||
	    (r = kt_match_compare(in->m, err)) != KT_OK)
		return r;
	if (o->model != NULL) {
		struct kt_match_model model;

		if ((r = kt_match_model_load_file(in->p, o->model, &model,
						  err)) != KT_OK ||
		    (r = kt_match_set_model(in->m, &model, err)) != KT_OK)
			return r;
	} else if ((r = kt_match_estimate(in->m, in->labels, err)) != KT_OK) {
		return r;
	}
	if (o->decisions != NULL) {
		if ((r = kt_match_decisions_read(o->decisions, in->t,
						 &in->decisions, err)) != KT_OK)
			return r;
		kt_match_set_decisions(in->m, in->decisions);
	}
	return kt_match_cluster(in->m, err);
}

static int parse_common(int c, const char *arg, struct opts *o)
{
	uint64_t v;

	switch (c) {
	case 'p':
		o->profile = arg;
		return 0;
	case 'i':
		o->in = arg;
		return 0;
	case 'f':
		if (strcmp(arg, "tsv") == 0)
			o->format = KT_MATCH_FORMAT_TSV;
		else if (strcmp(arg, "jsonl") == 0)
			o->format = KT_MATCH_FORMAT_JSONL;
		else if (strcmp(arg, "records") == 0)
			o->records = 1;
		else
			return -1;
		if (o->records != 1)
			o->records = 0;
		return 0;
	case 'P':
		return kt_migrate_parse_progress(arg, &o->progress);
	case 'm':
		o->model = arg;
		return 0;
	case 'T':
		if (kt_parse_uint(arg, 64, &v) != KT_OK)
			return -1;
		o->threads = (unsigned)v;
		return 0;
	case 'j':
		o->json = 1;
		return 0;
	default:
		return -1;
	}
}

enum output { O_PAIRS, O_CLUSTERS, O_REVIEW, O_REVIEW_HTML };

static int write_file(const char *path, const struct kt_match *m,
		      enum output which, int all, struct kt_error *err)
{
	FILE *f = fopen(path, "w");
	int r;

	if (f == NULL)
		return kt_error_set(err, KT_ERR_IO, "%s: cannot write", path);
	switch (which) {
	case O_PAIRS:
		r = kt_match_write_pairs(m, f, all);
		break;
	case O_CLUSTERS:
		r = kt_match_write_clusters(m, f);
		break;
	case O_REVIEW:
		r = kt_match_write_review_csv(m, f);
		break;
	default:
		r = kt_match_write_review_html(
		    m, "kontor-migrate: pairs to review", f);
		break;
	}
	if (fclose(f) != 0 && r == KT_OK)
		r = KT_ERR_IO;
	if (r != KT_OK)
		return kt_error_set(err, r, "%s: %s", path, kt_strerror(r));
	return KT_OK;
}

/* Every output a match run was asked for. */
static int write_outputs(const struct opts *o, const struct inputs *in,
			 struct kt_error *err)
{
	if ((o->out != NULL &&
	     write_file(o->out, in->m, O_PAIRS, o->all_pairs, err) != KT_OK) ||
	    (o->clusters != NULL &&
	     write_file(o->clusters, in->m, O_CLUSTERS, 0, err) != KT_OK) ||
	    (o->review != NULL &&
	     write_file(o->review, in->m, O_REVIEW, 0, err) != KT_OK) ||
	    (o->review_html != NULL &&
	     write_file(o->review_html, in->m, O_REVIEW_HTML, 0, err) != KT_OK))
		return err->code;
	return KT_OK;
}

static void match_usage(FILE *out)
{
	fputs("Usage: kontor-migrate match --profile P.json --in RECORDS "
	      "[options]\n"
	      "  --in FILE          records: the importer's records.jsonl, or "
	      "the matcher's .tsv or .jsonl (docs/matching.md)\n"
	      "  --format tsv|jsonl|records  override the format guessed "
	      "from the file\n"
	      "  --out FILE         pairs.csv: merge, review and cut pairs\n"
	      "  --all-pairs        ... and every other candidate pair\n"
	      "  --clusters FILE    clusters.csv: id,cluster for every record\n"
	      "  --truth FILE       id,entity: report pair completeness and "
	      "F1\n"
	      "  --labels FILE      id,entity for some records: seed EM\n"
	      "  --model FILE       use this model instead of EM\n"
	      "  --model-out FILE   save the model (for explain --model)\n"
	      "  --threads N        worker threads (default: one per core)\n"
	      "  --review FILE      the review queue: pairs between the "
	      "thresholds,\n"
	      "                     CSV with an empty decision column\n"
	      "  --review-html FILE the same as a static HTML page\n"
	      "  --json             summary as JSON\n"
	      "  --progress MODE    auto, bar, plain or none\n",
	      out);
}

static void review_usage(FILE *out)
{
	fputs("Usage: kontor-migrate review apply DECISIONS.csv --profile "
	      "P.json --in RECORDS --clusters CLUSTERS.csv [options]\n"
	      "\n"
	      "Reads the admin's decisions on the review queue back into the\n"
	      "clustering: the review export (match --review) with its\n"
	      "'decision' column filled in with accept or reject (empty:\n"
	      "undecided). Runs the match again on the same records (with\n"
	      "--model from match --model-out: the same weights), joins the\n"
	      "accepted pairs before any computed edge and keeps the rejected\n"
	      "ones apart, even through chains of other edges; a pair whose\n"
	      "valid identifiers conflict stays apart and is reported. Writes\n"
	      "the new clusters for 'kontor-migrate plan'.\n"
	      "\n"
	      "  --clusters FILE    the reviewed clusters.csv\n"
	      "  --out FILE         pairs.csv of the reviewed run\n"
	      "  --review FILE      the pairs still undecided (CSV)\n"
	      "  --review-html FILE ... as a static HTML page\n"
	      "  and match's --profile, --in, --format, --model, --truth,\n"
	      "  --threads, --json, --progress\n",
	      out);
}

/* match, and review apply (decisions given): one run, every output. */
static int match_run(const char *cmd, int argc, char **argv,
		     const char *decisions)
{
	static const struct option longopts[] = {
	    {"profile", required_argument, NULL, 'p'},
	    {"in", required_argument, NULL, 'i'},
	    {"format", required_argument, NULL, 'f'},
	    {"progress", required_argument, NULL, 'P'},
	    {"out", required_argument, NULL, 'o'},
	    {"all-pairs", no_argument, NULL, 'a'},
	    {"clusters", required_argument, NULL, 'c'},
	    {"review", required_argument, NULL, 'r'},
	    {"review-html", required_argument, NULL, 'H'},
	    {"truth", required_argument, NULL, 't'},
	    {"labels", required_argument, NULL, 'l'},
	    {"model", required_argument, NULL, 'm'},
	    {"model-out", required_argument, NULL, 'M'},
	    {"threads", required_argument, NULL, 'T'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {.records = -1};
	struct inputs in = {0};
	struct kt_error err;
	json_t *sum = NULL, *secs;
	double t0;
	int c, rc = 1;
	void (*usage)(FILE *) = decisions ? review_usage : match_usage;

	kt_migrate_parse_progress("auto", &o.progress);
	o.decisions = decisions;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 0;
		}
		if (c == 'o')
			o.out = optarg;
		else if (c == 'a')
			o.all_pairs = 1;
		else if (c == 'c')
			o.clusters = optarg;
		else if (c == 'r')
			o.review = optarg;
		else if (c == 'H')
			o.review_html = optarg;
		else if (c == 't')
			o.truth = optarg;
		else if (c == 'l')
			o.labels = optarg;
		else if (c == 'M')
			o.model_out = optarg;
		else if (parse_common(c, optarg, &o) != 0) {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || o.profile == NULL || o.in == NULL) {
		usage(stderr);
		return 2;
	}
	if (decisions != NULL && o.clusters == NULL)
		return kt_migrate_usage("review apply",
					"--clusters is required (the reviewed "
					"clusters for plan)");
	if (load_and_run(&o, &in, &err) != KT_OK) {
		fail(cmd, err.msg);
		goto cleanup;
	}
	t0 = now_s();
	if (write_outputs(&o, &in, &err) != KT_OK) {
		fail(cmd, err.msg);
		goto cleanup;
	}
	if (o.model_out != NULL) {
		json_t *jm =
		    kt_match_model_to_json(in.p, kt_match_get_model(in.m));

		if (json_dump_file(jm, o.model_out,
				   JSON_INDENT(1) | JSON_REAL_PRECISION(17)) !=
		    0) {
			json_decref(jm);
			snprintf(err.msg, sizeof(err.msg), "%s: cannot write",
				 o.model_out);
			fail(cmd, err.msg);
			goto cleanup;
		}
		json_decref(jm);
	}
	sum = kt_match_summary_json(in.m);
	json_object_set_new(sum, "stage",
			    json_string(decisions ? "review" : "match"));
	secs = json_object_get(sum, "seconds");
	json_object_set_new(secs, "read", json_real(in.read_s));
	json_object_set_new(secs, "write", json_real(now_s() - t0));
	json_object_set_new(sum, "input", json_string(o.in));
	if (o.truth != NULL)
		json_object_set_new(sum, "truth_ids_not_in_input",
				    json_integer((json_int_t)in.truth_unknown));
	json_object_set_new(sum, "peak_rss_mib",
			    json_integer(kt_migrate_peak_rss_mib()));
	if (o.json) {
		json_dumpf(sum, stdout,
			   JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
	} else {
		kt_match_summary_print(sum, stdout);
		printf("peak RSS %lld MiB\n",
		       (long long)json_integer_value(
			   json_object_get(sum, "peak_rss_mib")));
	}
	rc = 0;
cleanup:
	json_decref(sum);
	inputs_free(&in);
	return rc;
}

int kt_migrate_match(int argc, char **argv)
{
	return match_run("match", argc, argv, NULL);
}

int kt_migrate_review(int argc, char **argv)
{
	const char *decisions;

	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		review_usage(stdout);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "apply") != 0 || argv[2][0] == '-') {
		review_usage(stderr);
		return 2;
	}
	/* "review apply FILE [options]": the options go to getopt with
	 * "apply" as its argv[0] */
	decisions = argv[2];
	argv[2] = argv[1];
	return match_run("review apply", argc - 2, argv + 2, decisions);
}

static void explain_usage(FILE *out)
{
	fputs("Usage: kontor-migrate explain --profile P.json --in RECORDS "
	      "[--model FILE] [--format tsv|jsonl] [--threads N] [--json] "
	      "ID_A ID_B\n"
	      "Each field's level, m, u and weight for the pair, the prior, "
	      "the total and the decision. Without --model, EM estimates the "
	      "model from RECORDS first.\n",
	      out);
}

int kt_migrate_explain(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"profile", required_argument, NULL, 'p'},
	    {"in", required_argument, NULL, 'i'},
	    {"format", required_argument, NULL, 'f'},
	    {"progress", required_argument, NULL, 'P'},
	    {"model", required_argument, NULL, 'm'},
	    {"threads", required_argument, NULL, 'T'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct opts o = {.records = -1};
	struct inputs in = {0};
	struct kt_match_explanation ex;
	struct kt_error err;
	uint32_t a, b;
	int c, rc = 1;

	o.progress = KT_PROGRESS_OFF;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'h') {
			explain_usage(stdout);
			return 0;
		}
		if (parse_common(c, optarg, &o) != 0) {
			explain_usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2 || o.profile == NULL || o.in == NULL) {
		explain_usage(stderr);
		return 2;
	}
	if (load_and_run(&o, &in, &err) != KT_OK) {
		fail("explain", err.msg);
		goto cleanup;
	}
	for (int k = 0; k < 2; k++) {
		if (kt_match_table_find(in.t, argv[optind + k], k ? &b : &a) !=
		    KT_OK) {
			snprintf(err.msg, sizeof(err.msg),
				 "no record '%.200s' in %s", argv[optind + k],
				 o.in);
			fail("explain", err.msg);
			goto cleanup;
		}
	}
	if (kt_match_explain(in.m, a, b, &ex, &err) != KT_OK) {
		fail("explain", err.msg);
		goto cleanup;
	}
	if (o.json) {
		json_t *j = kt_match_explain_json(in.m, &ex);

		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
		putchar('\n');
		json_decref(j);
	} else {
		kt_match_explain_print(in.m, &ex, stdout);
	}
	rc = 0;
cleanup:
	inputs_free(&in);
	return rc;
}

static void eval_usage(FILE *out)
{
	fputs("Usage: kontor-migrate eval --truth TRUTH.csv --clusters "
	      "CLUSTERS.csv [--json]\n"
	      "Pairwise precision, recall and F1 of a clustering against the "
	      "ground truth, and the false merges (clusters holding records "
	      "of different true entities).\n",
	      out);
}

int kt_migrate_eval(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"truth", required_argument, NULL, 't'},
	    {"clusters", required_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *truth = NULL, *clusters = NULL;
	struct kt_match_eval ev;
	struct kt_error err;
	size_t only_truth = 0, only_pred = 0;
	int c, json = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			truth = optarg;
			break;
		case 'c':
			clusters = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			eval_usage(stdout);
			return 0;
		default:
			eval_usage(stderr);
			return 2;
		}
	}
	if (optind != argc || truth == NULL || clusters == NULL) {
		eval_usage(stderr);
		return 2;
	}
	if (kt_match_eval_files(truth, clusters, &ev, &only_truth, &only_pred,
				&err) != KT_OK)
		return fail("eval", err.msg);
	if (json) {
		json_t *j = kt_match_eval_json(&ev);

		json_object_set_new(j, "only_in_truth",
				    json_integer((json_int_t)only_truth));
		json_object_set_new(j, "only_in_clusters",
				    json_integer((json_int_t)only_pred));
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
		putchar('\n');
		json_decref(j);
		return 0;
	}
	printf("records %llu (only in truth %zu, only in clusters %zu)\n"
	       "precision %.4f  recall %.4f  F1 %.4f\n"
	       "pairs: true %llu, predicted %llu, correct %llu\n"
	       "clusters %llu, entities %llu, false merges %llu, split "
	       "entities %llu\n",
	       (unsigned long long)ev.records, only_truth, only_pred,
	       ev.precision, ev.recall, ev.f1,
	       (unsigned long long)ev.true_pairs,
	       (unsigned long long)ev.predicted_pairs,
	       (unsigned long long)ev.true_positives,
	       (unsigned long long)ev.clusters, (unsigned long long)ev.entities,
	       (unsigned long long)ev.false_merges,
	       (unsigned long long)ev.split_entities);
	return 0;
}
