#!/usr/bin/env bash
# Every reference run that the CPU could not afford, at once on one CUDA GPU: one process per run,
# one CPU thread each (the runs are launch-bound, so they share the GPU well).
#
#   bash scripts/reference_runs_cuda.sh [seconds]     # default 3000; runs still going then are stopped
#
# 1. Runs with the committed CPU teacher of split seed 0 (Saved_models/, made by main_teacher.py),
#    logged to logs/citeULike/: URRD_unsampled_K{10,20,40,100}, IR_RRD, DERRD, DERRD_unsampled.
# 2. The multi-seed table, every run on the GPU including its teacher, logged to logs/cuda/citeULike/:
#    teacher, student, DE, URRD, DERRD on split seeds 0, 1, 2 (teacher first, then its students).
# 3. benchmarks/speed.py on the GPU when time is left.
# A run stopped by the time limit keeps its .part logs. Outcomes go to $OUT/status.txt.
set -u
BUDGET=${1:-3000}
DEST=${OUT:-/tmp/reference_runs_cuda}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
mkdir -p "$DEST/stdout"
COMMON=(--device "${DEVICE:-cuda}" --num_threads 1 --quiet)
TABLE=(--log_path logs/cuda/ --save_path Saved_models_cuda/)      # main_teacher.py's flags
DISTILL=("${TABLE[@]}" --teacher_path Saved_models_cuda/)        # the distillation scripts' flags

elapsed() { echo $(( $(date +%s) - START )); }

launch() {  # name script flags...: run until done or the deadline
  local name=$1; shift
  local left=$((DEADLINE - $(date +%s)))
  if [ "$left" -le 5 ]; then echo "$name skipped (no time)" >> "$DEST/status.txt"; return; fi
  timeout "$left" python3 "$@" "${COMMON[@]}" > "$DEST/stdout/$name.txt" 2>&1
  echo "$name rc=$? at $(elapsed)s" >> "$DEST/status.txt"
}

throttle() {  # wait while $MAXJOBS runs (plus the monitor) are going
  while [ "$(jobs -rp | wc -l)" -gt "$MAXJOBS" ]; do sleep 1; done
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$DEST/gpu.txt" 2>&1
python3 -c "import torch, numpy; print(torch.__version__, numpy.__version__, torch.cuda.get_device_name())" >> "$DEST/gpu.txt" 2>&1
MPS=0
# MPS lets the processes' small kernels run side by side; without it they take turns.
if [ "${USE_MPS:-1}" = 1 ] && command -v nvidia-cuda-mps-control > /dev/null; then
  export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps_pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps_log
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  if nvidia-cuda-mps-control -d && timeout 60 python3 -c "import torch; torch.ones(1, device='cuda').sum().item()"; then
    echo "MPS on" >> "$DEST/status.txt"; MPS=1
  else
    echo quit | nvidia-cuda-mps-control; unset CUDA_MPS_PIPE_DIRECTORY CUDA_MPS_LOG_DIRECTORY
    echo "MPS failed, running without" >> "$DEST/status.txt"
  fi
fi

# Smoke: one epoch of each code path; stop at once if any fails.
SMOKE=(--max_epoch 1 --log_path /tmp/smoke/)
launch smoke_DERRD main_DERRD.py "${SMOKE[@]}" --run_name smoke_DERRD &
launch smoke_IR main_URRD.py --IR_reg_lmbda 5e-4 "${SMOKE[@]}" --run_name smoke_IR &
launch smoke_unsampled main_URRD.py --sampling none "${SMOKE[@]}" --run_name smoke_unsampled &
launch smoke_table main_teacher.py --dim 20 "${TABLE[@]}" "${SMOKE[@]}" --save 0 --run_name smoke_table &
wait
if grep -q "smoke.*rc=[^0]" "$DEST/status.txt"; then
  tail -n 30 "$DEST"/stdout/smoke_*.txt; cat "$DEST/status.txt"; exit 1
fi
echo "smoke passed at $(elapsed)s" >> "$DEST/status.txt"
(while true; do nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader >> "$DEST/gpu_util.txt" 2>/dev/null; sleep 10; done) &
MONITOR=$!
RUNS=()

MAXJOBS=$([ "$MPS" = 1 ] && echo 24 || echo 8)   # without MPS the processes take turns on the GPU
for s in 0 1 2; do launch "teacher_LOO$s" main_teacher.py --LOO_seed "$s" "${TABLE[@]}" & TEACHER[$s]=$!; done
throttle; launch DERRD main_DERRD.py & RUNS+=($!)
throttle; launch IR_RRD main_URRD.py --IR_reg_lmbda 5e-4 & RUNS+=($!)
throttle; launch DERRD_unsampled main_DERRD.py --sampling none & RUNS+=($!)
for K in 10 20 40 100; do throttle; launch "URRD_unsampled_K$K" main_URRD.py --sampling none --U_K "$K" & RUNS+=($!); done
for s in 0 1 2; do throttle; launch "student_LOO$s" main_teacher.py --dim 20 --LOO_seed "$s" "${TABLE[@]}" & RUNS+=($!); done
for s in 0 1 2; do   # each seed's distilled students once its teacher is saved
  wait "${TEACHER[$s]}"
  for m in DE URRD DERRD; do
    throttle; launch "${m}_LOO$s" "main_$m.py" --LOO_seed "$s" "${DISTILL[@]}" & RUNS+=($!)
  done
done
wait "${RUNS[@]}"
echo "all runs ended at $(elapsed)s" >> "$DEST/status.txt"

if [ $((DEADLINE - $(date +%s))) -gt 100 ]; then
  timeout $((DEADLINE - $(date +%s) - 10)) python3 benchmarks/speed.py --device cuda --epochs 3 \
    --which student teacher DE URRD IR_RRD URRD_unsampled > "$DEST/speed_cuda.md" 2>&1
fi
kill $MONITOR
tar czf "$DEST/logs.tgz" logs/citeULike/URRD_unsampled_K* logs/citeULike/IR_RRD* logs/citeULike/DERRD* logs/cuda 2>/dev/null
cat "$DEST/status.txt"
