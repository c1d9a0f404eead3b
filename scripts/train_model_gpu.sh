#!/usr/bin/env bash
# Train the shipped lesion model on a GPU machine, then measure it there (accuracy and GPU latency per click).
#
#   scripts/train_model_gpu.sh OUT_DIR [MINUTES] [WORKERS] [TRAINER OPTIONS...]
#
# e.g. `scripts/train_model_gpu.sh /tmp/o 6.5 14 --init models/lesion_seg --lr 6e-4 --seed 20261127` continues from
# the shipped weights; `scripts/train_model_gpu.sh /tmp/o 7 14 --channels 24,48,96,192,384` trains a wider network
# from scratch. Environment: BENCH_FIRST (bundles to benchmark before training, e.g. the shipped one, which
# also checks the GPU path early), BENCH_AFTER (default: both new bundles; "" for none), BENCH_LESIONS (default 20),
# PACK_DIR (a folder to put both bundles into as one tar in parts of at most 15 MiB, for a transfer that limits file
# sizes: the device tool fetches files of up to 16 MiB, and a wider network's model.pt is over 20 MB; here, join
# them with `cat PACK_DIR/bundles.tar.part-* | tar xf -`).
#
# Needs python3 with torch (CUDA), numpy, scipy and MONAI importable (PYTHONPATH may point at a folder of wheels
# installed with pip --target). Writes OUT_DIR/lesion_seg and OUT_DIR/lesion_seg_ema (bundles), OUT_DIR/train.log
# (with the benchmark output). Choose between the bundles on a validation seed (not the benchmark's), copy it to
# models/lesion_seg and measure it on the CPU with benchmarks/bench_segmentation.py.
set -uo pipefail
out=${1:?OUT_DIR}
minutes=${2:-7}
workers=${3:-14}
shift $(($# < 3 ? $# : 3))
here=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee "$out/train.log"
device=$(python3 -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")
bench() {
  echo "== benchmark $1 on $device ==" | tee -a "$out/train.log"
  python3 "$here/benchmarks/bench_segmentation.py" --engines monai --device "$device" --bundle "$1" \
    --lesions "${BENCH_LESIONS:-20}" --seed 777 --threads 4 2>&1 | tee -a "$out/train.log"
}
for b in ${BENCH_FIRST:-}; do bench "$b"; done
python3 -m segmentation.training.parallel "$out/lesion_seg" "$minutes" "$workers" 8 "$@" 2>&1 | tee -a "$out/train.log"
for b in ${BENCH_AFTER-$out/lesion_seg $out/lesion_seg_ema}; do bench "$b"; done
if [ -n "${PACK_DIR:-}" ]; then
  mkdir -p "$PACK_DIR"
  tar cf - -C "$out" lesion_seg lesion_seg_ema | split -b 15M - "$PACK_DIR/bundles.tar.part-"
  cp "$out/train.log" "$PACK_DIR/"
  ls -la "$PACK_DIR"
fi
