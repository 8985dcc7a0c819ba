// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * handoff-net.c - moving an app's service address with it, so that its
 * established TCP connections survive the handoff (CRIU --tcp-established
 * with the nftables network lock).
 *
 *   A, after the dump: CRIU left its lock table (table inet CRIU-<pid>) in
 *     this network namespace: it drops the connections' packets, so neither
 *     side sends a reset. Save the table into the image, then remove the
 *     address here.
 *   B, before the restore: load the table, add the address to the interface
 *     that holds our own peer address, announce it (gratuitous ARP), restore
 *     (CRIU removes the table once the sockets are back).
 *   A, after B restored: drop the leftover table. After a failure: put the
 *     address back, the local restore unlocks.
 *
 * lifeboatd runs in the node's network namespace, so the commands below
 * (ip, nft) act there. Files in the image: lifeboat-net.txt ("ADDR DEV")
 * and lifeboat-net.nft (the table as `nft list table` prints it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/if_ether.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_PREFIX "handoff: "
#include "lifeboat/log.h"
#include "handoff.h"

#define NET_INFO "lifeboat-net.txt"
#define NET_TABLE "lifeboat-net.nft"
#define CMD_OUT_MAX (256u << 10)

/* Runs argv (no shell); its stdout into out (NUL-terminated) if out. */
static int run_cmd(char *const argv[], char *out, size_t size)
{
	int pipefd[2], status;
	size_t len = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -errno;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, STDIN_FILENO);
		dup2(out ? pipefd[1] : null, STDOUT_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		char sink[4096];
		ssize_t n = out && len + 1 < size ? read(pipefd[0], out + len, size - len - 1)
						  : read(pipefd[0], sink, sizeof(sink));

		if (n <= 0)
			break;
		if (out && len + 1 < size)
			len += (size_t)n;
	}
	close(pipefd[0]);
	if (out)
		out[len] = '\0';
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/* The interface holding addr here, from `ip -o addr show to ADDR`. */
static int dev_of(const char *addr, char *dev, size_t size)
{
	char out[1024], to[80];
	char *argv[] = { "ip", "-o", "addr", "show", "to", to, NULL };

	snprintf(to, sizeof(to), "%s", addr);
	if (run_cmd(argv, out, sizeof(out)) < 0 || sscanf(out, "%*d: %15s", dev) != 1)
		return -ENODEV;
	dev[strcspn(dev, "@:")] = '\0';
	(void)size;
	return 0;
}

/* "inet CRIU-1234" of the lock table CRIU left here, if any. */
static int lock_table(char *name, size_t size)
{
	char *out = malloc(CMD_OUT_MAX), *p;
	char *argv[] = { "nft", "list", "tables", NULL };
	int r = -ENOENT;

	if (!out)
		return -ENOMEM;
	if (run_cmd(argv, out, CMD_OUT_MAX) == 0 && (p = strstr(out, "table inet CRIU-"))) {
		p += strlen("table ");
		snprintf(name, size, "%.*s", (int)strcspn(p, "\n"), p);
		r = 0;
	}
	free(out);
	return r;
}

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;
	int r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	if (fputs(text, f) < 0)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

int handoff_net_release(const char *addr, const char *dir)
{
	char dev[IF_NAMESIZE + 1] = "", table[128], info[256], host[80];
	bool locked = false;
	char *out;
	int r;

	r = dev_of(addr, dev, sizeof(dev));
	if (r < 0)
		return log_error_errno(r, "service address '%s' is on no interface here", addr);
	if (lock_table(table, sizeof(table)) == 0) {
		char tname[128];
		char *argv[] = { "nft", "list", "table", "inet", tname, NULL };

		snprintf(tname, sizeof(tname), "%s", table + strlen("inet "));
		out = malloc(CMD_OUT_MAX);
		r = out ? run_cmd(argv, out, CMD_OUT_MAX) : -ENOMEM;
		if (r == 0)
			r = write_file(dir, NET_TABLE, out);
		free(out);
		if (r < 0)
			return log_error_errno(r, "cannot save CRIU's lock table '%s'", table);
		locked = true;
	}
	snprintf(info, sizeof(info), "%s %s\n", addr, dev);
	r = write_file(dir, NET_INFO, info);
	if (r < 0)
		return log_error_errno(r, "cannot write '%s'", NET_INFO);
	snprintf(host, sizeof(host), "%s/32", addr);
	{
		char *argv[] = { "ip", "addr", "del", host, "dev", dev, NULL };

		r = run_cmd(argv, NULL, 0);
	}
	if (r < 0)
		return log_error_errno(r, "cannot remove service address '%s' from '%s'", addr, dev);
	log_info("service address %s left %s (CRIU lock table %s)", addr, dev,
		 locked ? table : "none");
	return 0;
}

int handoff_net_readd(const char *dir)
{
	char info[256] = "", addr[80], dev[IF_NAMESIZE + 1], host[96], path[PATH_MAX];
	char *argv[] = { "ip", "addr", "add", host, "dev", dev, NULL };
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, NET_INFO);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* nothing was released */
	if (!fgets(info, sizeof(info), f) || sscanf(info, "%79s %16s", addr, dev) != 2) {
		fclose(f);
		return -EBADMSG;
	}
	fclose(f);
	snprintf(host, sizeof(host), "%s/32", addr);
	return run_cmd(argv, NULL, 0);
}

/* One gratuitous ARP request for addr from dev: neighbours learn the new MAC. */
static int garp(const char *addr, const char *dev)
{
	struct {
		struct ether_header eth;
		struct ether_arp arp;
	} __attribute__((packed)) pkt = { 0 };
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP) };
	struct ifreq ifr = { 0 };
	unsigned char mac[ETH_ALEN];
	struct in_addr ip;
	int fd, r = 0;

	if (inet_pton(AF_INET, addr, &ip) != 1)
		return 0;	/* IPv6 announces itself (unsolicited NA by the kernel) */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);	/* ifr's union is reused below */
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		r = -errno;
		goto out;
	}
	memset(pkt.eth.ether_dhost, 0xff, ETH_ALEN);
	memcpy(pkt.eth.ether_shost, mac, ETH_ALEN);
	pkt.eth.ether_type = htons(ETHERTYPE_ARP);
	pkt.arp.arp_hrd = htons(ARPHRD_ETHER);
	pkt.arp.arp_pro = htons(ETHERTYPE_IP);
	pkt.arp.arp_hln = ETH_ALEN;
	pkt.arp.arp_pln = 4;
	pkt.arp.arp_op = htons(ARPOP_REQUEST);
	memcpy(pkt.arp.arp_sha, mac, ETH_ALEN);
	memcpy(pkt.arp.arp_spa, &ip, 4);
	memcpy(pkt.arp.arp_tpa, &ip, 4);
	sll.sll_ifindex = ifr.ifr_ifindex;
	sll.sll_halen = ETH_ALEN;
	memset(sll.sll_addr, 0xff, ETH_ALEN);
	if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		r = -errno;
out:
	close(fd);
	return r;
}

int handoff_net_claim(const char *dir, const char *near_addr)
{
	char info[256] = "", addr[80], olddev[IF_NAMESIZE + 1], dev[IF_NAMESIZE + 1] = "";
	char host[96], path[PATH_MAX];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/%s", dir, NET_INFO);
	f = fopen(path, "re");
	if (!f)
		return 0;	/* no service address */
	if (!fgets(info, sizeof(info), f) || sscanf(info, "%79s %16s", addr, olddev) != 2) {
		fclose(f);
		return log_error_errno(-EBADMSG, "bad '%s' in the image", NET_INFO);
	}
	fclose(f);
	r = dev_of(near_addr, dev, sizeof(dev));
	if (r < 0)
		return log_error_errno(r, "no interface holds our address '%s' for service address '%s'",
				       near_addr, addr);
	snprintf(path, sizeof(path), "%s/%s", dir, NET_TABLE);
	if (access(path, F_OK) == 0) {
		char *argv[] = { "nft", "-f", path, NULL };

		r = run_cmd(argv, NULL, 0);
		if (r < 0)
			return log_error_errno(r, "cannot load CRIU's lock table from the image");
	}
	snprintf(host, sizeof(host), "%s/32", addr);
	{
		char *argv[] = { "ip", "addr", "add", host, "dev", dev, NULL };

		r = run_cmd(argv, NULL, 0);
	}
	if (r < 0)
		return log_error_errno(r, "cannot add service address '%s' to '%s'", addr, dev);
	r = garp(addr, dev);
	if (r < 0)
		log_warning_errno(r, "cannot announce '%s' on '%s'", addr, dev);
	log_info("service address %s moved to %s", addr, dev);
	return 0;
}

void handoff_net_drop_lock(void)
{
	char table[128], tname[128];
	char *argv[] = { "nft", "delete", "table", "inet", tname, NULL };

	if (lock_table(table, sizeof(table)) < 0)
		return;
	snprintf(tname, sizeof(tname), "%s", table + strlen("inet "));
	(void)run_cmd(argv, NULL, 0);
}

int handoff_net_unclaim(const char *dir)
{
	char info[256] = "", addr[80], olddev[IF_NAMESIZE + 1], dev[IF_NAMESIZE + 1], host[96];
	char path[PATH_MAX];
	char *argv[] = { "ip", "addr", "del", host, "dev", dev, NULL };
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, NET_INFO);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(info, sizeof(info), f) || sscanf(info, "%79s %16s", addr, olddev) != 2) {
		fclose(f);
		return -EBADMSG;
	}
	fclose(f);
	handoff_net_drop_lock();
	if (dev_of(addr, dev, sizeof(dev)) < 0)
		return 0;
	snprintf(host, sizeof(host), "%s/32", addr);
	return run_cmd(argv, NULL, 0);
}
