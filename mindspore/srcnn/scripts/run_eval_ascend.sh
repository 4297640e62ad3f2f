#!/bin/bash
# Evaluate a checkpoint on an HR image folder (e.g. Set5); log in ./eval/eval.log, result line printed.
if [ $# -ne 3 ]; then
    echo "Usage: bash ${SCRIPT_NAME:-run_eval_ascend.sh} [DEVICE_ID] [DATASET_PATH] [CHECKPOINT_PATH]"
    exit 1
fi
TARGET=${TARGET:-Ascend}   # the cpu/gpu scripts call this one with TARGET set
BASE=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-$( [ -x "$BASE/../../.venv/bin/python" ] && echo "$BASE/../../.venv/bin/python" || echo python3 )}
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA=$(abspath "$2"); CKPT=$(abspath "$3")
[ -e "$DATA" ] || { echo "error: DATASET_PATH=$DATA does not exist"; exit 1; }
[ -f "$CKPT" ] || { echo "error: CHECKPOINT_PATH=$CKPT is not a file"; exit 1; }
export DEVICE_ID=$1
mkdir -p eval
"$PYTHON" "$BASE/eval.py" --device_target=$TARGET --data_path="$DATA" --checkpoint_path="$CKPT" > eval/eval.log 2>&1
status=$?
grep -E "^(result|standard|reference|bicubic)" eval/eval.log || tail -n 3 eval/eval.log
exit $status
