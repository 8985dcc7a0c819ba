#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# soak.sh - the long run of run.sh: more seeds, more ops, more threads,
# longer outages, and stalls that end in EIO among the failure kinds.
#
#   soak.sh [SEEDS [OPS_PER_THREAD [THREADS [FIRST_SEED]]]]   (1000 400 4 1000)
#
# Not registered with meson; run it by hand as root after a build.
set -uo pipefail
export ABSORB_SEEDS=${1:-1000}
export ABSORB_OPS=${2:-400}
export ABSORB_THREADS=${3:-4}
export ABSORB_FIRST_SEED=${4:-1000}
export ABSORB_KINDS=${ABSORB_KINDS:-EIO ENOTCONN ESTALE ETIMEDOUT EROFS EHOSTDOWN EREMOTEIO STALL}
export ABSORB_MAX_OUTAGE=${ABSORB_MAX_OUTAGE:-4}
export ABSORB_MAX_FAILURES=${ABSORB_MAX_FAILURES:-20}
export ABSORB_KILL_EVERY=${ABSORB_KILL_EVERY:-3}
export ABSORB_LB_OPTS=${ABSORB_LB_OPTS:-queue_budget=256K,flush_interval=0.5,hold=30,on_hold_timeout=eio,path_timeout=1}
export ABSORB_NAME=soak
exec "$(dirname "$0")/run.sh"
