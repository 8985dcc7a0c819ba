#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-refuse.sh - what lifeboatd refuses: a caller that is not root (by
# the socket's mode, and by SO_PEERCRED when the mode would let it in), a
# frame of another protocol version, an oversized or malformed frame, and
# a bad config, whose errors name FILE:LINE and the key.
LD_NAME=refuse
. "$(dirname "$0")/lib-daemon.sh"

ld_init
command -v setpriv >/dev/null || skip "no setpriv (util-linux)"

# --- bad configs: FILE:LINE and the key, nothing started
check_config()	# WANT LINES...
{
	local want=$1 conf=$LD_W/bad.conf
	shift
	printf '%s\n' "$@" >"$conf"
	if "$LIFEBOATD" --check-config -c "$conf" >"$LD_W/out" 2>&1; then
		fail "config accepted: $*"
	fi
	grep -qF -- "$want" "$LD_W/out" || fail "config error without '$want': $(cat "$LD_W/out")"
}
log "bad configs"
check_config "bad.conf:3: unknown key 'nmae' in section [node]" "[node]" "name = a" "nmae = b"
check_config "bad.conf:2: 'stop_timeout' must be a number from 1 to 3600, not 'soon'" "[node]" "stop_timeout = soon" "name = a"
check_config "bad.conf:4: syntax error" "[node]" "name = a" "" "this line has no equals sign"
check_config "bad.conf:3: unknown section [pear b]" "[node]" "name = a" "[pear b]" "address = 1.2.3.4:5"
check_config "bad.conf:4: 'psk' must be 64 hex digits" "[node]" "name = a" "[peer b]" "psk = 1234" "address = 10.0.0.2:7890"
check_config "bad.conf:4: 'address' must be HOST:PORT" "[node]" "name = a" "[peer b]" "address = 10.0.0.2"
check_config "bad.conf:4: 'path' must be an absolute path" "[node]" "name = a" "[mount data]" "path = relative/dir"
check_config "bad.conf:5: section [peer b] appears twice" "[node]" "name = a" "[peer b]" "address = h:1" "[peer b]"
check_config "bad.conf: [node] 'name' is required" "[node]" "state_dir = /tmp"
rm -f "$LD_W/bad.conf"
if "$LIFEBOATD" --check-config -c "$LD_W/bad.conf" >"$LD_W/out" 2>&1; then fail "missing config accepted"; fi
grep -q "cannot open '$LD_W/bad.conf'" "$LD_W/out" || fail "missing config: $(cat "$LD_W/out")"

log "lifeboatd does not start on a bad config"
ld_config "bogus_key = 1"
if "$LIFEBOATD" -c "$LD_W/lifeboat.conf" >"$LD_W/out" 2>&1; then fail "lifeboatd started on a bad config"; fi
grep -q "lifeboat.conf:9: unknown key 'bogus_key'" "$LD_W/out" || fail "bad config at start: $(cat "$LD_W/out")"
[[ ! -e "$LIFEBOAT_SOCKET" ]] || fail "a control socket was made for a bad config"

log "a good config with peers and mounts passes the check"
psk=$(printf '%064x' 7)
ld_config "[peer b]" "address = [fd00::2]:7890" "psk = $psk" "[mount data]" "path = $LD_W/mnt" \
	"journal = file://$LD_W/journal"
"$LIFEBOATD" --check-config -c "$LD_W/lifeboat.conf" | grep -q "1 peer(s), 1 mount(s)" || fail "good config refused"

ld_start

log "an unprivileged caller: refused by the socket's mode"
if setpriv --reuid=65534 --regid=65534 --clear-groups "$LIFEBOAT" ping 2>"$LD_W/err"; then
	fail "uid 65534 reached lifeboatd through a root-only socket"
fi
grep -q "Permission denied" "$LD_W/err" || fail "unprivileged connect: $(cat "$LD_W/err")"
[[ "$(stat -c %a "$LIFEBOAT_SOCKET")" == 600 ]] || fail "socket mode is $(stat -c %a "$LIFEBOAT_SOCKET")"

log "an unprivileged caller: refused by SO_PEERCRED when the mode lets it connect"
chmod 0755 "$LD_W" "$(dirname "$LIFEBOAT_SOCKET")"
chmod 0666 "$LIFEBOAT_SOCKET"
if setpriv --reuid=65534 --regid=65534 --clear-groups "$LIFEBOAT" run --name evil -- true 2>"$LD_W/err"; then
	fail "uid 65534 was served by lifeboatd"
fi
grep -q "root-only (caller uid 65534)" "$LD_W/err" || fail "SO_PEERCRED refusal: $(cat "$LD_W/err")"
[[ -z "$(ld_ps_field evil name)" ]] || fail "the unprivileged request started a process set"
grep -q "refused a caller with uid 65534" "$LD_W/lifeboatd.log" || fail "lifeboatd did not log the refusal"
chmod 0600 "$LIFEBOAT_SOCKET"
chmod 0700 "$LD_W" "$(dirname "$LIFEBOAT_SOCKET")"

log "frames: another version, oversized, malformed"
python3 - "$LIFEBOAT_SOCKET" <<'PY' || fail "frame checks failed"
import errno, json, socket, struct, sys

MAGIC = 0x4c42434f

def call(raw):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sys.argv[1])
    s.sendall(raw)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    if len(data) < 12:
        return None
    magic, ver, res, length = struct.unpack(">IHHI", data[:12])
    assert magic == MAGIC and ver == 1, (magic, ver)
    return json.loads(data[12:12 + length])

def frame(body, ver=1, length=None, magic=MAGIC):
    return struct.pack(">IHHI", magic, ver, 0, len(body) if length is None else length) + body

ok = call(frame(b'{"op":"ping"}'))
assert ok["ok"] is True, ok
r = call(frame(b'{"op":"ping"}', ver=2))
assert r and not r["ok"] and r["errno"] == errno.EPROTONOSUPPORT and "version 2" in r["error"], r
r = call(frame(b"", length=1 << 30))
assert r and not r["ok"] and r["errno"] == errno.EMSGSIZE, r
r = call(frame(b'{"op":"ping"} trailing'))
assert r and not r["ok"] and r["errno"] == errno.EBADMSG, r
r = call(frame(b'["op","ping"]'))
assert r and not r["ok"] and r["errno"] == errno.EBADMSG, r
r = call(frame(b'{"op":"ping"}', magic=0x12345678))
assert r and not r["ok"] and r["errno"] == errno.EPROTO, r
r = call(frame(b'{"op":"format-disk"}'))
assert r and not r["ok"] and "unknown op" in r["error"], r
r = call(frame(json.dumps({"op": "run", "name": "x", "argv": ["a"] * 5000, "cwd": "/"}).encode()))
assert r and not r["ok"] and "'argv'" in r["error"], r
print("frames refused as expected")
PY
"$LIFEBOAT" ping >/dev/null || fail "lifeboatd does not answer after the refusals"
ld_done
