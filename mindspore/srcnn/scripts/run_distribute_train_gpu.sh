#!/bin/bash
# Data-parallel SRCNN training on DEVICE_NUM GPUs (mpirun when more than one); log in OUTPUT_PATH/train.log.
if [ $# -ne 4 ] && [ $# -ne 5 ]; then
    echo "Usage: bash run_distribute_train_gpu.sh [DEVICE_NUM] [VISIBLE_DEVICES(0,1,2,3,4,5,6,7)] [DATA_PATH] [OUTPUT_PATH] [PRE_TRAINED](optional)"
    exit 1
fi
BASE=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"   # PYTHON: $PYTHON, .venv or python3
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
NUM=$1; DATA=$(abspath "$3"); OUT=$(abspath "$4")
[[ "$NUM" =~ ^[1-9][0-9]*$ ]] || { echo "error: DEVICE_NUM must be a positive integer, got $NUM"; exit 1; }
[ -f "$DATA/srcnn.mindrecord00" ] || { echo "error: DATA_PATH=$DATA has no srcnn.mindrecord00"; exit 1; }
EXTRA=()
if [ $# -eq 5 ]; then
    PRE=$(abspath "$5")
    [ -f "$PRE" ] || { echo "error: PRE_TRAINED=$PRE is not a file"; exit 1; }
    EXTRA=(--pre_trained_path="$PRE")
fi
export CUDA_VISIBLE_DEVICES=$2
mkdir -p "$OUT"
if [ "$NUM" -gt 1 ]; then
    nohup mpirun --allow-run-as-root -n "$NUM" "$PYTHON" "$BASE/train.py" --device_target=GPU --run_distribute=True \
        --device_num="$NUM" --data_path="$DATA" --output_path="$OUT" "${EXTRA[@]}" > "$OUT/train.log" 2>&1 &
else
    nohup "$PYTHON" "$BASE/train.py" --device_target=GPU --data_path="$DATA" --output_path="$OUT" "${EXTRA[@]}" \
        > "$OUT/train.log" 2>&1 &
fi
echo "training on $NUM GPU(s) (pid $!); log: $OUT/train.log"
