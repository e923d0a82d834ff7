/*
 * Time kt_password_verify() on each legacy format: at the parameters the
 * old systems typically wrote, and at the upper bounds verify accepts (the
 * most a stored hash can make one login attempt cost).
 *
 *     bench_legacy_hash [iterations]
 *
 * Prints milliseconds per verify; docs/passwords.md quotes the figures.
 * A benchmark, not a test: it checks only that each typical hash matches.
 * The hashes were made by other tools (see the comments) for the password
 * below.
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kontor/err.h"
#include "kontor/password.h"
#include "kontor/util.h"

#define PW "correct horse battery staple"

static const struct row {
	const char *label;
	const char *phc;
	int match; /* 0: a mismatch at the bound, timed once */
} rows[] = {
    /* htpasswd -nbB -C 10: PHP password_hash()'s default cost */
    {"bcrypt $2y$ cost 10",
     "$2y$10$EEbD/MCFgvW.giemByNIS.GbO2J437zFqD4k3tzpmLTDDMAZgpVHy", 1},
    /* python3-bcrypt 3.2.2, gensalt(12) */
    {"bcrypt $2b$ cost 12",
     "$2b$12$zI5n3zpkYHFRY0vho69U0u.vQQWTLkzBti22x6PXcVplHrl.b5fBO", 1},
    /* python3 crypt (libxcrypt): glibc's default 5000 rounds */
    {"sha512-crypt 5000 rounds",
     "$6$Bench5000Salt123$TRM95m1PIH36VnZt/2xQub9GxnZ1ByB6fhX1bEjeN1N.QEto"
     "oSY1D35du8HuAh.MkK4..uzzJieM7ebj1HZSq0",
     1},
    /* passlib's default count */
    {"sha512-crypt 656000 rounds",
     "$6$rounds=656000$Bench656kSalt123$seihxPLHgX9PV4rbJ277/Xx98hm/Zy.qzrQ"
     "ZhhsW3D2th.OPwoPCElfupPm64X2TRZJx4dsI.cnmy7uZDdtV/1",
     1},
    /* hashlib.pbkdf2_hmac as Django 3.2 and 4.2 write it */
    {"Django pbkdf2_sha256 260000",
     "pbkdf2_sha256$260000$BenchDjangoSalt2024xyz$M4UGVSCl6/pYEqxUB0iUMm4A"
     "rTNyLfFzH+GOJojRzOw=",
     1},
    {"Django pbkdf2_sha256 600000",
     "pbkdf2_sha256$600000$BenchDjangoSalt2024xyz$HCD/oq39ag0LT9fo5Jszj9Jp"
     "SkSMG9I1AmB2eoH2sRg=",
     1},
    {"$pbkdf2-sha256$ i=600000",
     "$pbkdf2-sha256$i=600000,l=32$AAECAwQFBgcICQoLDA0ODw$7xdxRO7JQgy8EJPSq"
     "LNEqSvFBtDU7JwCjdGfgyTYweY",
     1},
    /* hashlib.sha1(salt + password) */
    {"{SSHA1-HEX} 8-byte salt",
     "{SSHA1-HEX}a1b2c3d4e5f60718$2f43dbde1f10e2b5ecfae4717b98bd044688abf2", 1},
    {"bcrypt cost 14 (bound)",
     "$2b$14$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", 0},
    {"sha512-crypt 1000000 (bound)",
     "$6$rounds=1000000$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817"
     "G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
     0},
    {"pbkdf2 10000000 (bound)",
     "pbkdf2_sha256$10000000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9Bnn"
     "hgX4A=",
     0},
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct kt_error err;
	unsigned iters = 5, n;
	uint64_t v;
	double t0, dt, best, total;
	int r, rehash;

	if (argc > 2 ||
	    (argc == 2 &&
	     (kt_parse_uint(argv[1], 1000, &v) != KT_OK || v == 0))) {
		fprintf(stderr, "usage: %s [iterations]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		iters = (unsigned)v;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = rows[i].match ? iters : 1;
		best = 1e300;
		total = 0;
		for (unsigned k = 0; k < n; k++) {
			t0 = now_ms();
			r = kt_password_verify(PW, rows[i].phc, NULL, &rehash,
					       &err);
			dt = now_ms() - t0;
			if (r != (rows[i].match ? KT_OK : KT_ERR_DENIED)) {
				fprintf(stderr, "%s: unexpected %d: %s\n",
					rows[i].label, r, err.msg);
				return 1;
			}
			total += dt;
			if (dt < best)
				best = dt;
		}
		printf("%-30s %9.2f ms/verify (min %.2f ms, %u run%s)\n",
		       rows[i].label, total / n, best, n, n == 1 ? "" : "s");
	}
	return 0;
}
