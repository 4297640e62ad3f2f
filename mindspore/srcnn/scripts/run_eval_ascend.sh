#!/bin/bash
# Evaluate a checkpoint on an HR image folder (e.g. Set5); result lines printed, full log in a file of
# its own, ./eval/eval_<date>-<time>_<random>.log (its path is printed), so runs never share a log.
if [ $# -ne 3 ]; then
    echo "Usage: bash ${SCRIPT_NAME:-run_eval_ascend.sh} [DEVICE_ID] [DATASET_PATH] [CHECKPOINT_PATH]"
    exit 1
fi
TARGET=${TARGET:-Ascend}   # the cpu/gpu scripts call this one with TARGET set
BASE=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"   # PYTHON: $PYTHON, .venv or python3
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA=$(abspath "$2"); CKPT=$(abspath "$3")
[ -e "$DATA" ] || { echo "error: DATASET_PATH=$DATA does not exist"; exit 1; }
[ -f "$CKPT" ] || { echo "error: CHECKPOINT_PATH=$CKPT is not a file"; exit 1; }
export DEVICE_ID=$1
mkdir -p eval || exit 1
LOG=$(mktemp "eval/eval_$(date +%Y%m%d-%H%M%S)_XXXXXX.log") || { echo "error: cannot create a log file in $PWD/eval"; exit 1; }
chmod 644 "$LOG"
echo "log: $PWD/$LOG"
"$PYTHON" "$BASE/eval.py" --device_target=$TARGET --data_path="$DATA" --checkpoint_path="$CKPT" > "$LOG" 2>&1
status=$?
grep -E "^(result|standard|reference|bicubic)" "$LOG" || tail -n 3 "$LOG"
exit $status
