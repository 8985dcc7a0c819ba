// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lifeboatd.c - the per-node daemon: reads lifeboat.conf, listens on the
 * root-only control socket, starts and watches process sets, checkpoints
 * and restores them with CRIU. One thread, one epoll loop over the control
 * socket and a signalfd (SIGCHLD: reap the inits of process sets;
 * SIGTERM/SIGINT: stop). Requests are served one at a time; a checkpoint
 * holds the loop while it runs (bounded by the CRIU watchdog).
 *
 * Process sets keep running when lifeboatd stops (their inits are
 * reparented); the next lifeboatd adopts them from their state files
 * (procset-state.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#define LOG_PREFIX ""
#include "lifeboat/log.h"
#include "checkpoint.h"
#include "control.h"
#include "lifeboatd.h"
#ifdef LIFEBOAT_HANDOFF
#include "handoff-node.h"
#endif

#ifndef LIFEBOAT_INIT_PATH
#define LIFEBOAT_INIT_PATH "/usr/local/libexec/lifeboat/lifeboat-init"
#endif
#ifndef LIFEBOAT_CRIU_BIN
#define LIFEBOAT_CRIU_BIN "/usr/local/lib/lifeboat/criu/sbin/criu"
#endif

static void help(void)
{
	printf("Usage: lifeboatd [--config FILE] [--socket PATH] [--check-config]\n\n"
	       "  -c, --config FILE   configuration (default %s)\n"
	       "  -s, --socket PATH   control socket (default: the config's control_socket)\n"
	       "      --check-config  check the configuration and exit\n"
	       "  -h, --help          this text\n\n"
	       "LIFEBOAT_LOG=debug|info|notice|warning|error sets the log level.\n",
	       CONFIG_DEFAULT_PATH);
}

/* lifeboat-init next to our own binary (a build tree), else the installed one. */
static int find_init(char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		snprintf(buf, size, "%s/lifeboat-init", dirname(self));
		if (access(buf, X_OK) == 0)
			return 0;
	}
	snprintf(buf, size, "%s", LIFEBOAT_INIT_PATH);
	if (access(buf, X_OK) == 0)
		return 0;
	return log_error_errno(-ENOENT, "lifeboat-init not found next to lifeboatd nor at '%s'", LIFEBOAT_INIT_PATH);
}

static int setup_paths(struct lifeboatd *d)
{
	int r;

	r = find_init(d->init_path, sizeof(d->init_path));
	if (r < 0)
		return r;
	snprintf(d->criu_bin, sizeof(d->criu_bin), "%s", d->cfg.criu_bin[0] ? d->cfg.criu_bin : LIFEBOAT_CRIU_BIN);
	if (access(d->criu_bin, X_OK) < 0)
		log_warning("criu not found at '%s' (run contrib/install-criu.sh): checkpoints will fail",
			    d->criu_bin);
	if (mkdir(d->cfg.state_dir, 0700) < 0 && errno != EEXIST)
		return log_error_errno(-errno, "cannot create the state directory '%s'", d->cfg.state_dir);
	if ((size_t)snprintf(d->criu_conf, sizeof(d->criu_conf), "%s/criu.conf", d->cfg.state_dir) >=
	    sizeof(d->criu_conf))
		return log_error_errno(-ENAMETOOLONG, "state directory '%s' too long", d->cfg.state_dir);
	r = checkpoint_write_config(d->criu_conf);
	if (r < 0)
		return r;
	d->env = (struct procset_env){ .cfg = &d->cfg, .init_path = d->init_path, .criu_bin = d->criu_bin,
				       .criu_conf = d->criu_conf };
	return 0;
}

/* An adopted init (not our child) has ended when its pidfd is readable. */
static bool adopted_exited(const struct procset *ps)
{
	struct pollfd p = { .fd = ps->pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

void lifeboatd_reap(struct lifeboatd *d)
{
	for (size_t i = 0; i < PROCSET_MAX; i++) {
		struct procset *ps = d->sets.sets[i];
		int status;

		if (!ps || ps->pid <= 0)
			continue;
		if (ps->adopted && adopted_exited(ps))
			procset_exited(ps, -1);
		else if (!ps->adopted && waitpid(ps->pid, &status, WNOHANG) == ps->pid)
			procset_exited(ps, status);
	}
}

static bool any_adopted(struct lifeboatd *d)
{
	for (size_t i = 0; i < PROCSET_MAX; i++)
		if (d->sets.sets[i] && d->sets.sets[i]->adopted)
			return true;
	return false;
}

/*
 * Drops what a refused client sent beyond the header: closing a unix socket
 * with unread data resets it, and the client would lose our error response.
 */
static void discard_input(int fd)
{
	char buf[4096];
	size_t total = 0;
	ssize_t n;

	while (total < CONTROL_MSG_MAX && (n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		total += (size_t)n;
}

static void serve_one(struct lifeboatd *d)
{
	struct json_object *req = NULL, *resp = NULL;
	uint16_t version = 0;
	pid_t caller;
	int fd, r;

	r = control_accept(d->listen_fd, &fd, &caller);
	if (r < 0)
		return;
	r = control_recv(fd, &req, &version);
	if (r == -EPROTONOSUPPORT)
		control_send_error(fd, r, "control protocol version %u not supported; lifeboatd speaks %u", version,
				   CONTROL_VERSION);
	else if (r == -EMSGSIZE)
		control_send_error(fd, r, "request length out of bounds (1 to %u bytes)", CONTROL_MSG_MAX);
	else if (r == -EBADMSG || r == -EPROTO)
		control_send_error(fd, r, "malformed request: not one control frame with a JSON object");
	if (r < 0) {
		log_warning_errno(r, "bad request from pid %d", (int)caller);
		discard_input(fd);
		close(fd);
		return;
	}
	lifeboatd_handle(d, req, &resp);
	r = control_send(fd, resp);
	if (r < 0)
		log_warning_errno(r, "cannot answer pid %d", (int)caller);
	json_object_put(req);
	json_object_put(resp);
	close(fd);
}

static int handle_signals(struct lifeboatd *d, int sfd)
{
	struct signalfd_siginfo si;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			lifeboatd_reap(d);
		else {
			log_info("signal %u: stopping", si.ssi_signo);
			d->quit = true;
		}
	}
	return 0;
}

static int setup_signals(int *ret_fd)
{
	sigset_t mask;
	int fd;

	/* blocked before any child exists: libcriu wants SIGCHLD blocked too */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(-errno, "cannot block signals");
	(void)signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create a signalfd");
	*ret_fd = fd;
	return 0;
}

/*
 * The peer side (handoff-node.c, built in when present): a listener for
 * incoming handoffs and a periodic look at the mounts' status.
 */
#ifdef LIFEBOAT_HANDOFF
static int peer_setup(struct lifeboatd *d, int ep, int *ret_fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int r;

	*ret_fd = -1;
	r = handoff_node_listen(d, ret_fd);
	if (r <= 0)
		return r;
	ev.data.fd = *ret_fd;
	return epoll_ctl(ep, EPOLL_CTL_ADD, *ret_fd, &ev) < 0 ? -errno : 0;
}
#define LOOP_TIMEOUT_MS HANDOFF_WATCH_MS
#else
static int peer_setup(struct lifeboatd *d, int ep, int *ret_fd)
{
	*ret_fd = -1;
	if (d->cfg.listen_host[0])
		log_warning("[node] listen is set, but this lifeboatd has no handoff built in");
	return 0;
}
#define LOOP_TIMEOUT_MS -1
#endif

static void dispatch(struct lifeboatd *d, int fd, int sfd, int peer_fd)
{
	if (fd == sfd)
		handle_signals(d, sfd);
	else if (fd == d->listen_fd)
		serve_one(d);
#ifdef LIFEBOAT_HANDOFF
	else if (fd == peer_fd)
		(void)handoff_node_accept(d, peer_fd);
#endif
}

static int run_loop(struct lifeboatd *d, int sfd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int peer_fd, r;

	if (ep < 0)
		return log_error_errno(-errno, "cannot create an epoll instance");
	ev.data.fd = d->listen_fd;
	(void)epoll_ctl(ep, EPOLL_CTL_ADD, d->listen_fd, &ev);
	ev.data.fd = sfd;
	(void)epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
	r = peer_setup(d, ep, &peer_fd);
	while (r >= 0 && !d->quit) {
		struct epoll_event events[4];
		/* adopted inits are not our children: no SIGCHLD, look every second */
		int n = epoll_wait(ep, events, 4, any_adopted(d) && (LOOP_TIMEOUT_MS < 0 || LOOP_TIMEOUT_MS > 1000)
							  ? 1000 : LOOP_TIMEOUT_MS);

		if (n < 0 && errno != EINTR) {
			r = log_error_errno(-errno, "epoll_wait failed");
			break;
		}
		for (int i = 0; i < n; i++)
			dispatch(d, events[i].data.fd, sfd, peer_fd);
#ifdef LIFEBOAT_HANDOFF
		handoff_node_watch(d);
#endif
		if (any_adopted(d))
			lifeboatd_reap(d);
		if (n > 0)
			procset_state_save(&d->env, &d->sets);
	}
	if (peer_fd >= 0)
		close(peer_fd);
	close(ep);
	return r < 0 ? r : 0;
}

static int count_running(struct lifeboatd *d)
{
	int n = 0;

	for (size_t i = 0; i < PROCSET_MAX; i++)
		n += d->sets.sets[i] && d->sets.sets[i]->state == PROCSET_RUNNING;
	return n;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	static struct lifeboatd d = { .config_path = CONFIG_DEFAULT_PATH, .listen_fd = -1 };
	const char *socket_path = NULL;
	bool check_only = false;
	int c, sfd = -1, r;

	log_setup("lifeboatd");
	while ((c = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			d.config_path = optarg;
			break;
		case 's':
			socket_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'h':
			help();
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s', see --help", argv[optind]);
		return 2;
	}
	if (config_load(d.config_path, &d.cfg) < 0)
		return 1;
	if (check_only) {
		printf("%s: ok (node '%s', %u peer(s), %u mount(s))\n", d.config_path, d.cfg.node_name, d.cfg.n_peers,
		       d.cfg.n_mounts);
		return 0;
	}
	if (socket_path)
		snprintf(d.cfg.control_socket, sizeof(d.cfg.control_socket), "%s", socket_path);
	if (geteuid() != 0) {
		log_error("lifeboatd must run as root");
		return 1;
	}
	if (setup_paths(&d) < 0 || setup_signals(&sfd) < 0 || procset_state_load(&d.env, &d.sets) < 0 ||
	    control_listen(d.cfg.control_socket, &d.listen_fd) < 0)
		return 1;
	log_info("node '%s' ready on '%s'", d.cfg.node_name, d.cfg.control_socket);
	(void)sd_notifyf(0, "READY=1\nSTATUS=node %s, control socket %s", d.cfg.node_name, d.cfg.control_socket);
	r = run_loop(&d, sfd);
	(void)sd_notify(0, "STOPPING=1");
	procset_state_save(&d.env, &d.sets);	/* the next lifeboatd adopts what runs */
	close(d.listen_fd);
	(void)unlink(d.cfg.control_socket);
	c = count_running(&d);
	if (c > 0)
		log_notice("%d process set(s) keep running without lifeboatd", c);
	return r < 0 ? 1 : 0;
}
