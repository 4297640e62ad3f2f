#!/bin/bash
# Single-device SRCNN training on Ascend, in the background; log in OUTPUT_PATH/train.log.
if [ $# -ne 3 ] && [ $# -ne 4 ]; then
    echo "Usage: bash ${SCRIPT_NAME:-run_single_train_ascend.sh} [DEVICE_ID] [MINDRECORD_DIR] [OUTPUT_PATH] [PRE_TRAINED](optional)"
    exit 1
fi
TARGET=${TARGET:-Ascend}   # the cpu/gpu scripts call this one with TARGET set
BASE=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"   # PYTHON: $PYTHON, .venv or python3
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA=$(abspath "$2"); OUT=$(abspath "$3")
[ -f "$DATA/srcnn.mindrecord00" ] || { echo "error: MINDRECORD_DIR=$DATA has no srcnn.mindrecord00"; exit 1; }
EXTRA=()
if [ $# -eq 4 ]; then
    PRE=$(abspath "$4")
    [ -f "$PRE" ] || { echo "error: PRE_TRAINED=$PRE is not a file"; exit 1; }
    EXTRA=(--pre_trained_path="$PRE")
fi
export DEVICE_ID=$1 RANK_SIZE=1 RANK_ID=0
mkdir -p "$OUT"
nohup "$PYTHON" "$BASE/train.py" --device_target=$TARGET --data_path="$DATA" --output_path="$OUT" "${EXTRA[@]}" \
    > "$OUT/train.log" 2>&1 &
echo "training on $TARGET (pid $!); log: $OUT/train.log"
