/*
 * A tiny main() for the fuzz targets when they are not linked with
 * libFuzzer: it feeds files to LLVMFuzzerTestOneInput, so CTest replays
 * every seed (and every regression input) with the ordinary compiler, and
 * a crash file from a libFuzzer run can be replayed under gdb or valgrind.
 *
 *   fuzz_x FILE|DIR...         each file is one input; a directory means
 *                              every regular file in it
 *   fuzz_x --lines FILE...     each line of each file is one input
 *
 * Fails when an argument cannot be read, or when nothing was replayed at
 * all: a corpus that moved must not pass as an empty success.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static int lines_mode;
static const char *current; /* the input being replayed, for crash reports */
static long current_line;

/* Name the input that crashed, then die of the same signal. */
static void on_crash(int sig)
{
	static const char pre[] = "replay: crashed on input ";
	char num[24];
	int n = 0;

	if (current != NULL) {
		(void)!write(2, pre, sizeof(pre) - 1);
		(void)!write(2, current, strlen(current));
		if (lines_mode) {
			long v = current_line;
			char tmp[24];
			int k = 0;
			do {
				tmp[k++] = (char)('0' + v % 10);
				v /= 10;
			} while (v > 0 && k < 20);
			num[n++] = ':';
			while (k > 0)
				num[n++] = tmp[--k];
		}
		num[n++] = '\n';
		(void)!write(2, num, (size_t)n);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Weak, so that a target without it still links. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static long run_buffer(const uint8_t *buf, size_t n)
{
	/* A private copy of exactly n bytes, so that ASan sees reads past
	 * the end just as libFuzzer would make it. */
	uint8_t *copy = malloc(n ? n : 1);

	if (copy == NULL)
		abort();
	if (n)
		memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
	return 1;
}

static long run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, r;
	long fed = 0;

	if (f == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	current = path;
	current_line = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		if ((r = fread(buf + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	fclose(f);
	if (!lines_mode) {
		fed = run_buffer(buf, n);
	} else {
		size_t start = 0;
		for (size_t i = 0; i <= n; i++) {
			if (i < n && buf[i] != '\n')
				continue;
			size_t end = i;
			if (end > start && buf[end - 1] == '\r')
				end--;
			current_line++;
			if (i < n || end > start)
				fed += run_buffer(buf + start, end - start);
			start = i + 1;
		}
	}
	free(buf);
	return fed;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static long run_path(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	long fed = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: cannot stat %s\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "replay: cannot open %s\n", path);
		return -1;
	}
	/* Sorted, so that runs are reproducible. */
	while ((e = readdir(d)) != NULL) {
		char *p;
		size_t len;
		if (e->d_name[0] == '.')
			continue;
		len = strlen(path) + strlen(e->d_name) + 2;
		if ((p = malloc(len)) == NULL ||
		    (names = realloc(names, (n + 1) * sizeof(*names))) == NULL)
			abort();
		snprintf(p, len, "%s/%s", path, e->d_name);
		names[n++] = p;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), by_name);
	for (size_t i = 0; i < n; i++) {
		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			long r = run_file(names[i]);
			if (r < 0)
				fed = -1;
			else if (fed >= 0)
				fed += r;
		}
		free(names[i]);
	}
	free(names);
	return fed;
}

int main(int argc, char **argv)
{
	long fed = 0;
	int i = 1, bad = 0;

	signal(SIGABRT, on_crash);
	signal(SIGSEGV, on_crash);
	signal(SIGBUS, on_crash);
	signal(SIGFPE, on_crash);
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1 && strcmp(argv[1], "--lines") == 0) {
		lines_mode = 1;
		i = 2;
	}
	for (; i < argc; i++) {
		long r = run_path(argv[i]);
		if (r < 0)
			bad = 1;
		else
			fed += r;
	}
	if (bad)
		return 1;
	if (fed == 0) {
		fprintf(stderr, "replay: no input was replayed (corpus missing "
				"or empty?)\n");
		return 1;
	}
	printf("replay: %ld inputs, no crash\n", fed);
	return 0;
}
