#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "kontor/err.h"
#include "kontor/jose.h"
#include "kontor/keyset.h"
#include "kontor/log.h"
#include "kontor/util.h"

/*
 * Crash safety of the management functions rests on write order, not on
 * locking the readers: a private key file is written (and fsynced) before
 * keyset.json names it, and a pruned key's file is unlinked only after
 * keyset.json stopped naming it. kt_keyset_load therefore never needs the
 * lock, so a gateway reload never waits for a slow RSA key generation.
 */

#define KS_META_FILE "keyset.json"
#define KS_HMAC_FILE "hmac.key"
#define KS_LOCK_FILE ".lock"
#define KS_META_MAX (256 * 1024)
#define KS_PEM_MAX (64 * 1024)

enum ks_alg { KS_RS256 = 0, KS_ES256, KS_NALG };
enum ks_state { KS_NEXT = 0, KS_ACTIVE, KS_RETIRED, KS_NSTATE };

static const char *const alg_names[KS_NALG] = {"RS256", "ES256"};

/* Serial numbers of loaded keysets (see the verified-token cache). */
static atomic_uint_fast64_t ks_serials;
static const char *const state_names[KS_NSTATE] = {"next", "active", "retired"};

struct ks_entry {
	char kid[KT_JOSE_THUMBPRINT_LEN];
	enum ks_alg alg;
	enum ks_state state;
	int64_t created, activated, retired; /* 0 = not set */
};

struct ks_meta {
	struct ks_entry e[KT_KEYSET_MAX_KEYS];
	size_t n;
};

struct ks_key {
	struct ks_entry m;
	EVP_PKEY *pkey;
	/* Checked against its alg at load and prepared for signing and
	 * verification; see kt_jws_key_new. */
	struct kt_jws_key *jk;
};

struct kt_keyset {
	uint64_t serial; /* unique per load: names this keyset in caches */
	struct ks_key *keys; /* published keys only */
	size_t n;
	int active[KS_NALG]; /* index into keys, -1 if none */
	char *jwks;
	uint8_t hmac[KT_KEYSET_HMAC_LEN];
};

static int alg_from_name(const char *s)
{
	for (int i = 0; s != NULL && i < KS_NALG; i++) {
		if (strcmp(s, alg_names[i]) == 0)
			return i;
	}
	return -1;
}

static int state_from_name(const char *s)
{
	for (int i = 0; s != NULL && i < KS_NSTATE; i++) {
		if (strcmp(s, state_names[i]) == 0)
			return i;
	}
	return -1;
}

static int kid_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	/* base64url of SHA-256: exactly 43 characters. */
	return i == KT_JOSE_THUMBPRINT_LEN - 1;
}

static int path_join(char *out, size_t cap, const char *dir, const char *name,
		     const char *suffix, struct kt_error *err)
{
	int n = snprintf(out, cap, "%s/%s%s", dir, name, suffix);

	if (n < 0 || (size_t)n >= cap)
		return kt_error_set(err, KT_ERR_LIMIT, "%s: path too long",
				    dir);
	return KT_OK;
}

/*
 * Read a whole regular file of at most max bytes. With private_file the
 * file must not be accessible by group or others. *buf is NUL-terminated;
 * the caller wipes and frees it.
 */
static int read_file(const char *path, size_t max, int private_file, char **buf,
		     size_t *len, struct kt_error *err)
{
	struct stat st;
	char *b = NULL;
	size_t done = 0;
	int fd, r;

	*buf = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return kt_error_set(
		    err, errno == ENOENT ? KT_ERR_NOTFOUND : KT_ERR_IO,
		    "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				 strerror(errno));
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		r = kt_error_set(err, KT_ERR_INVALID, "%s: not a regular file",
				 path);
		goto cleanup;
	}
	if (private_file && (st.st_mode & 077) != 0) {
		r = kt_error_set(err, KT_ERR_DENIED,
				 "%s: permissions %04o are too open: a secret "
				 "must not be accessible by group or others "
				 "(chmod 600)",
				 path, (unsigned)(st.st_mode & 07777));
		goto cleanup;
	}
	if ((uint64_t)st.st_size > max) {
		r = kt_error_set(err, KT_ERR_LIMIT, "%s: larger than %zu bytes",
				 path, max);
		goto cleanup;
	}
	if ((b = malloc((size_t)st.st_size + 1)) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	while (done < (size_t)st.st_size) {
		ssize_t n = read(fd, b + done, (size_t)st.st_size - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
					 strerror(errno));
			goto cleanup;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	b[done] = '\0';
	*buf = b;
	*len = done;
	b = NULL;
	r = KT_OK;
cleanup:
	if (b != NULL) {
		OPENSSL_cleanse(b, (size_t)st.st_size + 1);
		free(b);
	}
	close(fd);
	return r;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *dir, struct kt_error *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r = KT_OK;

	if (fd < 0 || fsync(fd) != 0)
		r = kt_error_set(err, KT_ERR_IO, "%s: fsync: %s", dir,
				 strerror(errno));
	if (fd >= 0)
		close(fd);
	return r;
}

/* Create path exclusively (0600) with the given content, fsynced. */
static int write_new_private(const char *path, const void *data, size_t len,
			     struct kt_error *err)
{
	int fd = open(
	    path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(path);
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(e));
	}
	if (close(fd) != 0) {
		unlink(path);
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	}
	return KT_OK;
}

/* ---- keyset.json ---- */

static int get_time(json_t *o, const char *name, int required, int64_t *out,
		    const char *path, size_t idx, struct kt_error *err)
{
	json_t *v = json_object_get(o, name);

	*out = 0;
	if (v == NULL || json_is_null(v)) {
		if (required)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s: key %zu: \"%s\" is missing",
					    path, idx, name);
		return KT_OK;
	}
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "%s: key %zu: \"%s\" must be a positive "
				    "integer (Unix time)",
				    path, idx, name);
	*out = (int64_t)json_integer_value(v);
	return KT_OK;
}

static int meta_parse(const char *path, const char *text, size_t len,
		      struct ks_meta *m, struct kt_error *err)
{
	json_t *root = NULL, *keys;
	json_error_t jerr;
	int seen[KS_NALG][KS_NSTATE] = {{0}};
	int r;

	m->n = 0;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return kt_error_set(err, KT_ERR_INVALID, "%s: line %d: %s",
				    path, jerr.line, jerr.text);
	keys = json_object_get(root, "keys");
	if (!json_is_array(keys)) {
		r = kt_error_set(err, KT_ERR_INVALID, "%s: no \"keys\" array",
				 path);
		goto cleanup;
	}
	if (json_array_size(keys) > KT_KEYSET_MAX_KEYS) {
		r = kt_error_set(err, KT_ERR_LIMIT,
				 "%s: more than %d keys (prune retired keys)",
				 path, KT_KEYSET_MAX_KEYS);
		goto cleanup;
	}
	for (size_t i = 0; i < json_array_size(keys); i++) {
		json_t *k = json_array_get(keys, i);
		struct ks_entry *e = &m->e[m->n];
		const char *kid = json_string_value(json_object_get(k, "kid"));
		const char *alg = json_string_value(json_object_get(k, "alg"));
		const char *st = json_string_value(json_object_get(k, "state"));
		int a = alg_from_name(alg), s = state_from_name(st);

		if (!json_is_object(k)) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s: key %zu is not an object", path,
					 i);
			goto cleanup;
		}
		if (kid == NULL || !kid_valid(kid)) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s: key %zu: \"kid\" must be a "
					 "43-character RFC 7638 thumbprint",
					 path, i);
			goto cleanup;
		}
		if (a < 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s: key %s: \"alg\" must be RS256 "
					 "or ES256",
					 path, kid);
			goto cleanup;
		}
		if (s < 0) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s: key %s: \"state\" must be next, "
					 "active or retired",
					 path, kid);
			goto cleanup;
		}
		for (size_t j = 0; j < m->n; j++) {
			if (strcmp(m->e[j].kid, kid) == 0) {
				r = kt_error_set(err, KT_ERR_INVALID,
						 "%s: key %s is listed twice",
						 path, kid);
				goto cleanup;
			}
		}
		if (s != KS_RETIRED && seen[a][s]++) {
			r = kt_error_set(err, KT_ERR_INVALID,
					 "%s: more than one %s %s key", path,
					 state_names[s], alg_names[a]);
			goto cleanup;
		}
		memcpy(e->kid, kid, KT_JOSE_THUMBPRINT_LEN);
		e->alg = (enum ks_alg)a;
		e->state = (enum ks_state)s;
		if ((r = get_time(k, "created", 1, &e->created, path, i,
				  err)) != KT_OK ||
		    (r = get_time(k, "activated", s == KS_ACTIVE, &e->activated,
				  path, i, err)) != KT_OK ||
		    (r = get_time(k, "retired", s == KS_RETIRED, &e->retired,
				  path, i, err)) != KT_OK)
			goto cleanup;
		m->n++;
	}
	r = KT_OK;
cleanup:
	json_decref(root);
	return r;
}

/* missing_ok: an absent keyset.json yields an empty set. */
static int meta_read(const char *dir, struct ks_meta *m, int missing_ok,
		     struct kt_error *err)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len;
	int r;

	m->n = 0;
	if ((r = path_join(path, sizeof(path), dir, KS_META_FILE, "", err)) !=
	    KT_OK)
		return r;
	r = read_file(path, KS_META_MAX, 0, &text, &len, err);
	if (r == KT_ERR_NOTFOUND && missing_ok) {
		kt_error_clear(err);
		return KT_OK;
	}
	if (r == KT_ERR_NOTFOUND)
		return kt_error_set(err, r,
				    "%s: %s (run 'kontor-idp keys generate')",
				    path, strerror(ENOENT));
	if (r != KT_OK)
		return r;
	r = meta_parse(path, text, len, m, err);
	free(text);
	return r;
}

static int meta_write(const char *dir, const struct ks_meta *m,
		      struct kt_error *err)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	json_t *root = NULL, *keys;
	char *text = NULL;
	int fd = -1, tmp_exists = 0, r;

	if ((r = path_join(path, sizeof(path), dir, KS_META_FILE, "", err)) !=
		KT_OK ||
	    (r = path_join(tmp, sizeof(tmp), dir, "." KS_META_FILE, ".XXXXXX",
			   err)) != KT_OK)
		return r;
	if ((root = json_pack("{s:[]}", "keys")) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	keys = json_object_get(root, "keys");
	for (size_t i = 0; i < m->n; i++) {
		const struct ks_entry *e = &m->e[i];
		json_t *o =
		    json_pack("{s:s, s:s, s:s, s:I}", "kid", e->kid, "alg",
			      alg_names[e->alg], "state", state_names[e->state],
			      "created", (json_int_t)e->created);
		if (o == NULL) {
			r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
			goto cleanup;
		}
		if (e->activated)
			json_object_set_new(o, "activated",
					    json_integer(e->activated));
		if (e->retired)
			json_object_set_new(o, "retired",
					    json_integer(e->retired));
		json_array_append_new(keys, o);
	}
	text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	/* mkstemp creates the file 0600. */
	if ((fd = mkstemp(tmp)) < 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", tmp,
				 strerror(errno));
		goto cleanup;
	}
	tmp_exists = 1;
	if (write_all(fd, text, strlen(text)) != 0 ||
	    write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", tmp,
				 strerror(errno));
		goto cleanup;
	}
	if (close(fd) != 0) {
		fd = -1;
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", tmp,
				 strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				 strerror(errno));
		goto cleanup;
	}
	tmp_exists = 0;
	r = fsync_dir(dir, err);
cleanup:
	if (fd >= 0)
		close(fd);
	if (tmp_exists)
		unlink(tmp);
	free(text);
	json_decref(root);
	return r;
}

/* ---- private keys ---- */

/* Never prompt on a terminal for a passphrase: encrypted keys just fail. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static int key_check(EVP_PKEY *pkey, enum ks_alg alg, char kid[],
		     const char *path, struct kt_error *err)
{
	json_t *jwk = NULL;
	int r;

	if (alg == KS_RS256) {
		int bits = EVP_PKEY_get_bits(pkey);
		if (!EVP_PKEY_is_a(pkey, "RSA") ||
		    bits < KT_JOSE_RSA_MIN_BITS || bits > KT_JOSE_RSA_MAX_BITS)
			return kt_error_set(err, KT_ERR_INVALID,
					    "%s: RS256 needs an RSA key of "
					    "%d..%d bits",
					    path, KT_JOSE_RSA_MIN_BITS,
					    KT_JOSE_RSA_MAX_BITS);
	}
	r = kt_jwk_from_pkey(pkey, &jwk);
	if (r == KT_OK && strcmp(json_string_value(json_object_get(jwk, "kty")),
				 alg == KS_RS256 ? "RSA" : "EC") != 0)
		r = KT_ERR_UNSUPPORTED;
	if (r != KT_OK) {
		json_decref(jwk);
		return kt_error_set(
		    err, r == KT_ERR_UNSUPPORTED ? KT_ERR_INVALID : r,
		    "%s: not a key for %s", path, alg_names[alg]);
	}
	r = kt_jwk_thumbprint(jwk, kid);
	json_decref(jwk);
	if (r != KT_OK)
		return kt_error_set(err, r, "%s: cannot compute thumbprint",
				    path);
	return KT_OK;
}

static int load_private(const char *dir, const struct ks_entry *e,
			EVP_PKEY **out, struct kt_error *err)
{
	char path[PATH_MAX], tp[KT_JOSE_THUMBPRINT_LEN];
	char *pem = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	int r;

	*out = NULL;
	if ((r = path_join(path, sizeof(path), dir, e->kid, ".pem", err)) !=
		KT_OK ||
	    (r = read_file(path, KS_PEM_MAX, 1, &pem, &len, err)) != KT_OK)
		goto cleanup;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pkey == NULL) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "%s: not an unencrypted PEM private key",
				 path);
		goto cleanup;
	}
	if ((r = key_check(pkey, e->alg, tp, path, err)) != KT_OK)
		goto cleanup;
	if (strcmp(tp, e->kid) != 0) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "%s: holds a key with thumbprint %s, not the "
				 "kid %s",
				 path, tp, e->kid);
		goto cleanup;
	}
	*out = pkey;
	pkey = NULL;
	r = KT_OK;
cleanup:
	ERR_clear_error();
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	if (pem != NULL) {
		OPENSSL_cleanse(pem, len);
		free(pem);
	}
	return r;
}

static int load_hmac(const char *dir, uint8_t key[KT_KEYSET_HMAC_LEN],
		     struct kt_error *err)
{
	char path[PATH_MAX];
	char *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = path_join(path, sizeof(path), dir, KS_HMAC_FILE, "", err)) !=
		KT_OK ||
	    (r = read_file(path, 4096, 1, &buf, &len, err)) != KT_OK)
		goto cleanup;
	if (len != KT_KEYSET_HMAC_LEN) {
		r = kt_error_set(err, KT_ERR_INVALID,
				 "%s: must hold exactly %d bytes, has %zu",
				 path, KT_KEYSET_HMAC_LEN, len);
		goto cleanup;
	}
	memcpy(key, buf, KT_KEYSET_HMAC_LEN);
	r = KT_OK;
cleanup:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	return r;
}

/* ---- runtime ---- */

static int is_published(const struct ks_entry *e, int64_t now, int64_t window)
{
	if (e->state != KS_RETIRED)
		return 1;
	return window > 0 && now - e->retired < window;
}

static int build_jwks(struct kt_keyset *ks, struct kt_error *err)
{
	/* Active keys first, then next, then retired. */
	static const enum ks_state order[] = {KS_ACTIVE, KS_NEXT, KS_RETIRED};
	json_t *root = NULL, *keys, *jwk = NULL;
	int r;

	if ((root = json_pack("{s:[]}", "keys")) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	keys = json_object_get(root, "keys");
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		for (size_t i = 0; i < ks->n; i++) {
			const struct ks_key *k = &ks->keys[i];
			if (k->m.state != order[o])
				continue;
			if ((r = kt_jwk_from_pkey(k->pkey, &jwk)) != KT_OK) {
				kt_error_set(err, r, "cannot export key %s",
					     k->m.kid);
				goto cleanup;
			}
			if (json_object_set_new(jwk, "kid",
						json_string(k->m.kid)) ||
			    json_object_set_new(
				jwk, "alg", json_string(alg_names[k->m.alg])) ||
			    json_object_set_new(jwk, "use",
						json_string("sig")) ||
			    json_array_append_new(keys, jwk)) {
				jwk = NULL;
				r = kt_error_set(err, KT_ERR_NOMEM,
						 "out of memory");
				goto cleanup;
			}
			jwk = NULL;
		}
	}
	ks->jwks = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	r = ks->jwks != NULL ? KT_OK
			     : kt_error_set(err, KT_ERR_NOMEM, "out of memory");
cleanup:
	json_decref(jwk);
	json_decref(root);
	return r;
}

int kt_keyset_load(const char *dir, int64_t retire_window_s,
		   struct kt_keyset **out, struct kt_error *err)
{
	struct ks_meta *m = NULL;
	struct kt_keyset *ks = NULL;
	struct stat st;
	int64_t now = kt_now();
	int r;

	*out = NULL;
	if (dir == NULL || retire_window_s < 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "kt_keyset_load: bad arguments");
	if (stat(dir, &st) != 0)
		return kt_error_set(
		    err, errno == ENOENT ? KT_ERR_NOTFOUND : KT_ERR_IO,
		    "%s: %s (run 'kontor-idp keys generate')", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return kt_error_set(err, KT_ERR_INVALID, "%s: not a directory",
				    dir);
	if (st.st_mode & 022)
		kt_log_warn("key directory %s is writable by group or others",
			    dir);

	if ((m = malloc(sizeof(*m))) == NULL ||
	    (ks = calloc(1, sizeof(*ks))) == NULL ||
	    (ks->keys = calloc(KT_KEYSET_MAX_KEYS, sizeof(*ks->keys))) ==
		NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	for (int a = 0; a < KS_NALG; a++)
		ks->active[a] = -1;
	ks->serial = atomic_fetch_add(&ks_serials, 1) + 1;
	if ((r = meta_read(dir, m, 0, err)) != KT_OK)
		goto cleanup;

	for (size_t i = 0; i < m->n; i++) {
		const struct ks_entry *e = &m->e[i];
		struct ks_key *k = &ks->keys[ks->n];
		/* Expired retired keys are not needed; do not even read them.
		 */
		if (!is_published(e, now, retire_window_s))
			continue;
		if ((r = load_private(dir, e, &k->pkey, err)) != KT_OK)
			goto cleanup;
		k->m = *e;
		/* ks->n counts the key from here on, so it is freed. */
		ks->n++;
		if ((r = kt_jws_key_new(k->pkey, alg_names[e->alg], e->kid,
					&k->jk, err)) != KT_OK)
			goto cleanup;
		if (e->state == KS_ACTIVE)
			ks->active[e->alg] = (int)ks->n - 1;
	}
	for (int a = 0; a < KS_NALG; a++) {
		if (ks->active[a] < 0) {
			r = kt_error_set(err, KT_ERR_NOTFOUND,
					 "%s/%s: no active %s key (run "
					 "'kontor-idp keys generate')",
					 dir, KS_META_FILE, alg_names[a]);
			goto cleanup;
		}
	}
	if ((r = load_hmac(dir, ks->hmac, err)) != KT_OK ||
	    (r = build_jwks(ks, err)) != KT_OK)
		goto cleanup;
	*out = ks;
	ks = NULL;
	r = KT_OK;
cleanup:
	kt_keyset_free(ks);
	free(m);
	return r;
}

void kt_keyset_free(struct kt_keyset *ks)
{
	if (ks == NULL)
		return;
	for (size_t i = 0; i < ks->n; i++) {
		kt_jws_key_free(ks->keys[i].jk);
		EVP_PKEY_free(ks->keys[i].pkey);
	}
	free(ks->keys);
	free(ks->jwks);
	OPENSSL_cleanse(ks->hmac, sizeof(ks->hmac));
	free(ks);
}

const char *kt_keyset_jwks_json(const struct kt_keyset *ks)
{
	return ks->jwks;
}

int kt_keyset_has_alg(const struct kt_keyset *ks, const char *alg)
{
	int a = alg_from_name(alg);

	return ks != NULL && a >= 0 && ks->active[a] >= 0;
}

void kt_keyset_hmac_key(const struct kt_keyset *ks, const uint8_t **key,
			size_t *len)
{
	*key = ks->hmac;
	*len = sizeof(ks->hmac);
}

int kt_keyset_sign(const struct kt_keyset *ks, const char *alg, const char *typ,
		   const char *payload, size_t len, char **out,
		   struct kt_error *err)
{
	const struct ks_key *k;
	int a = alg_from_name(alg);

	*out = NULL;
	if (a < 0 || ks->active[a] < 0) {
		char p[48];
		snprintf(p, sizeof(p), "%s", alg ? alg : "(null)");
		return kt_error_set(err, KT_ERR_UNSUPPORTED,
				    "no active signing key for alg '%s'", p);
	}
	k = &ks->keys[ks->active[a]];
	return kt_jws_key_sign(k->jk, typ, payload, len, out, err);
}

/*
 * Verified-token cache, one per thread (so one per event loop, without
 * locks). kt_keyset_verify is a pure function of (keyset, token): no
 * clock, no claims. So once a token string verified under a keyset, the
 * same string verifies under that keyset again, and the ES256/RS256
 * verification (60 us for ES256, most of a userinfo or introspection
 * request) can be skipped when a resource server presents the same access
 * token again. Only successes are remembered, keyed by SHA-256 of the
 * whole token and the keyset's serial (a reloaded keyset starts empty),
 * and only until the token's exp claim (tokens without one are not
 * remembered): nothing stays valid longer than it was. Revocation is not
 * the keyset's business: callers still ask Redis every time.
 *
 * Direct-mapped, VCACHE_SLOTS entries of 40 bytes (40 KiB per thread,
 * allocated on the thread's first verification, freed at thread exit).
 */
#define VCACHE_SLOTS 1024

struct vcache_entry {
	uint8_t hash[KT_SHA256_LEN];
	int64_t exp; /* 0: empty */
};

struct vcache {
	uint64_t serial;
	uint64_t hits, misses;
	struct vcache_entry e[VCACHE_SLOTS];
};

static pthread_key_t vcache_key;
static pthread_once_t vcache_once = PTHREAD_ONCE_INIT;
static int vcache_ok;

static void vcache_init(void)
{
	vcache_ok = pthread_key_create(&vcache_key, free) == 0;
}

/* The calling thread's cache, emptied if it belongs to another keyset;
 * NULL if there is none (no memory: verification just is not cached). */
static struct vcache *vcache_get(const struct kt_keyset *ks)
{
	struct vcache *c;

	pthread_once(&vcache_once, vcache_init);
	if (!vcache_ok)
		return NULL;
	if ((c = pthread_getspecific(vcache_key)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return NULL;
		if (pthread_setspecific(vcache_key, c) != 0) {
			free(c);
			return NULL;
		}
	}
	if (c->serial != ks->serial) {
		memset(c->e, 0, sizeof(c->e));
		c->serial = ks->serial;
	}
	return c;
}

static struct vcache_entry *vcache_slot(struct vcache *c,
					const uint8_t h[KT_SHA256_LEN])
{
	uint32_t i = (uint32_t)h[0] | (uint32_t)h[1] << 8 |
		     (uint32_t)h[2] << 16;

	return &c->e[i % VCACHE_SLOTS];
}

void kt_keyset_verify_cache_stats(uint64_t *hits, uint64_t *misses)
{
	struct vcache *c = NULL;

	pthread_once(&vcache_once, vcache_init);
	if (vcache_ok)
		c = pthread_getspecific(vcache_key);
	*hits = c ? c->hits : 0;
	*misses = c ? c->misses : 0;
}

int kt_keyset_verify(const struct kt_keyset *ks, const char *compact,
		     json_t **header, json_t **payload, struct kt_error *err)
{
	json_t *h = NULL;
	const char *kid;
	const struct ks_key *k = NULL;
	struct vcache *vc;
	struct vcache_entry *slot = NULL;
	uint8_t th[KT_SHA256_LEN];
	int r;

	if (header != NULL)
		*header = NULL;
	if (payload != NULL)
		*payload = NULL;
	if ((r = kt_jwt_decode_unverified(compact, KT_JOSE_MAX_COMPACT, &h,
					  NULL, err)) != KT_OK)
		return r;
	kid = json_string_value(json_object_get(h, "kid"));
	if (kid == NULL) {
		r = kt_error_set(err, KT_ERR_INVALID, "token has no kid");
		goto cleanup;
	}
	for (size_t i = 0; i < ks->n && k == NULL; i++) {
		if (strcmp(ks->keys[i].m.kid, kid) == 0)
			k = &ks->keys[i];
	}
	if (k == NULL) {
		/* Echo the kid only when it has the shape of one of ours. */
		if (kid_valid(kid))
			r = kt_error_set(err, KT_ERR_NOTFOUND,
					 "token kid '%s' is not a published "
					 "key",
					 kid);
		else
			r = kt_error_set(err, KT_ERR_NOTFOUND,
					 "token kid is not a published key");
		goto cleanup;
	}
	kt_sha256(th, compact, strlen(compact));
	if ((vc = vcache_get(ks)) != NULL) {
		slot = vcache_slot(vc, th);
		if (slot->exp > kt_now() &&
		    CRYPTO_memcmp(slot->hash, th, sizeof(th)) == 0) {
			/* Verified before, byte for byte: only parse. */
			vc->hits++;
			if (payload != NULL &&
			    (r = kt_jwt_decode_unverified(
				 compact, KT_JOSE_MAX_COMPACT, NULL, payload,
				 err)) != KT_OK)
				goto cleanup;
			goto verified;
		}
		vc->misses++;
	}
	/* kt_jws_key_verify insists the header alg is the key's alg. */
	if ((r = kt_jws_key_verify(k->jk, compact, h, payload, err)) != KT_OK)
		goto cleanup;
	if (slot != NULL && payload != NULL &&
	    json_is_integer(json_object_get(*payload, "exp"))) {
		memcpy(slot->hash, th, sizeof(th));
		slot->exp = json_integer_value(json_object_get(*payload, "exp"));
	}
verified:
	r = KT_OK;
	if (header != NULL) {
		*header = h;
		h = NULL;
	}
cleanup:
	json_decref(h);
	return r;
}

/* ---- management ---- */

static int ensure_dir(const char *dir, struct kt_error *err)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0)
		return KT_OK;
	if (errno != EEXIST)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", dir,
				    strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return kt_error_set(err, KT_ERR_INVALID, "%s: not a directory",
				    dir);
	return KT_OK;
}

static int lock_dir(const char *dir, int *fd, struct kt_error *err)
{
	char path[PATH_MAX];
	int r;

	*fd = -1;
	if ((r = path_join(path, sizeof(path), dir, KS_LOCK_FILE, "", err)) !=
	    KT_OK)
		return r;
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0 && errno == ENOENT)
		return kt_error_set(err, KT_ERR_NOTFOUND,
				    "%s: %s (run 'kontor-idp keys generate')",
				    dir, strerror(ENOENT));
	if (*fd < 0)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	while (flock(*fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			r = kt_error_set(err, KT_ERR_IO, "%s: flock: %s", path,
					 strerror(errno));
			close(*fd);
			*fd = -1;
			return r;
		}
	}
	return KT_OK;
}

static void unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

static int check_rsa_bits(int *bits, struct kt_error *err)
{
	if (*bits == 0)
		*bits = KT_KEYSET_DEFAULT_RSA_BITS;
	if (*bits < KT_JOSE_RSA_MIN_BITS || *bits > KT_JOSE_RSA_MAX_BITS ||
	    *bits % 8 != 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "RSA key size must be a multiple of 8 "
				    "from %d to %d bits, not %d",
				    KT_JOSE_RSA_MIN_BITS, KT_JOSE_RSA_MAX_BITS,
				    *bits);
	return KT_OK;
}

/*
 * Generate a key for alg, store it as dir/<kid>.pem and append a metadata
 * entry in the given state (the caller writes keyset.json afterwards).
 */
static int new_key(const char *dir, enum ks_alg alg, enum ks_state state,
		   int rsa_bits, int64_t now, struct ks_meta *m,
		   struct kt_error *err)
{
	char path[PATH_MAX];
	struct ks_entry *e;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *pem;
	long pemlen;
	int r;

	if (m->n >= KT_KEYSET_MAX_KEYS)
		return kt_error_set(err, KT_ERR_LIMIT,
				    "%s: already %d keys (prune retired keys)",
				    dir, KT_KEYSET_MAX_KEYS);
	e = &m->e[m->n];
	memset(e, 0, sizeof(*e));
	if (alg == KS_RS256)
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (pkey == NULL) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "%s key generation failed",
				 alg_names[alg]);
		goto cleanup;
	}
	if ((r = key_check(pkey, alg, e->kid, "new key", err)) != KT_OK ||
	    (r = path_join(path, sizeof(path), dir, e->kid, ".pem", err)) !=
		KT_OK)
		goto cleanup;
	/* A secure-memory BIO wipes the PEM text when it is freed. */
	if ((bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) !=
		1) {
		r = kt_error_set(err, KT_ERR_CRYPTO, "cannot encode %s key",
				 alg_names[alg]);
		goto cleanup;
	}
	pemlen = BIO_get_mem_data(bio, &pem);
	if ((r = write_new_private(path, pem, (size_t)pemlen, err)) != KT_OK)
		goto cleanup;
	e->alg = alg;
	e->state = state;
	e->created = now;
	if (state == KS_ACTIVE)
		e->activated = now;
	m->n++;
	kt_log_info("generated %s key %s (%s)", alg_names[alg], e->kid,
		    state_names[state]);
	r = KT_OK;
cleanup:
	ERR_clear_error();
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return r;
}

static int find_state(const struct ks_meta *m, enum ks_alg alg,
		      enum ks_state state)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->e[i].alg == alg && m->e[i].state == state)
			return (int)i;
	}
	return -1;
}

static int ensure_hmac(const char *dir, struct kt_error *err)
{
	char path[PATH_MAX];
	uint8_t key[KT_KEYSET_HMAC_LEN];
	struct stat st;
	int r;

	if ((r = path_join(path, sizeof(path), dir, KS_HMAC_FILE, "", err)) !=
	    KT_OK)
		return r;
	if (lstat(path, &st) == 0)
		return KT_OK;
	if (errno != ENOENT)
		return kt_error_set(err, KT_ERR_IO, "%s: %s", path,
				    strerror(errno));
	if (kt_random_bytes(key, sizeof(key)) != KT_OK)
		return kt_error_set(err, KT_ERR_CRYPTO, "no randomness for %s",
				    path);
	r = write_new_private(path, key, sizeof(key), err);
	OPENSSL_cleanse(key, sizeof(key));
	if (r == KT_OK) {
		kt_log_info("generated %s", path);
		r = fsync_dir(dir, err);
	}
	return r;
}

int kt_keyset_generate(const char *dir, int rsa_bits, struct kt_error *err)
{
	struct ks_meta *m = NULL;
	int64_t now = kt_now();
	size_t before;
	int lock = -1, r;

	if ((r = check_rsa_bits(&rsa_bits, err)) != KT_OK ||
	    (r = ensure_dir(dir, err)) != KT_OK ||
	    (r = lock_dir(dir, &lock, err)) != KT_OK)
		return r;
	if ((m = malloc(sizeof(*m))) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if ((r = meta_read(dir, m, 1, err)) != KT_OK)
		goto cleanup;
	before = m->n;
	for (int a = 0; a < KS_NALG; a++) {
		if (find_state(m, (enum ks_alg)a, KS_ACTIVE) < 0 &&
		    (r = new_key(dir, (enum ks_alg)a, KS_ACTIVE, rsa_bits, now,
				 m, err)) != KT_OK)
			goto cleanup;
		if (find_state(m, (enum ks_alg)a, KS_NEXT) < 0 &&
		    (r = new_key(dir, (enum ks_alg)a, KS_NEXT, rsa_bits, now, m,
				 err)) != KT_OK)
			goto cleanup;
	}
	if (m->n != before && (r = meta_write(dir, m, err)) != KT_OK)
		goto cleanup;
	r = ensure_hmac(dir, err);
cleanup:
	unlock_dir(lock);
	free(m);
	return r;
}

int kt_keyset_rotate(const char *dir, const char *alg, int rsa_bits,
		     struct kt_error *err)
{
	struct ks_meta *m = NULL;
	int64_t now = kt_now();
	int first = 0, last = KS_NALG - 1, lock = -1, r;

	if (alg != NULL) {
		first = last = alg_from_name(alg);
		if (first < 0) {
			char p[48];
			snprintf(p, sizeof(p), "%s", alg);
			return kt_error_set(err, KT_ERR_INVALID,
					    "unknown alg '%s' (RS256 or "
					    "ES256)",
					    p);
		}
	}
	if ((r = check_rsa_bits(&rsa_bits, err)) != KT_OK ||
	    (r = lock_dir(dir, &lock, err)) != KT_OK)
		return r;
	if ((m = malloc(sizeof(*m))) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if ((r = meta_read(dir, m, 0, err)) != KT_OK)
		goto cleanup;
	/* Check everything before the first (slow) key generation. */
	for (int a = first; a <= last; a++) {
		if (find_state(m, (enum ks_alg)a, KS_ACTIVE) < 0 ||
		    find_state(m, (enum ks_alg)a, KS_NEXT) < 0) {
			r = kt_error_set(
			    err, KT_ERR_CONFLICT,
			    "%s: %s needs an active and a next key "
			    "to rotate (run 'kontor-idp keys "
			    "generate')",
			    dir, alg_names[a]);
			goto cleanup;
		}
	}
	for (int a = first; a <= last; a++) {
		int act = find_state(m, (enum ks_alg)a, KS_ACTIVE);
		int nxt = find_state(m, (enum ks_alg)a, KS_NEXT);

		/* The new next key is on disk before the metadata changes. */
		if ((r = new_key(dir, (enum ks_alg)a, KS_NEXT, rsa_bits, now, m,
				 err)) != KT_OK)
			goto cleanup;
		m->e[act].state = KS_RETIRED;
		m->e[act].retired = now;
		m->e[nxt].state = KS_ACTIVE;
		m->e[nxt].activated = now;
		kt_log_info("rotated %s: %s is active, %s retired",
			    alg_names[a], m->e[nxt].kid, m->e[act].kid);
	}
	r = meta_write(dir, m, err);
cleanup:
	unlock_dir(lock);
	free(m);
	return r;
}

int kt_keyset_prune(const char *dir, int64_t retire_window_s,
		    struct kt_error *err)
{
	struct ks_meta *m = NULL;
	char gone[KT_KEYSET_MAX_KEYS][KT_JOSE_THUMBPRINT_LEN];
	size_t ngone = 0, keep = 0;
	int64_t now = kt_now();
	int lock = -1, r;

	if (retire_window_s < 0)
		return kt_error_set(err, KT_ERR_INVALID,
				    "retire window must not be negative");
	if ((r = lock_dir(dir, &lock, err)) != KT_OK)
		return r;
	if ((m = malloc(sizeof(*m))) == NULL) {
		r = kt_error_set(err, KT_ERR_NOMEM, "out of memory");
		goto cleanup;
	}
	if ((r = meta_read(dir, m, 0, err)) != KT_OK)
		goto cleanup;
	for (size_t i = 0; i < m->n; i++) {
		const struct ks_entry *e = &m->e[i];
		if (e->state == KS_RETIRED &&
		    now - e->retired >= retire_window_s)
			memcpy(gone[ngone++], e->kid, KT_JOSE_THUMBPRINT_LEN);
		else
			m->e[keep++] = *e;
	}
	if (ngone == 0) {
		r = KT_OK;
		goto cleanup;
	}
	m->n = keep;
	/* Metadata first: a crash leaves an orphan file, never a lost key. */
	if ((r = meta_write(dir, m, err)) != KT_OK)
		goto cleanup;
	for (size_t i = 0; i < ngone; i++) {
		char path[PATH_MAX];
		if ((r = path_join(path, sizeof(path), dir, gone[i], ".pem",
				   err)) != KT_OK)
			goto cleanup;
		if (unlink(path) != 0 && errno != ENOENT) {
			r = kt_error_set(err, KT_ERR_IO, "%s: %s", path,
					 strerror(errno));
			goto cleanup;
		}
		kt_log_info("pruned retired key %s", gone[i]);
	}
	r = fsync_dir(dir, err);
cleanup:
	unlock_dir(lock);
	free(m);
	return r;
}

static void fmt_time(char out[32], int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0 || gmtime_r(&tt, &tm) == NULL) {
		snprintf(out, 32, "-");
		return;
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int kt_keyset_list(const char *dir, FILE *out, int as_json,
		   struct kt_error *err)
{
	struct ks_meta *m = NULL;
	char path[PATH_MAX];
	struct stat st;
	int has_hmac, r;

	if ((m = malloc(sizeof(*m))) == NULL)
		return kt_error_set(err, KT_ERR_NOMEM, "out of memory");
	if ((r = meta_read(dir, m, 0, err)) != KT_OK ||
	    (r = path_join(path, sizeof(path), dir, KS_HMAC_FILE, "", err)) !=
		KT_OK)
		goto cleanup;
	has_hmac = lstat(path, &st) == 0;

	if (as_json) {
		json_t *root = json_pack("{s:s, s:[], s:b}", "dir", dir, "keys",
					 "hmac_key", has_hmac);
		json_t *keys = json_object_get(root, "keys");
		for (size_t i = 0; root != NULL && i < m->n; i++) {
			const struct ks_entry *e = &m->e[i];
			json_t *o = json_pack(
			    "{s:s, s:s, s:s, s:I}", "kid", e->kid, "alg",
			    alg_names[e->alg], "state", state_names[e->state],
			    "created", (json_int_t)e->created);
			if (o != NULL && e->activated)
				json_object_set_new(o, "activated",
						    json_integer(e->activated));
			if (o != NULL && e->retired)
				json_object_set_new(o, "retired",
						    json_integer(e->retired));
			json_array_append_new(keys, o);
		}
		if (root == NULL ||
		    json_dumpf(root, out,
			       JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
			json_decref(root);
			r = kt_error_set(err, KT_ERR_IO,
					 "cannot write the key list");
			goto cleanup;
		}
		fputc('\n', out);
		json_decref(root);
	} else {
		fprintf(out, "%-43s  %-5s  %-7s  %-20s  %-20s  %s\n", "KID",
			"ALG", "STATE", "CREATED", "ACTIVATED", "RETIRED");
		for (size_t i = 0; i < m->n; i++) {
			const struct ks_entry *e = &m->e[i];
			char c[32], a[32], t[32];
			fmt_time(c, e->created);
			fmt_time(a, e->activated);
			fmt_time(t, e->retired);
			fprintf(out, "%-43s  %-5s  %-7s  %-20s  %-20s  %s\n",
				e->kid, alg_names[e->alg],
				state_names[e->state], c, a, t);
		}
		fprintf(out, "%s: %s\n", path,
			has_hmac ? "present" : "MISSING");
	}
	if (fflush(out) != 0 || ferror(out))
		r = kt_error_set(err, KT_ERR_IO, "cannot write the key list");
	else
		r = KT_OK;
cleanup:
	free(m);
	return r;
}
