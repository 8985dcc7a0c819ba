#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run.sh - many seeds of modeltest.py through path failures: one stack
# (store -> faultfs -> lifeboatfs), a fresh subdir per seed, each seed with
# its own failure kind (EIO, ENOTCONN, ESTALE, ETIMEDOUT, EROFS on all or
# write ops) injected at a random op and healed later; every
# ABSORB_KILL_EVERY-th seed SIGKILLs lifeboatfs mid-outage and remounts it
# with the same journal after healing. At the end the whole mount and store
# are compared with the whole mirror once more (later failures must not
# have disturbed earlier seeds).
#
# Environment: ABSORB_SEEDS (100), ABSORB_FIRST_SEED (1), ABSORB_OPS per
# thread (100), ABSORB_THREADS (3), ABSORB_KILL_EVERY (4, 0 = never),
# ABSORB_KINDS (EIO ENOTCONN ESTALE ETIMEDOUT EROFS STALL; STALL is a stall
# that ends in EIO), ABSORB_MAX_FAILURES (5: stop after that many seeds
# failed), ABSORB_MAX_OUTAGE (1 s), ABSORB_NO_FAULTS=1 (healthy path only,
# also runs a lifeboatfs without absorb options), ABSORB_LB_OPTS.
set -uo pipefail
# path_timeout below the longest outage, so that stalls are caught by it
ABSORB_LB_OPTS=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=20,on_hold_timeout=eio,path_timeout=0.5}
source "$(dirname "$0")/lib-absorb.sh"

SEEDS=${ABSORB_SEEDS:-100}
FIRST=${ABSORB_FIRST_SEED:-1}
OPS=${ABSORB_OPS:-100}
THREADS=${ABSORB_THREADS:-3}
KILL_EVERY=${ABSORB_KILL_EVERY:-4}
MAX_FAILURES=${ABSORB_MAX_FAILURES:-5}
MAX_OUTAGE=${ABSORB_MAX_OUTAGE:-1.0}
NO_FAULTS=${ABSORB_NO_FAULTS:-0}
read -r -a KINDS <<<"${ABSORB_KINDS:-EIO ENOTCONN ESTALE ETIMEDOUT EROFS STALL}"

ab_init "absorb-${ABSORB_NAME:-run}"
ab_stack_up
KILL_SCRIPT=$(ab_kill_script) || exit 1
MODELTEST=$AB_DIR/modeltest.py
failed=()
ok=0
t_start=$SECONDS

# fault_cmd SEED: the fail command for this seed, deterministic.
fault_cmd()
{
	local seed=$1 kind classes after

	kind=${KINDS[$(((seed * 7 + 3) % ${#KINDS[@]}))]}
	classes=all
	((seed / ${#KINDS[@]} % 2)) && classes=write
	# half the seeds: the fault fires inside a burst, N store ops later
	after=$((seed % 2 ? (seed * 13) % 40 : 0))
	if [[ "$kind" == STALL ]]; then
		echo "$FAULTCTL $AB_CTL stall $classes then=EIO after=$after"
	else
		echo "$FAULTCTL $AB_CTL fail $kind $classes after=$after"
	fi
}

run_seed()
{
	local seed=$1 log=$LB_WORK/seed-$1.log args rc mode=fault

	mkdir "$AB_MIRROR/s$seed" && mkdir "$AB_MNT/s$seed" || {
		echo "seed $seed: cannot make its dirs" >&2
		return 1
	}
	args=(--mnt "$AB_MNT/s$seed" --mirror "$AB_MIRROR/s$seed" --store "$AB_STORE/s$seed"
	      --seed "$seed" --threads "$THREADS" --ops "$OPS" --max-outage "$MAX_OUTAGE"
	      --trace "$LB_WORK/seed-$seed.trace" --op-timeout 30 --settle-timeout 20 --abort-cmd "umount -f '$AB_MNT'")
	[[ -e "$AB_STATUS" ]] && args+=(--status "$AB_STATUS")
	((seed % 10 == 0)) && args+=(--drop-caches)
	if ((NO_FAULTS)); then
		mode=healthy
	elif ((KILL_EVERY > 0 && seed % KILL_EVERY == 0)); then
		mode=kill
		args+=(--fail-cmd "$(fault_cmd "$seed")" --kill-cmd "$KILL_SCRIPT")
	else
		args+=(--fail-cmd "$(fault_cmd "$seed")" --heal-cmd "$FAULTCTL $AB_CTL heal")
	fi
	python3 "$MODELTEST" "${args[@]}" >"$log" 2>&1
	rc=$?
	if ((rc > 128)); then
		echo "FAIL: modeltest killed by signal $((rc - 128)); last ops:" >>"$log"
		tail -n 6 "$LB_WORK/seed-$seed.trace" | sed 's/^/  /' >>"$log"
	fi
	[[ "$mode" == kill ]] && ab_adopt_pid
	ab_lb_died "during seed $seed ($mode)" 2>>"$log" && rc=1
	if ((rc != 0)); then
		echo "=== seed $seed ($mode) FAILED (rc $rc), log '$log':" >&2
		grep -E '^(FAIL|DIFF|FAILED|HISTORY|  |#)' "$log" | head -n 80 >&2
		return 1
	fi
	lb_log "seed $seed ($mode): $(grep '^# seed .*ops in' "$log" | cut -c3-)"
	return 0
}

for ((seed = FIRST; seed < FIRST + SEEDS; seed++)); do
	if ab_lb_died "before seed $seed"; then
		lb_log_tail "${LB_LOGS[-1]}"
		ab_stack_restart
	fi
	if run_seed "$seed"; then
		ok=$((ok + 1))
	else
		failed+=("$seed")
		lb_log "restarting the stack after seed $seed"
		ab_ctl heal >/dev/null
		ab_stack_restart
	fi
	if ((${#failed[@]} >= MAX_FAILURES)); then
		lb_log "stopping after ${#failed[@]} failed seeds"
		break
	fi
	# no outage may outlive its seed
	ab_ctl heal >/dev/null
done

lb_log "final check of every seed's tree (mount and store against the mirror)"
args=(--compare-only --mnt "$AB_MNT" --mirror "$AB_MIRROR" --store "$AB_STORE" --drop-caches)
[[ -e "$AB_STATUS" ]] && args+=(--status "$AB_STATUS")
python3 "$MODELTEST" "${args[@]}" >"$LB_WORK/final.log" 2>&1
rc=$?
ab_lb_died "during the final check" 2>>"$LB_WORK/final.log" && rc=1
if ((rc != 0)); then
	# trees of seeds that failed already differ; show the rest
	grep -E '^(FAIL|DIFF)' "$LB_WORK/final.log" | head -n 30 >&2
	[[ ${#failed[@]} -ne 0 ]] && grep -q 'lifeboatfs .* died' "$LB_WORK/final.log" && failed+=(final)
	[[ ${#failed[@]} -eq 0 ]] && failed+=(final)
fi
lb_log "$ok seeds passed in $((SECONDS - t_start))s, failed: ${failed[*]:-none}"
((${#failed[@]} == 0)) || lb_fail "seeds failed: ${failed[*]} (logs in '$LB_WORK')"
echo "PASS"
