#ifndef KONTOR_QR_H
#define KONTOR_QR_H

/*
 * QR codes as inline SVG for the TOTP enrolment page, drawn from the
 * module matrix of libqrencode (ECC level M, version chosen by length).
 *
 * The output is one <svg> with a white <rect> background (so the code
 * still scans on a dark page) and a single black <path> in which each
 * horizontal run of dark modules is one rectangle, plus a quiet zone of
 * four modules. It uses presentation attributes only: no style attribute,
 * no script, no data: URI, nothing the pages' CSP has to allow. The
 * encoded text never appears in the SVG, so it needs no escaping and
 * the secret inside an otpauth:// URI is not in the markup in clear.
 *
 * Thread-safe (Debian's libqrencode is built with pthread).
 */

#include <event2/buffer.h>

#include "kontor/err.h"

#define KT_QR_TEXT_MAX 1024 /* bytes; well below version 40 at M */
#define KT_QR_MODULE_PX_MAX 32
#define KT_QR_QUIET_ZONE 4 /* modules, ISO/IEC 18004 */
#define KT_QR_LABEL_DEFAULT "QR code"

/*
 * Append the SVG for text to out, each module module_px pixels wide, with
 * aria-label="QR code". On failure out is unchanged.
 *   KT_ERR_INVALID  NULL out or text, empty text, module_px outside
 *                   1..KT_QR_MODULE_PX_MAX
 *   KT_ERR_LIMIT    text longer than KT_QR_TEXT_MAX bytes, or too long for
 *                   any QR version
 *   KT_ERR_NOMEM
 *   KT_ERR_INTERNAL libqrencode failed otherwise
 */
int kt_qr_svg(struct evbuffer *out, const char *text, int module_px);

/*
 * The same with the accessible name given by the caller (e.g. the page's
 * translated "QR code to scan with your authenticator app"); label is
 * HTML-escaped, NULL means KT_QR_LABEL_DEFAULT.
 */
int kt_qr_svg_labelled(struct evbuffer *out, const char *text, int module_px,
		       const char *label);

#endif
