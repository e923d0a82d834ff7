#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/progress.h"

static void test_eta(void **state)
{
	char buf[32];

	kt_progress_format_eta(buf, sizeof(buf), 0);
	assert_string_equal(buf, "0:00");
	kt_progress_format_eta(buf, sizeof(buf), 125);
	assert_string_equal(buf, "2:05");
	kt_progress_format_eta(buf, sizeof(buf), 3723);
	assert_string_equal(buf, "1:02:03");
}

static void test_lines(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct kt_progress *p = kt_progress_new(m, KT_PROGRESS_LINES, "import",
						"records", 1000, 60);

	assert_non_null(p);
	/* within the interval nothing is printed */
	for (int i = 0; i < 1000; i++)
		kt_progress_update(p, (uint64_t)i, (uint64_t)i);
	fflush(m);
	assert_int_equal(len, 0);
	kt_progress_finish(p, 1000, 1234567);
	kt_progress_free(p);
	fclose(m);
	/* "import: 100%  1,234,567 records  N records/s  took 0:00\n" */
	assert_true(strncmp(buf, "import: 100%  1,234,567 records  ", 33) == 0);
	assert_non_null(strstr(buf, " records/s  took 0:00\n"));
	assert_null(strchr(buf, '\r'));
	free(buf);
}

static void test_bar(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	struct kt_progress *p =
	    kt_progress_new(m, KT_PROGRESS_BAR, "generate", "rows", 0, 5);

	kt_progress_finish(p, 10, 10);
	kt_progress_free(p);
	fclose(m);
	/* unknown total: no bar, no percentage */
	assert_true(strncmp(buf, "\rgenerate  10 rows  ", 20) == 0);
	assert_true(buf[len - 1] == '\n');
	free(buf);

	buf = NULL;
	m = open_memstream(&buf, &len);
	p = kt_progress_new(m, KT_PROGRESS_BAR, "import", "records", 200, 5);
	kt_progress_finish(p, 100, 100);
	kt_progress_free(p);
	fclose(m);
	{
		const char *want =
		    "\rimport [###############...............]  50%  100 "
		    "records  ";
		assert_true(strncmp(buf, want, strlen(want)) == 0);
	}
	free(buf);
}

static void test_off(void **state)
{
	assert_null(kt_progress_new(stderr, KT_PROGRESS_OFF, "x", "y", 1, 1));
	assert_null(kt_progress_new(NULL, KT_PROGRESS_BAR, "x", "y", 1, 1));
	/* NULL everywhere is a no-op */
	kt_progress_update(NULL, 1, 1);
	kt_progress_finish(NULL, 1, 1);
	kt_progress_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_eta),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_bar),
	    cmocka_unit_test(test_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
