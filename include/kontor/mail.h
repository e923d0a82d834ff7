#ifndef KONTOR_MAIL_H
#define KONTOR_MAIL_H

/*
 * Outgoing mail (invitations, one-time codes for federation links), behind a
 * small table of senders chosen by mail.sender. The default "outbox" writes
 * each message as an RFC 5322 file into mail.outbox_dir (0700, files 0600), so
 * that the gateway works offline and an operator or a relay can pick the files
 * up. Sending does file I/O: call it from a worker thread, never from an event
 * loop.
 */

#include "kontor/config.h"
#include "kontor/err.h"

struct kt_mail {
	const char *to;
	const char *subject; /* UTF-8 */
	const char *body;    /* UTF-8 plain text */
};

/* Sends m with the configured sender. KT_OK or an error with a message. */
int kt_mail_send(const struct kt_config *cfg, const struct kt_mail *m,
		 struct kt_error *err);

#endif
