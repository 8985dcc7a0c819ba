// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sbapp.c - test applications for warm-standby images. Each initializes,
 * makes a few internal references that must not count as external, then
 * makes its first external reference and serves requests built from its
 * data:
 *
 *   sbapp tcp HOST PORT MB ROUNDS   fills MB MiB (ROUNDS of splitmix64 per
 *                                   word), connects to HOST:PORT
 *   sbapp fork HOST PORT WORKERS    forks WORKERS, each holding a part of
 *                                   the data, then connects
 *   sbapp udp HOST PORT IPORT       sendto HOST:IPORT (configured internal)
 *                                   first, then sendto HOST:PORT
 *   sbapp unix PATH                 connects to the unix socket PATH
 *   sbapp fifo PATH                 opens the FIFO PATH, writes "hello fifo"
 *   sbapp shm KEY                   System V shared memory by key (hex)
 *   sbapp store DIR                 reads DIR/input, then writes DIR/output
 *                                   (the first write under the store)
 *   sbapp store-mkdir DIR           reads DIR/input, then makes DIR/made
 *
 * Before its external reference every mode connects to a listener of its
 * own (TCP, or an abstract unix name), tries a unix path and an abstract
 * name that do not exist, and runs a helper thread.
 *
 * Requests, one per line: "GET i" -> "i value(i)", value(i) is ROUNDS
 * rounds of splitmix64 from i; "RATE ms" -> "rate CALLS_PER_S NS_PER_CALL"
 * (a getpid() loop, per second of the thread's CPU time). The first line sent is "hello MODE NS_PER_GETPID" with
 * the getpid cost measured during initialization (under the tracer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t *data;
static size_t nwords;
static unsigned rounds = 8;

static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t value(uint64_t i)
{
	uint64_t x = i;

	for (unsigned r = 0; r < rounds; r++)
		x = splitmix64(x);
	return x;
}

static void die(const char *what)
{
	fprintf(stderr, "sbapp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * ns per getpid() (a raw syscall, never cached) over about ms milliseconds
 * of this thread's CPU time: time spent descheduled on a busy machine does
 * not count, what a tracer or a seccomp filter adds to each call does.
 */
static double getpid_cost(unsigned ms, double *ret_rate)
{
	double t0 = cpu_now(), t;
	unsigned long n = 0;

	do {
		for (int k = 0; k < 1000; k++)
			(void)syscall(SYS_getpid);
		n += 1000;
		t = cpu_now();
	} while (t - t0 < ms / 1000.0);
	if (ret_rate)
		*ret_rate = n / (t - t0);
	return (t - t0) * 1e9 / n;
}

static void fill(size_t mb)
{
	nwords = mb * 1048576 / sizeof(uint64_t);
	data = malloc(nwords * sizeof(uint64_t));
	if (!data)
		die("malloc");
	for (size_t i = 0; i < nwords; i++)
		data[i] = value(i);
}

static void *helper(void *arg)
{
	(void)arg;
	for (;;)
		sleep(1);	/* a second thread, parked in a syscall at the checkpoint */
	return NULL;
}

/* An internal reference: a TCP connection to a listener of our own. */
static void self_connect_tcp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int l, c, s;

	l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&a, sizeof(a)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (void *)&a, &len) < 0)
		die("self listener");
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (void *)&a, sizeof(a)) < 0)
		die("self connect");
	s = accept(l, NULL, NULL);
	if (s < 0 || write(c, "x", 1) != 1)
		die("self accept");
	close(s);
	close(c);
	close(l);
}

/* An internal reference by abstract unix name. */
static void self_connect_unix(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t len;
	int l, c;

	len = offsetof(struct sockaddr_un, sun_path) + 1 +
	      snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "sbapp-self-%.0f",
		       now() * 1e9);	/* unique: every copy is pid 1 of its namespace */
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (void *)&a, len) < 0 || listen(l, 1) < 0)
		die("self unix listener");
	c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (void *)&a, len) < 0)
		die("self unix connect");
	close(c);
	close(l);
}

/* Connects that can only fail (no such socket) are no reference either. */
static void failing_connects(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "/nonexistent/sbapp.sock");	/* like nscd's */
	if (s < 0 || connect(s, (void *)&a, sizeof(a)) == 0)
		die("connect to a missing path succeeded");
	snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "sbapp-nobody-%.0f", now() * 1e9);
	a.sun_path[0] = 0;
	if (connect(s, (void *)&a, sizeof(a)) == 0)
		die("connect to an unbound abstract name succeeded");
	close(s);
}

static void internal_refs(void)
{
	pthread_t th;

	if (pthread_create(&th, NULL, helper, NULL) != 0)
		die("pthread_create");
	self_connect_tcp();
	self_connect_unix();
	failing_connects();
}

static int inet_addr_of(const char *host, const char *port, struct sockaddr_in *a)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(port));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

typedef uint64_t (*lookup_fn)(uint64_t i);

static uint64_t lookup_local(uint64_t i)
{
	return data[i % nwords];
}

/* Serves the request lines on fd until EOF. */
static void serve(int fd, const char *mode, double init_ns, lookup_fn lookup)
{
	char line[128];
	FILE *in = fdopen(dup(fd), "r"), *out = fdopen(fd, "w");

	if (!in || !out)
		die("fdopen");
	fprintf(out, "hello %s %.1f\n", mode, init_ns);
	fflush(out);
	while (fgets(line, sizeof(line), in)) {
		unsigned long long i;
		unsigned ms;

		if (sscanf(line, "GET %llu", &i) == 1) {
			fprintf(out, "%llu %llu\n", i, (unsigned long long)lookup(i));
		} else if (sscanf(line, "RATE %u", &ms) == 1) {
			double rate, ns = getpid_cost(ms, &rate);

			fprintf(out, "rate %.0f %.1f\n", rate, ns);
		} else {
			fprintf(out, "error\n");
		}
		fflush(out);
	}
	exit(0);
}

static int mode_tcp(char **argv)
{
	struct sockaddr_in a;
	double ns;
	int s;

	rounds = (unsigned)atoi(argv[5]);
	internal_refs();
	fill((size_t)atol(argv[4]));
	ns = getpid_cost(100, NULL);
	if (inet_addr_of(argv[2], argv[3], &a) < 0)
		die("bad address");
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (void *)&a, sizeof(a)) < 0)	/* the external reference */
		die("connect");
	serve(s, "tcp", ns, lookup_local);
	return 0;
}

/* fork: each worker answers "GET i" for its part over a pipe pair. */
static int wreq[16][2], wans[16][2];
static unsigned nworkers;

static void worker(unsigned w)
{
	uint64_t i, v;

	for (;;) {
		if (read(wreq[w][0], &i, sizeof(i)) != sizeof(i))
			exit(0);
		v = data[i % nwords];
		if (write(wans[w][1], &v, sizeof(v)) != sizeof(v))
			exit(0);
	}
}

static uint64_t lookup_workers(uint64_t i)
{
	unsigned w = (unsigned)(i % nworkers);
	uint64_t v = 0;

	if (write(wreq[w][1], &i, sizeof(i)) != sizeof(i) ||
	    read(wans[w][0], &v, sizeof(v)) != sizeof(v))
		die("worker");
	return v;
}

static int mode_fork(char **argv)
{
	struct sockaddr_in a;
	int s;

	nworkers = (unsigned)atoi(argv[4]);
	if (nworkers < 1 || nworkers > 16)
		die("workers");
	internal_refs();
	fill(16);
	for (unsigned w = 0; w < nworkers; w++) {
		if (pipe(wreq[w]) < 0 || pipe(wans[w]) < 0)
			die("pipe");
		if (fork() == 0)
			worker(w);
	}
	if (inet_addr_of(argv[2], argv[3], &a) < 0)
		die("bad address");
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (void *)&a, sizeof(a)) < 0)
		die("connect");
	serve(s, "fork", 0, lookup_workers);
	return 0;
}

static __attribute__((noreturn)) int mode_udp(char **argv)
{
	struct sockaddr_in a, internal, self = { .sin_family = AF_INET };
	socklen_t len = sizeof(self);
	char buf[128];
	ssize_t n;
	int s, me;

	internal_refs();
	fill(16);
	if (inet_addr_of(argv[2], argv[3], &a) < 0 || inet_addr_of(argv[2], argv[4], &internal) < 0)
		die("bad address");
	/* a UDP socket of our own: sending to it is internal */
	self.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	me = socket(AF_INET, SOCK_DGRAM, 0);
	if (me < 0 || bind(me, (void *)&self, sizeof(self)) < 0 ||
	    getsockname(me, (void *)&self, &len) < 0)
		die("udp self");
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0 || sendto(s, "self", 4, 0, (void *)&self, sizeof(self)) != 4)
		die("sendto self");
	/* a configured internal endpoint (may have no listener: ignore errors) */
	(void)sendto(s, "internal", 8, 0, (void *)&internal, sizeof(internal));
	if (sendto(s, "hello udp", 9, 0, (void *)&a, sizeof(a)) != 9)	/* external */
		die("sendto");
	for (;;) {
		unsigned long long i;
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);

		n = recvfrom(s, buf, sizeof(buf) - 1, 0, (void *)&from, &flen);
		if (n <= 0)
			die("recvfrom");
		buf[n] = 0;
		if (sscanf(buf, "GET %llu", &i) != 1)
			continue;
		n = snprintf(buf, sizeof(buf), "%llu %llu", i, (unsigned long long)lookup_local(i));
		(void)sendto(s, buf, (size_t)n, 0, (void *)&from, flen);
	}
}

static int mode_unix(char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s;

	internal_refs();
	fill(16);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", argv[2]);
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (void *)&a, sizeof(a)) < 0)
		die("connect");
	serve(s, "unix", 0, lookup_local);
	return 0;
}

/* fifo, shm, store: the reference, then "done" on stdout and exit */
static int mode_fifo(char **argv)
{
	int fd;

	internal_refs();
	fill(16);
	fd = open(argv[2], O_WRONLY);	/* external: a FIFO */
	if (fd < 0 || write(fd, "hello fifo\n", 11) != 11)
		die("fifo");
	printf("done\n");
	return 0;
}

static int mode_shm(char **argv)
{
	key_t key = (key_t)strtol(argv[2], NULL, 16);
	int id, priv;
	char *p;

	internal_refs();
	fill(16);
	priv = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);	/* internal: our own */
	if (priv < 0 || (p = shmat(priv, NULL, 0)) == (void *)-1)
		die("private shm");
	shmdt(p);
	shmctl(priv, IPC_RMID, NULL);
	id = shmget(key, 4096, IPC_CREAT | 0600);	/* external: by key */
	if (id < 0 || (p = shmat(id, NULL, 0)) == (void *)-1)
		die("shm");
	strcpy(p, "hello shm");
	shmdt(p);
	printf("done\n");
	return 0;
}

static int mode_store(char **argv)
{
	char path[4096], buf[64];
	ssize_t n;
	int fd;

	internal_refs();
	fill(16);
	snprintf(path, sizeof(path), "%s/input", argv[2]);
	fd = open(path, O_RDONLY);	/* reading the store is not a reference */
	if (fd < 0 || (n = read(fd, buf, sizeof(buf))) < 0)
		die("input");
	close(fd);
	if (!strcmp(argv[1], "store-mkdir")) {
		snprintf(path, sizeof(path), "%s/made", argv[2]);
		if (mkdir(path, 0755) < 0)	/* external: a new name */
			die("mkdir");
		printf("done\n");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/output", argv[2]);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);	/* external: a write */
	if (fd < 0 || write(fd, buf, (size_t)n) != n)
		die("output");
	close(fd);
	printf("done\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 6 && !strcmp(argv[1], "tcp"))
		return mode_tcp(argv);
	if (argc == 5 && !strcmp(argv[1], "fork"))
		return mode_fork(argv);
	if (argc == 5 && !strcmp(argv[1], "udp"))
		return mode_udp(argv);
	if (argc == 3 && !strcmp(argv[1], "unix"))
		return mode_unix(argv);
	if (argc == 3 && !strcmp(argv[1], "fifo"))
		return mode_fifo(argv);
	if (argc == 3 && !strcmp(argv[1], "shm"))
		return mode_shm(argv);
	if (argc == 3 && (!strcmp(argv[1], "store") || !strcmp(argv[1], "store-mkdir")))
		return mode_store(argv);
	fprintf(stderr, "usage: sbapp tcp HOST PORT MB ROUNDS | fork HOST PORT WORKERS |\n"
			"       udp HOST PORT INTERNAL_PORT | unix PATH | fifo PATH | shm KEY |\n"
			"       store DIR\n");
	return 2;
}
