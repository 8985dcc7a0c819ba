#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-tcp.sh - a process set started with --service-ip keeps an established
# TCP connection across a local checkpoint and restore (CRIU
# --tcp-established, network locked with nftables while it is dumped): the
# client, outside the set, sends on the same connection before and after
# and gets its answers; the connection is never reset.
LD_NAME=tcp
. "$(dirname "$0")/lib-daemon.sh"

ld_init
ld_need_criu
command -v nft >/dev/null || skip "no nft (nftables): CRIU locks the network with it"
ld_config
ld_start
name=tcp-$$
cat >"$LD_W/work/echo.py" <<'PY'
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    while True:
        d = c.recv(100)
        if not d:
            break
        c.sendall(b"echo:" + d)
    c.close()
PY
"$LIFEBOAT" run --name "$name" --service-ip 127.0.0.1 --cwd "$LD_W/work" -- python3 echo.py >/dev/null
for _ in $(seq 100); do [[ -s "$LD_W/logs/$name.stdout" ]] && break; sleep 0.05; done
port=$(head -n1 "$LD_W/logs/$name.stdout")
[[ "$port" =~ ^[0-9]+$ ]] || fail "the echo server did not start: $(cat "$LD_W/logs/$name.stderr")"

log "client on port $port: send, checkpoint, restore, send again on the same connection"
python3 - "$port" "$LIFEBOAT" "$name" <<'PY' || fail "the connection did not survive"
import socket, subprocess, sys
port, lifeboat, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
c = socket.create_connection(("127.0.0.1", port), timeout=10)
c.sendall(b"before")
assert c.recv(100) == b"echo:before"
for op in ("checkpoint", "restore"):
    r = subprocess.run([lifeboat, op, name], capture_output=True, text=True)
    assert r.returncode == 0, (op, r.stderr)
c.sendall(b"after")
got = c.recv(100)
assert got == b"echo:after", got
print("connection kept:", got.decode())
PY
[[ "$(ld_ps_field "$name" state)" == running ]] || fail "the set is not running after restore"
! nft list tables 2>/dev/null | grep -q "CRIU-" || fail "CRIU left a lock table behind: $(nft list tables)"
"$LIFEBOAT" stop "$name" >/dev/null
ld_done
