#!/usr/bin/env bash
# Two training runs side by side on one GPU machine, each with half the CPU cores as patch renderers, then the four
# bundles (last and averaged weights of each) packed for the trip back.
#
#   scripts/train_two_gpu.sh OUT_DIR MINUTES "RUN A OPTIONS" "RUN B OPTIONS"
#
# e.g. scripts/train_two_gpu.sh /tmp/o 7.3 "--init models/lesion_seg --lr 4e-4 --hard 0.4 --seed 20261129" \
#        "--init models/lesion_seg --lr 3e-4 --hard 0.7 --seed 20261130"
# writes OUT_DIR/a, OUT_DIR/a_ema, OUT_DIR/b, OUT_DIR/b_ema and their logs. PACK_DIR: as in train_model_gpu.sh (the
# bundles as one tar in parts of at most 15 MiB; join them with `cat PACK_DIR/bundles.tar.part-* | tar xf -`).
# Needs python3 with torch (CUDA), numpy, scipy and MONAI importable. Choose between the bundles on the validation
# seeds (never the benchmark's), as train_model_gpu.sh says.
set -uo pipefail
out=${1:?OUT_DIR}
minutes=${2:?MINUTES}
a=${3:?RUN A OPTIONS}
b=${4:?RUN B OPTIONS}
here=$(cd "$(dirname "$0")/.." && pwd)
# Counted before OMP_NUM_THREADS is set: GNU nproc reports that number when it is (a first run here got 0 renderers).
workers=$((($(env -u OMP_NUM_THREADS nproc) - 2) / 2))
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$out/gpu.txt" 2>&1
limit=$(python3 -c "print(int($minutes * 60 + 90))")
cd "$here"
# shellcheck disable=SC2086  # the run options are words on purpose
timeout "$limit" python3 -m segmentation.training.parallel "$out/a" "$minutes" "$workers" 8 $a >"$out/a.log" 2>&1 &
# shellcheck disable=SC2086
timeout "$limit" python3 -m segmentation.training.parallel "$out/b" "$minutes" "$workers" 8 $b >"$out/b.log" 2>&1 &
wait
tail -n 4 "$out/a.log" "$out/b.log"
if [ -n "${PACK_DIR:-}" ]; then
  mkdir -p "$PACK_DIR"
  tar cf - -C "$out" a a_ema b b_ema | split -b 15M - "$PACK_DIR/bundles.tar.part-"
  cp "$out/gpu.txt" "$out/a.log" "$out/b.log" "$PACK_DIR/"
  ls -la "$PACK_DIR"
fi
