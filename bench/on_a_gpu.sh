#!/usr/bin/env bash
# The GPU figures issue 10 asks for, in one call of a lent device (its time is scarce: 15 minutes
# a task, start-up included). Run from the repository root; every result lands in $OUT (the
# device tool's folder; ./gpu-results here) as JSON, all progress rows in progress.log (the tool
# brings back 8 files at most).
# Steps run in order of what is least known, each under its own time limit, so a cut-off run
# still leaves the steps before it:
#   1. fidelity of packed members on CUDA (first: a wrong number makes the rest moot);
#   2. packing throughput, MNIST-size MLP and digits MLP, K up to 256;
#   3. packing throughput, synthetic-text LSTM, K up to 64;
#   4. fit against a bare loop on CUDA (issue 2's ratio);
#   5. a pack's final evaluation, probes batched over members against member by member;
#   6. compiled packs (train.compile on both sides) beside eager ones, MNIST-size MLP.
#     bash bench/on_a_gpu.sh   # at most 11.5 minutes; 3.2 on an H200 before step 5 (2026-11-28)
set -u
out="${OUT:-gpu-results}"
mkdir -p "$out"
export PYTHONPATH="$PWD:$PWD/bench${PYTHONPATH:+:$PYTHONPATH}"
python="${PYTHON:-python3}"

step() {  # step NAME SECONDS ARGS...: one benchmark, its JSON to NAME.json, stderr to the log
    local name=$1 seconds=$2
    shift 2
    echo "== $name (at most ${seconds}s)" | tee -a "$out/progress.log"
    timeout "$seconds" "$python" "$@" >"$out/$name.json" 2>>"$out/progress.log"
    echo "   exit $? after ${SECONDS}s in all"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >"$out/device.txt" 2>&1
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' >>"$out/device.txt" 2>&1
step fidelity 90 bench/packed_fidelity.py --device cuda
step packing_mlp 220 bench/packing.py --device cuda --rounds 2 --sequential-cap 4 \
    --models mlp_mnist,mlp_digits --members 1,4,16,64,256
step packing_lstm 100 bench/packing.py --device cuda --rounds 2 --sequential-cap 4 \
    --models lstm_synthetic_text --members 1,4,16,64
step train_throughput 50 bench/train_throughput.py --device cuda --epochs 5
step evaluation 120 bench/packed_evaluation.py --device cuda --members 4,32
step packing_compiled 110 bench/packing.py --device cuda --rounds 2 --sequential-cap 4 \
    --models mlp_mnist --members 16,64 --compile
