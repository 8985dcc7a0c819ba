// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * journal-cmd.c - `lifeboat journal inspect|verify|replay|owner|fence|release`: look
 * into a journal (a file or an iSCSI LUN), check it record by record, replay
 * it into a store, show and take over its ownership (epoch, reservation).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#define LOG_PREFIX "journal: "
#include "lifeboat/journal.h"
#include "lifeboat/log.h"
#include "lifeboat.h"

void journal_cmd_help(void)
{
	printf("  journal inspect [--json] JOURNAL  print the header and every record\n"
	       "  journal verify JOURNAL            check every record (exit 0, 3 or 4)\n"
	       "  journal replay [--dry-run] JOURNAL STORE\n"
	       "                                    apply the records to the store directory\n"
	       "  journal owner JOURNAL             show the epoch, owner and reservation\n"
	       "  journal fence [--owner NAME] JOURNAL\n"
	       "                                    take the journal over: preempt the owner's\n"
	       "                                    reservation, bump the epoch\n"
	       "  journal release JOURNAL           after a fence and a replay: drop the replayed\n"
	       "                                    records and give the journal back to its node\n"
	       "  JOURNAL is a file or iscsi://host[:port]/iqn/lun[?initiator=IQN&key=HEX]\n");
}

/* Says what is wrong with a journal that cannot be opened. */
static int open_error(int r, const char *path)
{
	switch (r) {
	case -EMEDIUMTYPE:
		return log_error_errno(r, "'%s' is not a lifeboat journal (no journal superblock); "
				       "nothing changed", path);
	case -ENODATA:
		return log_error_errno(r, "'%s' is blank: no journal yet", path);
	case -EPROTONOSUPPORT:
		return log_error_errno(r, "journal '%s' has a newer format than this lifeboat reads", path);
	case -EXDEV:
		return log_error_errno(r, "journal '%s' was made for another block size or a larger LUN",
				       path);
	case -EBADMSG:
		return log_error_errno(r, "journal '%s' has a corrupt header or superblock", path);
	}
	return log_error_errno(r, "cannot open journal '%s'", path);
}

static int open_journal_flags(const char *path, unsigned flags, const char *owner,
			      struct journal **ret_j)
{
	struct journal_options opts = { .flags = flags, .owner = owner };
	int r;

	r = journal_open(path, &opts, ret_j);
	return r < 0 ? open_error(r, path) : 0;
}

static int open_journal(const char *path, bool read_only, struct journal **ret_j)
{
	return open_journal_flags(path, read_only ? JOURNAL_OPEN_READONLY : 0, NULL, ret_j);
}

/* Logs where a scan stopped; returns the exit code it means. */
static int report_end(const char *path, const struct journal_scan_result *res)
{
	switch (res->end) {
	case JOURNAL_END_CLEAN:
		return EXIT_OK;
	case JOURNAL_END_TORN:
		log_warning("torn tail in '%s' at record %" PRIu64 ", offset %" PRIu64
			    ": %s (an unfinished append, never acknowledged)",
			    path, res->bad_seq, res->bad_offset, res->reason);
		return EXIT_TORN;
	case JOURNAL_END_CORRUPT:
		log_error("corrupt record %" PRIu64 " at offset %" PRIu64 " in '%s': %s; "
			  "records from there on are not used",
			  res->bad_seq, res->bad_offset, path, res->reason);
		return EXIT_CORRUPT;
	}
	return EXIT_FAILED;
}

/* ------------------------------------------------------------------ inspect */

static void print_record_text(const struct journal_record *rec, uint64_t offset)
{
	printf("%8" PRIu64 " epoch %" PRIu64 " @%" PRIu64 " %-11s '%s'", rec->seq, rec->epoch,
	       offset, journal_type_to_string(rec->type), rec->path);
	if (rec->path2)
		printf(" -> '%s'", rec->path2);
	if (rec->target)
		printf(" target '%s'", rec->target);
	if (rec->name)
		printf(" name '%s'", rec->name);
	if (rec->type == JOURNAL_WRITE || rec->type == JOURNAL_FALLOCATE)
		printf(" offset %" PRIu64, rec->offset);
	if (rec->data_len)
		printf(" len %zu", rec->data_len);
	if (rec->type == JOURNAL_FALLOCATE)
		printf(" length %" PRIu64, rec->length);
	if (rec->type == JOURNAL_TRUNCATE || (rec->flags & JOURNAL_ATTR_SIZE && rec->type == JOURNAL_SETATTR))
		printf(" size %" PRIu64, rec->size);
	if (rec->mode)
		printf(" mode 0%o", rec->mode);
	if (rec->flags)
		printf(" flags 0x%x", rec->flags);
	printf("\n");
}

static json_object *record_json(const struct journal_record *rec, uint64_t offset)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "seq", json_object_new_uint64(rec->seq));
	json_object_object_add(o, "epoch", json_object_new_uint64(rec->epoch));
	json_object_object_add(o, "offset", json_object_new_uint64(offset));
	json_object_object_add(o, "time_ns", json_object_new_uint64(rec->time_ns));
	json_object_object_add(o, "type", json_object_new_string(journal_type_to_string(rec->type)));
	json_object_object_add(o, "path", json_object_new_string(rec->path));
	if (rec->path2)
		json_object_object_add(o, "path2", json_object_new_string(rec->path2));
	if (rec->target)
		json_object_object_add(o, "target", json_object_new_string(rec->target));
	if (rec->name)
		json_object_object_add(o, "name", json_object_new_string(rec->name));
	json_object_object_add(o, "offset_arg", json_object_new_uint64(rec->offset));
	json_object_object_add(o, "length", json_object_new_uint64(rec->length));
	json_object_object_add(o, "size", json_object_new_uint64(rec->size));
	json_object_object_add(o, "data_len", json_object_new_uint64(rec->data_len));
	json_object_object_add(o, "mode", json_object_new_int64(rec->mode));
	json_object_object_add(o, "uid", json_object_new_int64(rec->uid));
	json_object_object_add(o, "gid", json_object_new_int64(rec->gid));
	json_object_object_add(o, "flags", json_object_new_int64(rec->flags));
	return o;
}

static int inspect_record(const struct journal_record *rec, uint64_t offset, void *userdata)
{
	json_object *records = userdata;

	if (records)
		json_object_array_add(records, record_json(rec, offset));
	else
		print_record_text(rec, offset);
	return 0;
}

static json_object *header_json(const struct journal_info *info)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "version", json_object_new_int(info->version));
	json_object_object_add(o, "epoch", json_object_new_uint64(info->epoch));
	json_object_object_add(o, "owner", json_object_new_string(info->owner));
	json_object_object_add(o, "created_ns", json_object_new_uint64(info->created_ns));
	json_object_object_add(o, "epoch_ns", json_object_new_uint64(info->epoch_ns));
	json_object_object_add(o, "first_seq", json_object_new_uint64(info->first_seq));
	json_object_object_add(o, "applied_seq", json_object_new_uint64(info->applied_seq));
	json_object_object_add(o, "head_offset", json_object_new_uint64(info->head_offset));
	return o;
}

static json_object *end_json(const struct journal_scan_result *res)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "state", json_object_new_string(journal_end_to_string(res->end)));
	json_object_object_add(o, "records", json_object_new_uint64(res->records));
	json_object_object_add(o, "first_seq", json_object_new_uint64(res->first_seq));
	json_object_object_add(o, "last_seq", json_object_new_uint64(res->last_seq));
	json_object_object_add(o, "end_offset", json_object_new_uint64(res->end_offset));
	if (res->end != JOURNAL_END_CLEAN) {
		json_object_object_add(o, "bad_seq", json_object_new_uint64(res->bad_seq));
		json_object_object_add(o, "bad_offset", json_object_new_uint64(res->bad_offset));
		json_object_object_add(o, "reason", json_object_new_string(res->reason));
	}
	return o;
}

static void print_header_text(const char *path, const struct journal_info *info)
{
	printf("journal '%s': version %u, epoch %" PRIu64 ", owner '%s', created %" PRIu64
	       " ns, first seq %" PRIu64 ", applied seq %" PRIu64 "\n",
	       path, info->version, info->epoch, info->owner, info->created_ns, info->first_seq,
	       info->applied_seq);
}

static void lun_id_hex(const struct journal_lun_info *li, char *buf)
{
	for (unsigned i = 0; i < JOURNAL_RING_ID_SIZE; i++)
		sprintf(buf + 2 * i, "%02x", li->lun_id[i]);
}

/* The superblock of a LUN journal: text, or added to the JSON root. */
static void print_lun(struct journal *j, json_object *root)
{
	char id[2 * JOURNAL_RING_ID_SIZE + 1];
	struct journal_lun_info li;
	json_object *o;

	if (journal_device_lun_info(journal_device(j), &li) < 0)
		return;
	lun_id_hex(&li, id);
	if (!root) {
		printf("LUN %s: %" PRIu64 " blocks of %u bytes, ring %" PRIu64 " bytes at %" PRIu64
		       ", head %" PRIu64 ", used %" PRIu64 ", superblock generation %" PRIu64 "\n",
		       id, li.lun_blocks, li.block_size, li.ring_size, li.ring_start, li.head, li.used,
		       li.generation);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "lun_id", json_object_new_string(id));
	json_object_object_add(o, "block_size", json_object_new_int(li.block_size));
	json_object_object_add(o, "lun_blocks", json_object_new_uint64(li.lun_blocks));
	json_object_object_add(o, "ring_start", json_object_new_uint64(li.ring_start));
	json_object_object_add(o, "ring_size", json_object_new_uint64(li.ring_size));
	json_object_object_add(o, "head", json_object_new_uint64(li.head));
	json_object_object_add(o, "used", json_object_new_uint64(li.used));
	json_object_object_add(o, "generation", json_object_new_uint64(li.generation));
	json_object_object_add(root, "lun", o);
}

static int do_inspect(const char *path, bool json)
{
	json_object *root = NULL, *records = NULL;
	struct journal_scan_result res;
	struct journal_info info;
	struct journal *j;
	int r;

	r = open_journal(path, true, &j);
	if (r < 0)
		return EXIT_FAILED;
	journal_get_info(j, &info);
	if (json) {
		root = json_object_new_object();
		records = json_object_new_array();
		json_object_object_add(root, "header", header_json(&info));
		json_object_object_add(root, "records", records);
	} else {
		print_header_text(path, &info);
	}
	print_lun(j, root);
	r = journal_scan(j, inspect_record, records, &res);
	journal_close(j);
	if (r < 0 && r != -EBADMSG) {
		json_object_put(root);
		return log_error_errno(r, "cannot read journal '%s'", path), EXIT_FAILED;
	}
	if (json) {
		json_object_object_add(root, "end", end_json(&res));
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
		json_object_put(root);
	} else {
		printf("%" PRIu64 " records, end: %s\n", res.records, journal_end_to_string(res.end));
	}
	r = report_end(path, &res);
	return r == EXIT_TORN ? EXIT_OK : r;
}

/* ------------------------------------------------------------------ verify */

static int do_verify(const char *path)
{
	struct journal_scan_result res;
	struct journal *j;
	int r;

	if (open_journal(path, true, &j) < 0)
		return EXIT_FAILED;
	r = journal_scan(j, NULL, NULL, &res);
	journal_close(j);
	if (r < 0 && r != -EBADMSG)
		return log_error_errno(r, "cannot read journal '%s'", path), EXIT_FAILED;
	r = report_end(path, &res);
	if (r == EXIT_OK)
		printf("'%s': %" PRIu64 " records (seq %" PRIu64 "..%" PRIu64 "), clean\n", path,
		       res.records, res.first_seq, res.last_seq);
	return r;
}

/* ------------------------------------------------------------------ replay */

static int do_replay(const char *path, const char *store, bool dry_run)
{
	struct journal_replay_stats stats = { 0 };
	struct journal_scan_result res = { 0 };
	struct journal *j;
	int fd, r;

	fd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "cannot open store '%s'", store), EXIT_FAILED;
	if (open_journal(path, dry_run, &j) < 0) {
		close(fd);
		return EXIT_FAILED;
	}
	r = journal_replay(j, fd, dry_run ? JOURNAL_REPLAY_DRY_RUN : 0, &stats, &res);
	journal_close(j);
	close(fd);
	if (r < 0 && r != -EBADMSG && stats.failed_seq)
		return log_error_errno(r, "cannot replay record %" PRIu64 " at offset %" PRIu64
				       " of '%s' into '%s'", stats.failed_seq, stats.failed_offset,
				       path, store), EXIT_FAILED;
	if (r < 0 && r != -EBADMSG)
		return log_error_errno(r, "cannot replay '%s' into '%s'", path, store), EXIT_FAILED;
	printf("%s'%s' into '%s': %" PRIu64 " applied, %" PRIu64 " already done, %" PRIu64
	       " skipped, %" PRIu64 " synced\n", dry_run ? "dry run: " : "", path, store,
	       stats.applied, stats.done, stats.skipped, stats.synced);
	r = report_end(path, &res);
	return r == EXIT_TORN ? EXIT_OK : r;
}

/* ------------------------------------------------------------------ owner, fence */

static void print_pr(const char *path, const struct journal_pr_info *pr)
{
	printf("reservation on '%s': ", path);
	if (pr->reserved)
		printf("held by key 0x%" PRIx64 "%s, type %u%s\n", pr->holder_key,
		       pr->holder_key == pr->our_key ? " (ours)" : "", pr->type,
		       pr->type == 5 ? " (Write Exclusive, Registrants Only)" : "");
	else
		printf("none\n");
	printf("registered keys (generation %u):", pr->generation);
	for (unsigned i = 0; i < pr->nkeys; i++)
		printf(" 0x%" PRIx64 "%s", pr->keys[i], pr->keys[i] == pr->our_key ? "*" : "");
	printf("%s\nour key: 0x%" PRIx64 "\n", pr->nkeys ? "" : " none", pr->our_key);
}

/* The reservation of an iSCSI journal, looked at without registering. */
static int show_reservation(const char *path)
{
	struct journal_blockdev *bd;
	struct journal_pr_info pr;
	int r;

	r = journal_iscsi_blockdev_open(path, JOURNAL_ISCSI_NO_RESERVE, &bd);
	if (r < 0)
		return log_error_errno(r, "cannot open '%s'", path);
	r = journal_iscsi_pr_info(bd, &pr);
	bd->ops->close(bd);
	if (r < 0)
		return log_error_errno(r, "cannot read the reservation of '%s'", path);
	print_pr(path, &pr);
	return 0;
}

static int do_owner(const char *path)
{
	struct journal_info info;
	struct journal *j;

	if (open_journal(path, true, &j) < 0)
		return EXIT_FAILED;
	journal_get_info(j, &info);
	journal_close(j);
	printf("journal '%s': epoch %" PRIu64 ", owner '%s' since %" PRIu64 " ns\n", path,
	       info.epoch, info.owner, info.epoch_ns);
	if (journal_name_is_iscsi(path) && show_reservation(path) < 0)
		return EXIT_FAILED;
	return EXIT_OK;
}

static int do_fence(const char *path, const char *owner)
{
	char host[JOURNAL_OWNER_MAX] = "lifeboat";
	struct journal_info before, after;
	struct journal *j;

	if (!owner) {
		(void)gethostname(host, sizeof(host) - 1);
		owner = host;
	}
	if (open_journal(path, true, &j) < 0)
		return EXIT_FAILED;
	journal_get_info(j, &before);
	journal_close(j);
	if (open_journal_flags(path, JOURNAL_OPEN_TAKEOVER, owner, &j) < 0)
		return EXIT_FAILED;
	journal_get_info(j, &after);
	journal_close(j);
	printf("fenced '%s': epoch %" PRIu64 " -> %" PRIu64 ", owner '%s' -> '%s'; %" PRIu64
	       " records left for the new owner to replay\n", path, before.epoch, after.epoch,
	       before.owner, after.owner, after.open_scan.records);
	if (journal_name_is_iscsi(path) && show_reservation(path) < 0)
		return EXIT_FAILED;
	return EXIT_OK;
}

/*
 * The last step of a takeover by hand (fence, replay, release): the node
 * the journal belongs to takes it back once it sees it released and empty.
 */
static int do_release(const char *path)
{
	struct journal_info info;
	struct journal *j;
	int r;

	if (open_journal(path, false, &j) < 0)
		return EXIT_FAILED;
	journal_get_info(j, &info);
	if (info.open_scan.records && info.open_scan.last_seq > info.applied_seq) {
		journal_close(j);
		log_error("journal '%s' holds records up to %" PRIu64 " but only %" PRIu64
			  " were replayed: replay it first ('lifeboat journal replay')", path,
			  info.open_scan.last_seq, info.applied_seq);
		return EXIT_FAILED;
	}
	r = journal_reset(j);
	if (r == 0)
		r = journal_release(j);
	journal_get_info(j, &info);
	journal_close(j);
	if (r < 0)
		return log_error_errno(r, "cannot release journal '%s'", path), EXIT_FAILED;
	printf("released '%s' at epoch %" PRIu64 ": owner '%s'\n", path, info.epoch, info.owner);
	return EXIT_OK;
}

/* ------------------------------------------------------------------ dispatch */

static int usage_error(const char *what)
{
	log_error("%s, see 'lifeboat --help'", what);
	return EXIT_USAGE;
}

int journal_cmd(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "owner", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool json = false, dry_run = false;
	const char *sub, *owner = NULL;
	int c;

	if (argc < 2)
		return usage_error("missing journal subcommand");
	sub = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'j')
			json = true;
		else if (c == 'n')
			dry_run = true;
		else if (c == 'o')
			owner = optarg;
		else if (c == 'h')
			return journal_cmd_help(), EXIT_OK;
		else
			return EXIT_USAGE;
	}
	argc -= optind;
	argv += optind;
	if (strcmp(sub, "inspect") == 0 && argc == 1 && !dry_run)
		return do_inspect(argv[0], json);
	if (strcmp(sub, "verify") == 0 && argc == 1 && !json && !dry_run)
		return do_verify(argv[0]);
	if (strcmp(sub, "replay") == 0 && argc == 2 && !json)
		return do_replay(argv[0], argv[1], dry_run);
	if (strcmp(sub, "owner") == 0 && argc == 1 && !json && !dry_run && !owner)
		return do_owner(argv[0]);
	if (strcmp(sub, "fence") == 0 && argc == 1 && !json && !dry_run)
		return do_fence(argv[0], owner);
	if (strcmp(sub, "release") == 0 && argc == 1 && !json && !dry_run && !owner)
		return do_release(argv[0]);
	return usage_error("bad arguments to 'journal'");
}
