#!/usr/bin/env bash
# Reference runs at once on one CUDA GPU, then the speed benchmark alone on the same GPU.
#
#   bash scripts/reference_runs_cuda.sh JOBS [seconds] [benchmark seconds]
#
# JOBS is a file with one run per line, "<name> <entry script> <flags...>", written from the registry:
#   python -m Utils.registry jobs DCD FTD HTD --seeds 0 1 2 > jobs.txt
# (scripts/jobs_*.txt are the files of past sessions; a grid point off the registry is a hand-written line).
# Every run learns from the CPU-trained teacher of its split, found in Saved_models/ (carry it there:
# the GPU would train a different one), and logs to logs/<dataset>/ (a reference run). One process
# and one CPU thread per run, side by side under MPS when available (the runs are launch-bound).
# First every command runs one epoch into /tmp/smoke (any failure stops the script); the runs still
# going when [seconds] minus [benchmark seconds] have passed are stopped (their logs stay *.part);
# then `benchmarks/speed.py --device cuda` times each method alone. Outcomes and logs go to $OUT
# (status.txt, gpu.txt, speed_cuda.md, logs.tgz, stdout.tgz).
set -u
JOBS=$1
BUDGET=${2:-570}
BENCH=${3:-150}
DEST=${OUT:-/tmp/reference_runs_cuda}
START=$(date +%s)
RUNS_DEADLINE=$((START + BUDGET - BENCH))
mkdir -p "$DEST/stdout"
COMMON=(--device "${DEVICE:-cuda}" --num_threads 1 --quiet)
elapsed() { echo $(( $(date +%s) - START )); }

launch() {  # name deadline script flags...
  local name=$1 deadline=$2; shift 2
  local left=$((deadline - $(date +%s)))
  if [ "$left" -le 5 ]; then echo "$name skipped (no time)" >> "$DEST/status.txt"; return; fi
  timeout "$left" python3 "$@" "${COMMON[@]}" > "$DEST/stdout/$name.txt" 2>&1
  echo "$name rc=$? at $(elapsed)s" >> "$DEST/status.txt"
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c "import torch, numpy; print(torch.__version__, numpy.__version__, torch.cuda.get_device_name())"
  nproc; } > "$DEST/gpu.txt" 2>&1
if [ "${USE_MPS:-1}" = 1 ] && command -v nvidia-cuda-mps-control > /dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d && timeout 60 python3 -c "import torch; torch.ones(1, device='cuda').sum().item()"; then
    echo "MPS on" >> "$DEST/status.txt"
  else
    echo quit | nvidia-cuda-mps-control; unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    echo "MPS failed, running without" >> "$DEST/status.txt"
  fi
fi

while read -r name script flags; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  # shellcheck disable=SC2086
  launch "smoke_$name" $((START + 120)) "$script" $flags --max_epoch 1 --log_path /tmp/smoke/ --run_name "smoke_$name" &
done < "$JOBS"
wait
if grep -q "smoke.*rc=[^0]" "$DEST/status.txt"; then
  tail -n 20 "$DEST"/stdout/smoke_*.txt; cat "$DEST/status.txt"; exit 1
fi
echo "smoke passed at $(elapsed)s" >> "$DEST/status.txt"

while read -r name script flags; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  # shellcheck disable=SC2086
  launch "$name" "$RUNS_DEADLINE" "$script" $flags --log_path logs/ &
done < "$JOBS"
wait
echo "runs ended at $(elapsed)s" >> "$DEST/status.txt"

left=$((START + BUDGET - $(date +%s) - 10))
if [ "$left" -gt 30 ]; then
  timeout "$left" python3 benchmarks/speed.py --device cuda --epochs 3 --split_seed "${BENCH_SPLIT:-1}" \
    --which ${BENCH_METHODS:-student teacher URRD RD CD DE DERRD} > "$DEST/speed_cuda.md" 2>&1
  echo "benchmark rc=$? at $(elapsed)s" >> "$DEST/status.txt"
fi
tar czf "$DEST/logs.tgz" logs
tar czf "$DEST/stdout.tgz" -C "$DEST" stdout && rm -r "$DEST/stdout"
cat "$DEST/status.txt"
