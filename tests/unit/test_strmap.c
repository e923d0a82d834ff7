#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kontor/err.h"
#include "kontor/strmap.h"

static void test_empty(void **state)
{
	struct kt_strmap m = {0};
	size_t v = 42;

	(void)state;
	assert_int_equal(kt_strmap_get(&m, "x", &v), 0);
	assert_int_equal(v, 42);
	kt_strmap_free(&m);
	kt_strmap_free(&m); /* freeing twice is harmless */
}

static void test_add_get_duplicate(void **state)
{
	struct kt_strmap m = {0};
	size_t v = 0;

	(void)state;
	assert_int_equal(kt_strmap_add(&m, "HH:1", 7, NULL), 0);
	assert_int_equal(kt_strmap_add(&m, "SH:1", 8, NULL), 0);
	assert_int_equal(kt_strmap_add(&m, "", 9, NULL), 0);
	assert_int_equal(kt_strmap_add(&m, "HH:1", 99, &v), 1);
	assert_int_equal(v, 7); /* the first value stays */
	assert_true(kt_strmap_get(&m, "HH:1", &v));
	assert_int_equal(v, 7);
	assert_true(kt_strmap_get(&m, "SH:1", &v));
	assert_int_equal(v, 8);
	assert_true(kt_strmap_get(&m, "", &v));
	assert_int_equal(v, 9);
	assert_false(kt_strmap_get(&m, "HH:2", NULL));
	assert_false(kt_strmap_get(&m, "HH:", NULL));
	assert_int_equal(m.n, 3);
	kt_strmap_free(&m);
}

/* Growth over several doublings keeps every entry and its value; keys
 * the caller owns are the caller's pointers. */
static void test_grow_borrowed(void **state)
{
	enum { N = 50000 };
	static char keys[N][16];
	struct kt_strmap m = {0};
	size_t v;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "id-%zu", i);
		assert_int_equal(kt_strmap_add(&m, keys[i], i * 3, NULL), 0);
	}
	assert_int_equal(m.n, N);
	assert_true(m.mask + 1 >= 2 * N);
	for (size_t i = 0; i < N; i++) {
		assert_true(kt_strmap_get(&m, keys[i], &v));
		assert_int_equal(v, i * 3);
	}
	for (size_t i = 0; i <= m.mask; i++)
		if (m.key[i] != NULL)
			assert_true(m.key[i] >= keys[0] &&
				    m.key[i] < keys[0] + sizeof(keys));
	assert_false(kt_strmap_get(&m, "id-50000", NULL));
	kt_strmap_free(&m);
}

/* own_keys: the map copies, so the caller's buffer may change. */
static void test_own_keys(void **state)
{
	struct kt_strmap m = {.own_keys = 1};
	char buf[32];
	size_t v;

	(void)state;
	for (int i = 0; i < 3000; i++) {
		snprintf(buf, sizeof(buf), "org-%d", i);
		assert_int_equal(kt_strmap_add(&m, buf, (size_t)i, NULL), 0);
	}
	snprintf(buf, sizeof(buf), "overwritten");
	assert_true(kt_strmap_get(&m, "org-0", &v));
	assert_int_equal(v, 0);
	assert_true(kt_strmap_get(&m, "org-2999", &v));
	assert_int_equal(v, 2999);
	assert_false(kt_strmap_get(&m, "overwritten", NULL));
	kt_strmap_free(&m);
	/* still owning after free: reusable the same way */
	assert_int_equal(m.own_keys, 1);
	snprintf(buf, sizeof(buf), "again");
	assert_int_equal(kt_strmap_add(&m, buf, 1, NULL), 0);
	buf[0] = 'X';
	assert_true(kt_strmap_get(&m, "again", NULL));
	kt_strmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_add_get_duplicate),
	    cmocka_unit_test(test_grow_borrowed),
	    cmocka_unit_test(test_own_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
