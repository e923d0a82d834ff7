#include <errno.h>
#include <string.h>

#include <event2/buffer.h>
#include <qrencode.h>

#include "kontor/err.h"
#include "kontor/html.h"
#include "kontor/qr.h"

/*
 * One rectangle per horizontal run of dark modules: "M<x> <y>h<n>v1h-<n>z".
 * Coordinates are in modules (the viewBox does the scaling), so the path
 * is the same whatever module_px is. A run-per-module path would be about
 * three times longer for a typical otpauth URI.
 */
static int add_path(struct evbuffer *b, const QRcode *qr)
{
	const int w = qr->width, q = KT_QR_QUIET_ZONE;

	for (int y = 0; y < w; y++) {
		const unsigned char *row = qr->data + (size_t)y * (size_t)w;
		int x = 0;

		while (x < w) {
			int start;

			if (!(row[x] & 1)) {
				x++;
				continue;
			}
			start = x;
			while (x < w && (row[x] & 1))
				x++;
			if (evbuffer_add_printf(b, "M%d %dh%dv1h-%dz",
						start + q, y + q, x - start,
						x - start) < 0)
				return KT_ERR_NOMEM;
		}
	}
	return KT_OK;
}

int kt_qr_svg_labelled(struct evbuffer *out, const char *text, int module_px,
		       const char *label)
{
	struct evbuffer *b = NULL;
	QRcode *qr = NULL;
	size_t len;
	int size, px, ret = KT_ERR_NOMEM;

	if (out == NULL || text == NULL || *text == '\0' || module_px < 1 ||
	    module_px > KT_QR_MODULE_PX_MAX)
		return KT_ERR_INVALID;
	len = strnlen(text, KT_QR_TEXT_MAX + 1);
	if (len > KT_QR_TEXT_MAX)
		return KT_ERR_LIMIT;

	/*
	 * Version 0: the smallest that fits. QR_MODE_8 as the hint keeps
	 * libqrencode from reading the bytes as Shift-JIS Kanji; it still
	 * switches to numeric/alphanumeric segments where that is shorter.
	 */
	errno = 0;
	if ((qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1)) ==
	    NULL) {
		ret = errno == ERANGE	? KT_ERR_LIMIT
		      : errno == ENOMEM ? KT_ERR_NOMEM
					: KT_ERR_INTERNAL;
		goto cleanup;
	}
	if (qr->width < 21 || qr->width > 177) {
		ret = KT_ERR_INTERNAL;
		goto cleanup;
	}
	size = qr->width + 2 * KT_QR_QUIET_ZONE;
	px = size * module_px;

	/* Build aside so that a failure leaves out untouched. */
	if ((b = evbuffer_new()) == NULL)
		goto cleanup;
	if (evbuffer_add_printf(b,
				"<svg xmlns=\"http://www.w3.org/2000/svg\" "
				"width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
				"%d\" role=\"img\" aria-label=\"",
				px, px, size, size) < 0 ||
	    kt_html_escape(b, label != NULL ? label : KT_QR_LABEL_DEFAULT) !=
		KT_OK ||
	    evbuffer_add_printf(b,
				"\" shape-rendering=\"crispEdges\">"
				"<rect width=\"%d\" height=\"%d\" "
				"fill=\"#fff\"/><path fill=\"#000\" d=\"",
				size, size) < 0 ||
	    add_path(b, qr) != KT_OK ||
	    evbuffer_add_printf(b, "\"/></svg>") < 0 ||
	    evbuffer_add_buffer(out, b) != 0)
		goto cleanup;
	ret = KT_OK;
cleanup:
	if (b != NULL)
		evbuffer_free(b);
	if (qr != NULL)
		QRcode_free(qr);
	return ret;
}

int kt_qr_svg(struct evbuffer *out, const char *text, int module_px)
{
	return kt_qr_svg_labelled(out, text, module_px, NULL);
}
