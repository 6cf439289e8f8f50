#!/usr/bin/env bash
# Run a jobs file's training runs side by side on a lent GPU machine, stop them all at a deadline, and
# pack their logs into one archive (the machine is bare and given back afterwards; Ray is not installed
# there, so this stands in for `python -m Utils.experiments` on such a machine).
#
#   bash scripts/lent_gpu.sh JOBS [DEADLINE_S] [OUT_DIR]
#
# JOBS: one run a line, `NAME AFTER SCRIPT FLAGS...`; AFTER is `-` or a comma list of NAMEs that must
# have finished (exit 0) first; '#' starts a comment. Each run gets `--log_path runs/lent_gpu/
# --run_name NAME --num_threads 1 --device cuda` (DEVICE=cpu for a smoke test here; NAME is the log's name) and its output goes to
# runs/lent_gpu/out/NAME.txt. At DEADLINE_S seconds (default 520) every run still going is stopped;
# runs/lent_gpu/ (logs, outputs; resume files left out) is packed into OUT_DIR/lent_gpu.tar.gz (default
# $OUT, the device tool's folder) with a summary of what finished.
# It ends early when nothing runs and nothing can start (the rest wait on a run that failed).
# The same command again on the still-warm machine continues: a run whose finished log is there counts as
# done (its dependants start), the others continue from their resume files. MPS=1: see below.
set -u
JOBS="$1"; DEADLINE="${2:-520}"; DEST="${3:-${OUT:?give OUT_DIR}}"
LOGS=runs/lent_gpu; mkdir -p "$LOGS/out" "$DEST"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
PY=$(command -v python3 || command -v python)
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }

nvidia-smi -L || true
# MPS=1 lets the runs' small kernels overlap, but under MPS one run's CUDA fault ends every run on the GPU
# (2026-12-04, H200: LightGCN's sparse backward faulted 24 s in, an illegal address, and the other six
# runs died with it; without MPS, LightGCN, the kds teacher and UAE then ran side by side without a fault),
# so it is off unless asked for.
if [[ "${MPS:-0}" == 1 ]] && nvidia-cuda-mps-control -d 2>/dev/null; then
  if timeout 60 "$PY" -c "import torch; torch.zeros(1, device='cuda').sum().item()"; then echo "MPS on"
  else echo quit | nvidia-cuda-mps-control; echo "MPS unusable: off"; fi
fi

declare -A AFTER CMD PID RC
ORDER=()
while read -r name after script flags; do
  [[ -z "${name:-}" || "$name" == \#* ]] && continue
  ORDER+=("$name"); AFTER[$name]="$after"
  CMD[$name]="$PY $script $flags --log_path $LOGS/ --run_name $name --num_threads 1 --device ${DEVICE:-cuda}"
done < "$JOBS"

ready() {   # all of $1's prerequisites finished with exit 0
  local dep; [[ "${AFTER[$1]}" == "-" ]] && return 0
  for dep in ${AFTER[$1]//,/ }; do [[ "${RC[$dep]:-}" == 0 ]] || return 1; done
}

while (( $(elapsed) < DEADLINE )); do
  running=0
  for name in "${ORDER[@]}"; do
    if [[ -n "${PID[$name]:-}" && -z "${RC[$name]:-}" ]] && ! kill -0 "${PID[$name]}" 2>/dev/null; then
      wait "${PID[$name]}"; RC[$name]=$?; echo "$(elapsed) s: $name ended rc=${RC[$name]}"
    fi
    if [[ -z "${PID[$name]:-}" ]] && compgen -G "$LOGS/*/$name.jsonl" > /dev/null; then
      PID[$name]=earlier; RC[$name]=0; echo "$(elapsed) s: $name finished in an earlier call"
    fi
    if [[ -z "${PID[$name]:-}" ]] && ready "$name"; then
      ${CMD[$name]} > "$LOGS/out/$name.txt" 2>&1 & PID[$name]=$!
      echo "$(elapsed) s: $name started: ${CMD[$name]}"
    fi
    [[ -n "${PID[$name]:-}" && -z "${RC[$name]:-}" ]] && running=1
  done
  (( running )) || break      # nothing runs and nothing can start: all done, or the rest wait on a failed run
  sleep 2
done

for name in "${ORDER[@]}"; do
  if [[ -n "${PID[$name]:-}" && -z "${RC[$name]:-}" ]]; then
    kill "${PID[$name]}" 2>/dev/null; RC[$name]="stopped at the deadline"
  fi
done
sleep 3
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv || true
{
  echo "elapsed $(elapsed) s (deadline $DEADLINE s)"
  for name in "${ORDER[@]}"; do
    echo "$name: ${RC[$name]:-not started}; $(tail -n 1 "$LOGS/out/$name.txt" 2>/dev/null)"
  done
} | tee "$LOGS/summary.txt"
tar -czf "$DEST/lent_gpu.tar.gz" --exclude='*.resume.pt*' -C runs lent_gpu
ls -la "$DEST"
