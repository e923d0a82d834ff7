#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kontor/mail.h"
#include "kontor/util.h"

typedef int kt_mail_send_fn(const struct kt_config *cfg,
			    const struct kt_mail *m, struct kt_error *err);

/* Header values must not break out of their line (header injection). */
static int header_ok(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 998)
		return 0;
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

/* RFC 2047 encoded-word for a UTF-8 subject (base64 "B" encoding). */
static void encode_subject(char *out, size_t cap, const char *subject)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)subject;
	size_t n = strlen(subject), o;

	o = (size_t)snprintf(out, cap, "=?UTF-8?B?");
	for (size_t i = 0; i < n && o + 5 < cap - 3; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	snprintf(out + o, cap - o, "?=");
}

static int mkdir_p(const char *dir)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(path))
		return -1;
	memcpy(path, dir, n + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(path, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

static int send_outbox(const struct kt_config *cfg, const struct kt_mail *m,
		       struct kt_error *err)
{
	char path[4200], tmp[4300], rnd[16], date[64], subj[1024];
	time_t now = time(NULL);
	struct tm tm;
	FILE *f = NULL;
	int fd;

	if (mkdir_p(cfg->mail_outbox_dir) != 0)
		return kt_error_set(err, KT_ERR_IO, "mail outbox %s: %s",
				    cfg->mail_outbox_dir, strerror(errno));
	if (kt_random_token(rnd, sizeof(rnd), 8) != KT_OK)
		return kt_error_set(err, KT_ERR_CRYPTO, "no randomness");
	snprintf(path, sizeof(path), "%s/%lld-%s.eml", cfg->mail_outbox_dir,
		 (long long)now, rnd);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	encode_subject(subj, sizeof(subj), m->subject);
	/* Written under a temporary name and renamed: a relay picking up
	 * *.eml files never sees half a message. */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) <
		0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		if (fd >= 0)
			close(fd);
		return kt_error_set(err, KT_ERR_IO, "mail outbox %s: %s", tmp,
				    strerror(errno));
	}
	fprintf(f,
		"From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: 8bit\r\n\r\n",
		cfg->mail_from, m->to, subj, date);
	for (const char *p = m->body; *p; p++) {
		if (*p == '\n' && (p == m->body || p[-1] != '\r'))
			fputc('\r', f);
		fputc(*p, f);
	}
	fputs("\r\n", f);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0) {
		unlink(tmp);
		return kt_error_set(err, KT_ERR_IO, "mail outbox %s: %s",
				    path, strerror(errno));
	}
	return KT_OK;
}

static const struct {
	const char *name;
	kt_mail_send_fn *send;
} senders[] = {
    {"outbox", send_outbox},
};

int kt_mail_send(const struct kt_config *cfg, const struct kt_mail *m,
		 struct kt_error *err)
{
	if (!header_ok(m->to) || strchr(m->to, '@') == NULL ||
	    !header_ok(m->subject) || m->body == NULL)
		return kt_error_set(err, KT_ERR_INVALID,
				    "mail: bad recipient or subject");
	for (size_t i = 0; i < sizeof(senders) / sizeof(senders[0]); i++)
		if (strcmp(cfg->mail_sender, senders[i].name) == 0)
			return senders[i].send(cfg, m, err);
	return kt_error_set(err, KT_ERR_UNSUPPORTED, "mail: no sender '%s'",
			    cfg->mail_sender);
}
