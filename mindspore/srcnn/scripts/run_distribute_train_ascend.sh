#!/bin/bash
# Data-parallel SRCNN training on RANK_SIZE Ascend devices starting at BEGIN_DEVICE (HCCL rank table).
# Logs: TRAIN_PATH/device<i>/train<i>.log; checkpoints: TRAIN_PATH/ckpt_0/.
if [ $# -ne 5 ] && [ $# -ne 6 ]; then
    echo "Usage: bash run_distribute_train_ascend.sh [DATA_PATH] [TRAIN_PATH] [BEGIN_DEVICE] [RANK_SIZE] [RANK_TABLE_FILE] [PRE_TRAINED](optional)"
    exit 1
fi
BASE=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"   # PYTHON: $PYTHON, .venv or python3
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA=$(abspath "$1"); OUT=$(abspath "$2"); BEGIN=$3; SIZE=$4; TABLE=$(abspath "$5")
[ -f "$DATA/srcnn.mindrecord00" ] || { echo "error: DATA_PATH=$DATA has no srcnn.mindrecord00"; exit 1; }
[ -f "$TABLE" ] || { echo "error: RANK_TABLE_FILE=$TABLE is not a file"; exit 1; }
[[ "$BEGIN" =~ ^[0-9]+$ && "$SIZE" =~ ^[1-9][0-9]*$ ]] || { echo "error: BEGIN_DEVICE and RANK_SIZE must be integers"; exit 1; }
EXTRA=()
if [ $# -eq 6 ]; then
    PRE=$(abspath "$6")
    [ -f "$PRE" ] || { echo "error: PRE_TRAINED=$PRE is not a file"; exit 1; }
    EXTRA=(--pre_trained_path="$PRE")
fi
export RANK_SIZE=$SIZE RANK_TABLE_FILE=$TABLE
for ((i = 0; i < SIZE; i++)); do
    export DEVICE_ID=$((BEGIN + i)) RANK_ID=$i
    mkdir -p "$OUT/device$i"
    (cd "$OUT/device$i" && nohup "$PYTHON" "$BASE/train.py" --device_target=Ascend --run_distribute=True \
        --device_num="$SIZE" --data_path="$DATA" --output_path="$OUT" "${EXTRA[@]}" > "train$i.log" 2>&1 &)
done
echo "started $SIZE processes; logs: $OUT/device*/train*.log"
