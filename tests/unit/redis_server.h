#ifndef KONTOR_TEST_REDIS_SERVER_H
#define KONTOR_TEST_REDIS_SERVER_H

/*
 * A private redis-server for unit tests, like hiredis test.sh and redis
 * tests/unit (start_server): a spare TCP port on 127.0.0.1 plus a Unix
 * socket in a fresh temp dir, no persistence, DEBUG enabled, started with
 * fork/exec and stopped with SIGKILL. Header-only so that each test
 * program that needs it just includes it.
 *
 * A test program whose main finds no redis-server prints why and exits 77,
 * which CTest reports as skipped (SKIP_RETURN_CODE in tests/CMakeLists.txt).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#define KT_TEST_SKIP 77

struct test_redis {
	pid_t pid;
	int port;
	char dir[64];
	char sock[96];
	char password[64]; /* "" for none */
};

/* 1 if a redis-server binary is on PATH. */
static inline int test_redis_available(void)
{
	const char *path = getenv("PATH");
	char buf[4096], *save = NULL, *d;

	if (path == NULL || strlen(path) >= sizeof(buf))
		return 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char exe[4200];
		snprintf(exe, sizeof(exe), "%s/redis-server", d);
		if (access(exe, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* Exit 77 (skipped) with a clear message when redis-server is missing. */
static inline void test_redis_require(const char *prog)
{
	if (!test_redis_available()) {
		fprintf(stderr,
			"%s: SKIPPED: redis-server is not installed (Debian "
			"package redis-server); these tests need a real "
			"Redis\n",
			prog);
		exit(KT_TEST_SKIP);
	}
}

static inline int test_spare_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static inline void test_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A synchronous connection to the test server, for checking and setup. */
static inline redisContext *test_redis_sync(const struct test_redis *t)
{
	struct timeval tv = {2, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", t->port, tv);
	redisReply *rep;

	if (c == NULL || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (t->password[0]) {
		rep = redisCommand(c, "AUTH %s", t->password);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			if (rep)
				freeReplyObject(rep);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(rep);
	}
	return c;
}

/* 1 if the server answers PING with PONG. */
static inline int test_redis_ping(const struct test_redis *t)
{
	redisContext *c = test_redis_sync(t);
	redisReply *rep;
	int ok;

	if (c == NULL)
		return 0;
	rep = redisCommand(c, "PING");
	ok = rep != NULL && rep->type == REDIS_REPLY_STATUS &&
	     strcmp(rep->str, "PONG") == 0;
	if (rep)
		freeReplyObject(rep);
	redisFree(c);
	return ok;
}

/*
 * Start (or restart, on the same port and dir) the server. t->port 0 picks
 * a spare port; t->password, if set, becomes --requirepass. 0 or -1.
 */
static inline int test_redis_start(struct test_redis *t)
{
	char port[16];
	pid_t pid;

	if (t->dir[0] == '\0') {
		snprintf(t->dir, sizeof(t->dir), "/tmp/kt-test-redis-XXXXXX");
		if (mkdtemp(t->dir) == NULL)
			return -1;
		snprintf(t->sock, sizeof(t->sock), "%s/redis.sock", t->dir);
	}
	for (int attempt = 0; attempt < 5; attempt++) {
		int fixed = t->port != 0;
		if (!fixed && (t->port = test_spare_port()) <= 0)
			return -1;
		snprintf(port, sizeof(port), "%d", t->port);
		if ((pid = fork()) < 0)
			return -1;
		if (pid == 0) {
			const char *argv[32];
			int n = 0, devnull = open("/dev/null", O_RDWR);
			if (devnull >= 0) {
				dup2(devnull, 0);
				dup2(devnull, 1);
			}
			argv[n++] = "redis-server";
			argv[n++] = "--port";
			argv[n++] = port;
			argv[n++] = "--bind";
			argv[n++] = "127.0.0.1";
			argv[n++] = "--unixsocket";
			argv[n++] = t->sock;
			argv[n++] = "--dir";
			argv[n++] = t->dir;
			argv[n++] = "--save";
			argv[n++] = "";
			argv[n++] = "--appendonly";
			argv[n++] = "no";
			argv[n++] = "--daemonize";
			argv[n++] = "no";
			argv[n++] = "--loglevel";
			argv[n++] = "warning";
			argv[n++] = "--enable-debug-command";
			argv[n++] = "yes";
			if (t->password[0]) {
				argv[n++] = "--requirepass";
				argv[n++] = t->password;
			}
			argv[n] = NULL;
			execvp("redis-server", (char *const *)argv);
			_exit(127);
		}
		t->pid = pid;
		/* Up to 5 s for PING; the server usually answers in ~10 ms. */
		for (int i = 0; i < 500; i++) {
			int status;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				t->pid = 0;
				break; /* died: port taken? */
			}
			if (test_redis_ping(t))
				return 0;
			test_sleep_ms(10);
		}
		if (t->pid != 0) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, NULL, 0);
			t->pid = 0;
		}
		if (fixed)
			return -1;
		t->port = 0;
	}
	return -1;
}

/* Kill the server; the temp dir stays for a restart. */
static inline void test_redis_kill(struct test_redis *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
		t->pid = 0;
	}
}

/* Kill the server and remove its temp dir. */
static inline void test_redis_stop(struct test_redis *t)
{
	DIR *d;
	struct dirent *e;

	test_redis_kill(t);
	if (t->dir[0] == '\0')
		return;
	if ((d = opendir(t->dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char p[400];
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", t->dir, e->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(t->dir);
	t->dir[0] = '\0';
}

/* Run one event_base until *flag becomes non-zero or timeout_ms passes. */
static inline int test_run_until(struct event_base *base, const int *flag,
				 int timeout_ms)
{
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!*flag) {
		long ms;
		event_base_loop(base, EVLOOP_ONCE);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms > timeout_ms)
			return *flag;
	}
	return 1;
}

static inline long test_elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

#endif
