# SPDX-License-Identifier: GPL-2.0-or-later
# fusetrace.awk - summarize `strace -f -qq -s 8 -xx` of a FUSE daemon
#
# Counts the FUSE requests the daemon read from /dev/fuse (by opcode, from
# the request header) and the other system calls it made (replies to the
# kernel excluded), per operation.
# Variables: fds = comma-separated /dev/fuse fds, nops = operations done,
#            what = "req" or "sys" (which summary to print).
function hexval(h,    i, v) {
	v = 0
	for (i = 1; i <= length(h); i++)
		v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
	return v
}
function opcode(line,    s) {
	if (!match(line, /"\\x[0-9a-f][0-9a-f]\\x[0-9a-f][0-9a-f]\\x[0-9a-f][0-9a-f]\\x[0-9a-f][0-9a-f]\\x[0-9a-f][0-9a-f]\\x[0-9a-f][0-9a-f]\\x[0-9a-f][0-9a-f]\\x[0-9a-f][0-9a-f]/))
		return
	s = substr(line, RSTART + 1, RLENGTH - 1)
	op = hexval(substr(s, 19, 2)) + 256 * hexval(substr(s, 23, 2))
	req[(op in name) ? name[op] : ("OP" op)]++
	nreq++
}
BEGIN {
	split("LOOKUP FORGET GETATTR SETATTR READLINK SYMLINK - MKNOD MKDIR UNLINK RMDIR RENAME LINK OPEN READ WRITE STATFS RELEASE - FSYNC SETXATTR GETXATTR LISTXATTR REMOVEXATTR FLUSH INIT OPENDIR READDIR RELEASEDIR FSYNCDIR GETLK SETLK SETLKW ACCESS CREATE INTERRUPT BMAP DESTROY IOCTL POLL NOTIFY_REPLY BATCH_FORGET FALLOCATE READDIRPLUS RENAME2 LSEEK COPY_FILE_RANGE SETUPMAPPING REMOVEMAPPING SYNCFS TMPFILE STATX", n, " ")
	for (i in n)
		name[i] = n[i]
	split(fds, f, ",")
	for (i in f)
		fuse[f[i]] = 1
}
{
	tid = $1
	line = $0
	sub(/^[0-9]+ +/, "", line)	# strace pads short thread ids
	if (line ~ /^<\.\.\. [a-z0-9_]+ resumed>/) {
		if (line ~ /^<\.\.\. openat resumed>/ && (tid in pendopen)) {
			delete pendopen[tid]
			if (match(line, /= [0-9]+$/))
				fuse[substr(line, RSTART + 2)] = 1
		}
		if (line ~ /^<\.\.\. read resumed>/ && (tid in pend)) {
			delete pend[tid]
			if (line !~ /= -1/)
				opcode(line)
		}
		next
	}
	if (line !~ /^[a-z0-9_]+\(/)
		next
	sc = line
	sub(/\(.*/, "", sc)
	fd = line
	sub(/^[a-z0-9_]+\(/, "", fd)
	sub(/[,)].*/, "", fd)
	# worker threads may open and clone /dev/fuse (and close it) any time
	if (sc == "openat" && line ~ /"\\x2f\\x64\\x65\\x76\\x2f\\x66\\x75\\x73\\x65"/) {
		if (match(line, /= [0-9]+$/))
			fuse[substr(line, RSTART + 2)] = 1
		else if (line ~ /<unfinished \.\.\.>/)
			pendopen[tid] = 1
		sys[sc]++
		nsys++
		next
	}
	if (sc == "ioctl" && line ~ /FUSE_DEV_IOC_CLONE/)
		fuse[fd] = 1
	if (sc == "close" && (fd in fuse))
		delete fuse[fd]
	if ((sc == "read" || sc == "readv") && (fd in fuse)) {
		if (line ~ /<unfinished \.\.\.>/)
			pend[tid] = 1
		else if (line !~ /= -1/)
			opcode(line)
		next
	}
	if (sc == "splice" && (fd in fuse)) {
		# request spliced out of /dev/fuse: its header is not in the trace
		req["(spliced)"]++
		nreq++
		next
	}
	if ((sc == "writev" || sc == "write") && (fd in fuse))
		next	# reply
	if (sc == "splice") {
		out = line
		sub(/^splice\([0-9]+, [^,]+, /, "", out)
		sub(/,.*/, "", out)
		if (out in fuse)
			next	# spliced reply
	}
	if (sc == "restart_syscall")
		next
	sys[sc]++
	nsys++
}
function show(arr, total,    k, out, cnt, m, best, bk, i, done) {
	out = sprintf("%5.2f:", total / nops)
	cnt = 0
	for (k in arr)
		cnt++
	for (i = 0; i < cnt && i < 10; i++) {
		best = -1
		for (k in arr)
			if (!(k in done) && arr[k] > best) {
				best = arr[k]
				bk = k
			}
		done[bk] = 1
		if (best / nops < 0.005)
			break
		out = out sprintf(" %s %.2f", bk, best / nops)
	}
	return out
}
END {
	if (what == "req")
		print show(req, nreq)
	else
		print show(sys, nsys)
}
