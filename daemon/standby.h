/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * standby.h - warm-standby images: trace an application's initialization,
 * stop its whole process set right before its first external reference,
 * checkpoint it with CRIU while it keeps running, and manage the images.
 *
 * Why ptrace with PTRACE_SYSCALL and no seccomp filter: a seccomp filter
 * cannot be removed, and once the tracer is gone a SECCOMP_RET_TRACE (or a
 * SECCOMP_RET_USER_NOTIF without listener) makes the watched call fail with
 * ENOSYS: the original could never make its connect. Plain ptrace leaves
 * nothing behind after PTRACE_DETACH; its cost (two stops per syscall) is
 * paid during initialization only (figures: contrib/bench/standby.sh).
 *
 * Flow (standby_trace_run):
 *
 *   SPAWN --clone(CLONE_NEWPID), seize, exec--> TRACING
 *   TRACING --syscall entry judged external--> STOPPING
 *   STOPPING --every thread in group-stop, each pending syscall rewound,
 *              detached--> STOPPED (no tracer)
 *   STOPPED --criu dump --leave-running, SIGCONT--> RUNNING (the call runs)
 *   TRACING --root exits--> -ECHILD (no external reference was made)
 *
 * Only x86_64: rewinding a syscall moves the instruction pointer back over
 * the 2-byte `syscall` instruction and puts the number back in rax.
 */
#ifndef LIFEBOAT_STANDBY_H
#define LIFEBOAT_STANDBY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define STANDBY_MAX_INTERNAL 64		/* internal endpoints in a config */
#define STANDBY_MAX_THREADS 4096	/* threads of one traced set */
#define STANDBY_MAX_NODES 16
#define STANDBY_MAX_APPS 64
#define STANDBY_NAME_MAX 64		/* application and node names */

enum standby_ep_kind {
	STANDBY_EP_TCP,
	STANDBY_EP_UDP,
	STANDBY_EP_UNIX,
};

/* An endpoint that counts as internal: "tcp:127.0.0.1:5432", "udp:*:53",
 * "tcp:[::1]:80", "unix:/run/x.sock", "unix:@abstract". */
struct standby_endpoint {
	enum standby_ep_kind kind;
	int family;			/* AF_INET, AF_INET6; 0 = any address */
	uint8_t addr[16];		/* network order */
	uint16_t port;			/* host order */
	char path[108];			/* unix: '@' first for abstract names */
};

struct standby_node_rule {
	char name[STANDBY_NAME_MAX];
	uint64_t memory_budget;		/* bytes of preloaded images; 0 = no limit */
	unsigned max_images;		/* 0 = no limit */
	char netns[STANDBY_NAME_MAX];	/* restore in /run/netns/NETNS ("" = here) */
	char socket[108];		/* the node's lifeboatd control socket ("" = none):
					 * preloads and activations are its process sets */
};

enum standby_over_budget {
	STANDBY_OVER_REFUSE,		/* the image is not preloaded there */
	STANDBY_OVER_ELSEWHERE,		/* try the next allowed node */
	STANDBY_OVER_EVICT,		/* drop lower-priority images to make room */
};

struct standby_app_rule {
	char name[STANDBY_NAME_MAX];
	char nodes[STANDBY_MAX_NODES][STANDBY_NAME_MAX];	/* allowed, in order */
	unsigned n_nodes;
	int priority;			/* higher wins a budget */
	unsigned max_standbys;		/* 0 = one per allowed node */
	enum standby_over_budget over_budget;
	char journal[1024];		/* its mount's journal: fenced at activation */
	char mount[1024];		/* that mount here, where the journal replays */
};

struct standby_config {
	struct standby_endpoint internal[STANDBY_MAX_INTERNAL];
	unsigned n_internal;
	/* paths stay under 1 KiB so that every path built from them fits PATH_MAX */
	char store[1024];		/* the shared store's mount; "" = not watched */
	bool store_write_external;	/* first write under store is external */
	char image_root[1024];		/* where images are written */
	char state_root[1024];		/* preloads: state_root/NODE/NAME.json */
	char criu[1024];		/* the criu binary */
	struct standby_node_rule nodes[STANDBY_MAX_NODES];
	unsigned n_nodes;
	struct standby_app_rule apps[STANDBY_MAX_APPS];
	unsigned n_apps;
};

/* Defaults, then PATH (INI) if not NULL; a bad line is named and fails. */
int standby_config_load(const char *path, struct standby_config *ret_cfg);
int standby_endpoint_parse(const char *spec, struct standby_endpoint *ret_ep);
bool standby_name_valid(const char *name);
const struct standby_app_rule *standby_config_app(const struct standby_config *cfg,
						  const char *name);
const struct standby_node_rule *standby_config_node(const struct standby_config *cfg,
						    const char *name);

/* What stopped the initialization. */
struct standby_trigger {
	pid_t tid;			/* host tid of the thread that made the call */
	long nr;			/* syscall number */
	uint64_t stopped_ns;		/* CLOCK_MONOTONIC when it was held */
	char what[512];			/* "connect tcp 127.0.0.1:4000" */
};

/* A set of processes (thread group ids), host pids. */
struct standby_set {
	pid_t tgid[STANDBY_MAX_THREADS];
	unsigned n;
};

/*
 * Decides whether the syscall nr(args) of thread tid, a member of set, is an
 * external reference. 1 and a description in ret_what if so, 0 if not,
 * negative errno if the tracee's memory could not be read.
 */
int standby_external_judge(const struct standby_config *cfg, const struct standby_set *set,
			   pid_t tid, long nr, const uint64_t args[6], char *ret_what,
			   size_t what_size);

/* Options of one traced run. */
struct standby_run_opts {
	char *const *argv;		/* the command */
	const char *log_path;		/* stdout+stderr (O_APPEND), NULL = inherit */
	const char *workdir;		/* NULL = inherit */
	bool trace;			/* false: a cold start, no tracer (benchmarks) */
};

/*
 * Starts argv as pid 1 of a new PID namespace, traced. Returns 0 once it is
 * running; ret_root is its host pid (a child of the caller).
 */
int standby_spawn(const struct standby_run_opts *o, pid_t *ret_root);

/*
 * Seizes pid, a process stopped before its exec but not our child (the
 * command of a lifeboatd set started paused), and lets it go on under the
 * tracer; standby_trace_until_external(pid, ...) follows.
 */
int standby_seize_stopped(pid_t pid);

/*
 * Traces root (from standby_spawn or standby_seize_stopped) until its set makes an external
 * reference. On 0 every thread of the set is in group-stop, untraced, with
 * the call rewound, and ret_set lists its processes; -ECHILD if the root
 * exited first (*ret_status holds its wait status). On any other error
 * ret_set lists the processes still traced: the caller sends them SIGCONT
 * and exits, which detaches them (the app goes on, untraced, no image).
 */
int standby_trace_until_external(pid_t root, const struct standby_config *cfg,
				 struct standby_trigger *ret_trig, struct standby_set *ret_set,
				 int *ret_status);

uint64_t standby_now_ns(void);	/* CLOCK_MONOTONIC */

/* SIGCONT to every process of set (the original goes on with its call). */
void standby_set_continue(const struct standby_set *set);

/* All processes under root (root included), from /proc children lists. */
int standby_set_collect(pid_t root, struct standby_set *ret_set);

/* Image manifest, kept as manifest.json beside CRIU's files. */
struct standby_manifest {
	char name[STANDBY_NAME_MAX];
	uint64_t generation;
	uint64_t created;		/* unix seconds */
	uint64_t size;			/* bytes of image files */
	uint64_t checksum;		/* XXH3-64 over the image files, sorted by name */
	uint64_t pause_us;		/* how long the original stood still */
	uint64_t init_us;		/* from its start to the checkpoint point, traced */
	char trigger[512];
};

/* Checkpoint the stopped set rooted at root into dir with --leave-running. */
int standby_checkpoint(const struct standby_config *cfg, pid_t root, const char *dir);

/* Next generation under image_root/name (1 for the first). */
int standby_image_next_generation(const char *image_root, const char *name,
				  uint64_t *ret_gen);
int standby_image_checksum(const char *dir, uint64_t *ret_sum, uint64_t *ret_size);
int standby_manifest_write(const char *dir, const struct standby_manifest *m);
int standby_manifest_read(const char *dir, struct standby_manifest *ret_m);
/*
 * Checks dir's manifest against its files and the expected name (refuses a
 * foreign image) and, when min_generation > 0, refuses an older generation.
 */
int standby_image_verify(const char *dir, const char *name, uint64_t min_generation,
			 struct standby_manifest *ret_m);

/*
 * Restore dir with CRIU, in network namespace /run/netns/NETNS unless netns
 * is NULL or ""; the set comes back stopped. ret_root: its host pid.
 */
int standby_restore(const struct standby_config *cfg, const char *dir, const char *netns,
		    pid_t *ret_root);

/*
 * Hooks in `lifeboat run` and `lifeboat ps` (daemon/procset-cmd.c):
 * `run --standby-on NODE[,NODE] --name NAME [--cwd DIR] -- CMD` asks
 * lifeboatd to start the set paused, traces and checkpoints it from the CLI
 * and leaves it running under lifeboatd; `ps` ends with the standby images
 * of the default config.
 */
bool standby_run_requested(int argc, char **argv);
int standby_run_hook(int argc, char **argv);
void standby_ps_hook(void);

/* `lifeboat standby ...` */
int standby_cmd(int argc, char **argv);
void standby_cmd_help(void);
/* `lifeboat activate NAME [--on NODE]` */
int standby_activate_cmd(int argc, char **argv);

#endif
