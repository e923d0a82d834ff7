#ifndef KONTOR_I18N_H
#define KONTOR_I18N_H

/*
 * The user-visible strings of the server-rendered pages in German and
 * English. One table holds both languages side by side, so a key cannot
 * exist in one language only; a unit test also checks that no entry is
 * empty.
 *
 * Keys are dotted ASCII ("login.title", "error.invalid_scope.title").
 * Strings are UTF-8 text, not HTML: the page renderer escapes them. A few
 * contain the placeholder "{client}" or "{account}", which kt_html
 * replaces with the escaped client name or account e-mail address.
 */

#include <stddef.h>

/* Languages the pages exist in. */
#define KT_I18N_DE "de"
#define KT_I18N_EN "en"

/*
 * The string for key in lang ("de" or "en"; anything else is English).
 * Unknown keys return the key itself, so a missing string shows up on the
 * page instead of crashing. Never NULL for a non-NULL key; the result is
 * static.
 */
const char *kt_i18n(const char *lang, const char *key);

/* 1 if key is in the table. */
int kt_i18n_has(const char *key);

/* Normalise a language to "de" or "en" (NULL and unknown: "en"). */
const char *kt_i18n_lang(const char *lang);

/* Iteration over the table, for tests: NULL when i is out of range. */
size_t kt_i18n_size(void);
const char *kt_i18n_key_at(size_t i);

#endif
