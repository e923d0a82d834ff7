#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <qrencode.h>

#include "kontor/err.h"
#include "kontor/qr.h"

static const char *uri =
    "otpauth://totp/ACME%20Co:john.doe@email.com?secret=JBSWY3DPEHPK3PXP"
    "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30";

/* The buffer's contents as a NUL-terminated heap string. */
static char *contents(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	assert_non_null(s);
	assert_int_equal(evbuffer_copyout(b, s, n), (ev_ssize_t)n);
	s[n] = '\0';
	return s;
}

static char *render(const char *text, int px)
{
	struct evbuffer *b = evbuffer_new();
	char *s;

	assert_non_null(b);
	assert_int_equal(kt_qr_svg(b, text, px), KT_OK);
	s = contents(b);
	evbuffer_free(b);
	return s;
}

/*
 * A strict reader for the subset of XML the renderer may emit: elements
 * with double-quoted attributes, no text nodes, no comments; attribute
 * values without '<' and with '&' only in the five entities. Returns the
 * number of elements, or -1 if the markup is not well-formed.
 */
static int xml_check(const char *s, int *n_svg, int *n_rect, int *n_path)
{
	char stack[8][8];
	int depth = 0, elements = 0;

	*n_svg = *n_rect = *n_path = 0;
	while (*s) {
		char name[8];
		size_t nl = 0;
		int closing = 0;

		if (*s++ != '<')
			return -1; /* text node */
		if (*s == '/') {
			closing = 1;
			s++;
		}
		while (*s >= 'a' && *s <= 'z' && nl < sizeof(name) - 1)
			name[nl++] = *s++;
		name[nl] = '\0';
		if (nl == 0)
			return -1;
		if (closing) {
			if (*s++ != '>' || depth == 0 ||
			    strcmp(stack[--depth], name) != 0)
				return -1;
			continue;
		}
		if (elements > 0 && depth == 0)
			return -1; /* a second root */
		elements++;
		*n_svg += strcmp(name, "svg") == 0;
		*n_rect += strcmp(name, "rect") == 0;
		*n_path += strcmp(name, "path") == 0;
		for (;;) {
			if (*s == ' ') {
				s++;
				if (!((*s >= 'a' && *s <= 'z') || *s == '-'))
					return -1;
				while ((*s >= 'a' && *s <= 'z') ||
				       (*s >= 'A' && *s <= 'Z') || *s == '-' ||
				       *s == ':')
					s++;
				if (*s++ != '=' || *s++ != '"')
					return -1;
				while (*s != '"') {
					if (*s == '\0' || *s == '<' ||
					    *s == '>')
						return -1;
					if (*s == '&') {
						static const char *const
						    ents[] = {"&amp;", "&lt;",
							      "&gt;", "&quot;",
							      "&#39;"};
						size_t k;
						for (k = 0; k < 5; k++) {
							if (strncmp(
								s, ents[k],
								strlen(
								    ents[k])) ==
							    0)
								break;
						}
						if (k == 5)
							return -1;
					}
					s++;
				}
				s++;
			} else if (s[0] == '/' && s[1] == '>') {
				s += 2;
				break;
			} else if (*s == '>') {
				s++;
				if (depth == 8)
					return -1;
				memcpy(stack[depth++], name, nl + 1);
				break;
			} else {
				return -1;
			}
		}
	}
	return depth == 0 ? elements : -1;
}

/*
 * Rebuild the module matrix (size x size, quiet zone included) from the
 * path's "M<x> <y>h<n>v1h-<n>z" rectangles. Fails the test on any other
 * path syntax, a rectangle outside the symbol, or a module drawn twice.
 */
static unsigned char *path_matrix(const char *svg, int size, int *dark)
{
	const char *d = strstr(svg, " d=\"");
	unsigned char *m = calloc((size_t)size * (size_t)size, 1);
	char *end;

	assert_non_null(d);
	assert_non_null(m);
	d += 4;
	*dark = 0;
	while (*d != '"') {
		long x, y, w, w2;

		assert_int_equal(*d++, 'M');
		x = strtol(d, &end, 10);
		assert_true(end > d && *end == ' ');
		d = end + 1;
		y = strtol(d, &end, 10);
		assert_true(end > d && *end == 'h');
		d = end + 1;
		w = strtol(d, &end, 10);
		assert_true(end > d && strncmp(end, "v1h-", 4) == 0);
		d = end + 4;
		w2 = strtol(d, &end, 10);
		assert_true(end > d && *end == 'z');
		d = end + 1;
		assert_int_equal(w, w2);
		assert_true(x >= 0 && y >= 0 && w >= 1 && x + w <= size &&
			    y < size);
		/* Runs are maximal: the module before is light. */
		if (x > 0)
			assert_int_equal(m[y * size + x - 1], 0);
		for (long i = x; i < x + w; i++) {
			assert_int_equal(m[y * size + i], 0);
			m[y * size + i] = 1;
			(*dark)++;
		}
	}
	return m;
}

/*
 * The error correction level from the format information (ISO/IEC 18004
 * 7.9) of the rendered symbol, read back independently of libqrencode:
 * bits 0-5 down column 8, 6 at (7,8), 7 at (8,8), 8 at (8,7), 9-14 along
 * row 8 from column 5 to 0; XOR 0x5412; the top two bits are the level
 * (01 L, 00 M, 11 Q, 10 H). Also checks the BCH(15,5) code.
 */
static int format_ecc(const unsigned char *m, int size, int q)
{
#define AT(r, c) (m[((r) + q) * size + (c) + q])
	unsigned f = 0, rem;

	for (int i = 0; i < 6; i++)
		f |= (unsigned)AT(i, 8) << i;
	f |= (unsigned)AT(7, 8) << 6;
	f |= (unsigned)AT(8, 8) << 7;
	f |= (unsigned)AT(8, 7) << 8;
	for (int i = 9; i < 15; i++)
		f |= (unsigned)AT(8, 14 - i) << i;
#undef AT
	f ^= 0x5412;
	rem = f;
	for (int i = 14; i >= 10; i--) {
		if (rem & (1u << i))
			rem ^= 0x537u << (i - 10);
	}
	assert_int_equal(rem, 0);
	return (int)(f >> 13);
}

static void test_matrix_faithful(void **state)
{
	QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	char *svg = render(uri, 4);
	int w, size, dark = 0, want_dark = 0;
	unsigned char *m;

	assert_non_null(qr);
	w = qr->width;
	size = w + 2 * KT_QR_QUIET_ZONE;
	m = path_matrix(svg, size, &dark);
	for (int y = 0; y < size; y++) {
		for (int x = 0; x < size; x++) {
			int in = x >= KT_QR_QUIET_ZONE &&
				 y >= KT_QR_QUIET_ZONE &&
				 x < w + KT_QR_QUIET_ZONE &&
				 y < w + KT_QR_QUIET_ZONE;
			int want = in ? qr->data[(y - KT_QR_QUIET_ZONE) * w +
						 x - KT_QR_QUIET_ZONE] &
					    1
				      : 0;
			want_dark += want;
			assert_int_equal(m[y * size + x], want);
		}
	}
	assert_int_equal(dark, want_dark);
	assert_true(dark > 0);
	assert_int_equal(format_ecc(m, size, KT_QR_QUIET_ZONE), 0 /* M */);
	/* Finder pattern: the top-left module of the symbol is dark. */
	assert_int_equal(m[KT_QR_QUIET_ZONE * size + KT_QR_QUIET_ZONE], 1);
	free(m);
	free(svg);
	QRcode_free(qr);
}

static void test_svg_shape(void **state)
{
	QRcode *qr = QRcode_encodeString(uri, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	char *svg = render(uri, 5), head[512];
	int size, n_svg, n_rect, n_path;

	assert_non_null(qr);
	size = qr->width + 8;
	snprintf(head, sizeof(head),
		 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		 "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
		 "aria-label=\"QR code\" shape-rendering=\"crispEdges\">"
		 "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
		 "<path fill=\"#000\" d=\"M",
		 size * 5, size * 5, size, size, size, size);
	assert_int_equal(strncmp(svg, head, strlen(head)), 0);
	assert_string_equal(svg + strlen(svg) - 9, "\"/></svg>");
	assert_int_equal(xml_check(svg, &n_svg, &n_rect, &n_path), 3);
	assert_int_equal(n_svg, 1);
	assert_int_equal(n_rect, 1);
	assert_int_equal(n_path, 1);
	/* Nothing a CSP would have to allow. */
	assert_null(strstr(svg, "style"));
	assert_null(strstr(svg, "script"));
	assert_null(strstr(svg, "data:"));
	free(svg);

	/* module_px only scales the outer size. */
	svg = render(uri, 1);
	snprintf(head, sizeof(head), "width=\"%d\" height=\"%d\"", size, size);
	assert_non_null(strstr(svg, head));
	free(svg);
	QRcode_free(qr);
}

static void test_text_not_in_svg(void **state)
{
	const char *evil = "otpauth://totp/<script>alert(1)</script>\"'&:x"
			   "?secret=JBSWY3DPEHPK3PXP";
	char *svg = render(evil, 4);
	int a, b, c;

	assert_null(strstr(svg, "script"));
	assert_null(strstr(svg, "JBSWY3DP"));
	assert_null(strstr(svg, "otpauth"));
	assert_null(strstr(svg, "alert"));
	assert_int_equal(xml_check(svg, &a, &b, &c), 3);
	free(svg);
}

static void test_label_escaped(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *svg;
	int x, y, z;

	assert_non_null(b);
	assert_int_equal(kt_qr_svg_labelled(b, uri, 2, "Code \"<b>\" & 'so'"),
			 KT_OK);
	svg = contents(b);
	assert_non_null(strstr(svg, " aria-label=\"Code &quot;&lt;b&gt;&quot; "
				    "&amp; &#39;so&#39;\" "));
	assert_int_equal(xml_check(svg, &x, &y, &z), 3);
	free(svg);
	evbuffer_free(b);
}

static void test_appends_and_bounds(void **state)
{
	struct evbuffer *b = evbuffer_new();
	char *text = malloc(KT_QR_TEXT_MAX + 2), *svg;

	assert_non_null(b);
	assert_non_null(text);
	assert_int_equal(evbuffer_add(b, "<p>", 3), 0);

	memset(text, 'a', KT_QR_TEXT_MAX + 1);
	text[KT_QR_TEXT_MAX + 1] = '\0';
	assert_int_equal(kt_qr_svg(b, text, 4), KT_ERR_LIMIT);
	assert_int_equal(evbuffer_get_length(b), 3); /* out unchanged */
	assert_int_equal(kt_qr_svg(b, "", 4), KT_ERR_INVALID);
	assert_int_equal(kt_qr_svg(b, NULL, 4), KT_ERR_INVALID);
	assert_int_equal(kt_qr_svg(b, uri, 0), KT_ERR_INVALID);
	assert_int_equal(kt_qr_svg(b, uri, KT_QR_MODULE_PX_MAX + 1),
			 KT_ERR_INVALID);
	assert_int_equal(kt_qr_svg(NULL, uri, 4), KT_ERR_INVALID);
	assert_int_equal(evbuffer_get_length(b), 3);

	/* The longest accepted text still fits a QR version at level M. */
	text[KT_QR_TEXT_MAX] = '\0';
	assert_int_equal(kt_qr_svg(b, text, KT_QR_MODULE_PX_MAX), KT_OK);
	svg = contents(b);
	assert_int_equal(strncmp(svg, "<p><svg ", 8), 0);
	free(svg);
	free(text);
	evbuffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_matrix_faithful),
	    cmocka_unit_test(test_svg_shape),
	    cmocka_unit_test(test_text_not_in_svg),
	    cmocka_unit_test(test_label_escaped),
	    cmocka_unit_test(test_appends_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
