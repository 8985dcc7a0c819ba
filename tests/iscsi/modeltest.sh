#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# modeltest.sh - the randomized model test of the absorb tests
# (../absorb/run.sh: random operations in three threads, a path failure at a
# random moment, every 4th seed a SIGKILL and remount mid-outage) with the
# journal on an iSCSI LUN over the second portal instead of a local file.
# Environment: as run.sh (ABSORB_SEEDS, ABSORB_FIRST_SEED, ...).
set -uo pipefail
source "$(dirname "$0")/lib-iscsi.sh"

is_init iscsi-model
is_tgtd_start
opts=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=20,on_hold_timeout=eio,path_timeout=5}
# the later journal= wins over the one run.sh puts first
ABSORB_LB_OPTS="$opts,journal=$IS_URL" ABSORB_NAME=iscsi-run "$AB_DIR/run.sh"
rc=$?
lb_log "run.sh with the journal on '$IS_URL': exit $rc"
exit "$rc"
