#!/usr/bin/env bash
# Run a jobs file's reference runs one after another on one CPU core; start one queue per core.
#
#   bash scripts/cpu_queue.sh JOBS [RUNNER] [STATE]
#
# JOBS: one run a line, `NAME DATASET [after=N1,N2] SCRIPT FLAGS...`, '#' starts a comment. NAME must be
# the log name the flags give (check with `python -m Utils.experiments RUN --dry_run`): a run is done once
# RUNNER/logs/DATASET/NAME.jsonl exists. after= names runs whose logs must exist first (of any queue;
# NAME: of the line's dataset, or DATASET/NAME); the queue looks again every QUEUE_WAIT_S seconds
# (default 300). RUNNER (default: here) is the folder the runs run in, a worktree at the reference runs'
# commit. STATE (default RUNNER/runs/cpu_queue) holds each run's output, out.DATASET.NAME.txt, and its
# markers: running.DATASET.NAME while it runs (holding the queue's PID: a marker whose queue is gone, as after
# a lost session, is removed with a note), failed.DATASET.NAME when it ended without a log (remove
# it to try again; until then the runs that name it in after= are not started, the others go on).
# Each run gets `--log_path logs/` and, unless its line says otherwise, `--num_threads 1`.
# JOBS is read again after every run, so lines can be added or reordered while it works. The same
# command continues after an interruption: an unfinished run continues from its resume file. It exits when
# nothing is left to start.
# Ray's runner (`python -m Utils.experiments`) schedules registry runs over the cores as well; this keeps
# each core's order fixed and takes any script and flags.
set -u
JOBS=$(realpath "$1"); RUNNER=$(realpath "${2:-.}"); STATE="${3:-$RUNNER/runs/cpu_queue}"
mkdir -p "$STATE"; STATE=$(realpath "$STATE")
export PYTHONUNBUFFERED=1

running_elsewhere() {   # a running marker whose queue is alive; a stale one (its queue gone) is removed
  local marker="$STATE/running.$1" pid
  [[ -e "$marker" ]] || return 1
  pid=$(<"$marker")
  if [[ "$pid" =~ ^[0-9]+$ ]] && ! ps -p "$pid" -o args= 2>/dev/null | grep -q 'cpu_queue\.sh'; then
    rm -f "$marker"
    echo "$(date '+%F %T') note: removed $marker, left by queue $pid that is gone" >&2
    return 1
  fi
  return 0
}

next_job() {   # the first runnable line as NAME DATASET SCRIPT FLAGS; WAIT: only waiting ones; exit 1: none left
  local name dataset rest after dep blocked waiting=0
  while read -r name dataset rest; do
    [[ -z "${name:-}" || "$name" == \#* ]] && continue
    [[ -e "$RUNNER/logs/$dataset/$name.jsonl" ]] && continue
    running_elsewhere "$dataset.$name" && continue
    [[ -e "$STATE/failed.$dataset.$name" ]] && continue
    after=
    if [[ "$rest" == after=* ]]; then after=${rest%% *}; after=${after#after=}; rest=${rest#* }; fi
    blocked=0
    for dep in ${after//,/ }; do
      [[ "$dep" == */* ]] || dep="$dataset/$dep"
      if [[ -e "$STATE/failed.${dep/\//.}" ]]; then blocked=2           # can never start: not waited for
      elif [[ ! -e "$RUNNER/logs/$dep.jsonl" ]] && (( blocked == 0 )); then blocked=1; fi
    done
    (( blocked == 1 )) && waiting=1
    (( blocked )) && continue
    echo "$name $dataset $rest"; return 0
  done < "$JOBS"
  (( waiting )) && { echo WAIT; return 0; }
  return 1
}

while line=$(next_job); do
  if [[ "$line" == WAIT ]]; then sleep "${QUEUE_WAIT_S:-300}"; continue; fi
  read -r name dataset rest <<< "$line"
  run="$dataset.$name"
  echo $$ > "$STATE/running.$run"
  echo "$(date '+%F %T') start $dataset/$name: python $rest"
  [[ " $rest " == *" --num_threads "* ]] || rest="$rest --num_threads 1"       # a line may ask for more
  threads=$(sed 's/.*--num_threads \([0-9]*\).*/\1/' <<< "$rest")
  (cd "$RUNNER" && OMP_NUM_THREADS=$threads python $rest --log_path logs/) > "$STATE/out.$run.txt" 2>&1
  rc=$?
  rm -f "$STATE/running.$run"
  if [[ -e "$RUNNER/logs/$dataset/$name.jsonl" ]]; then echo "$(date '+%F %T') done $dataset/$name"
  else touch "$STATE/failed.$run"; echo "$(date '+%F %T') FAILED $dataset/$name (rc $rc): $STATE/out.$run.txt"; fi
done
echo "$(date '+%F %T') nothing left to start in $JOBS"
