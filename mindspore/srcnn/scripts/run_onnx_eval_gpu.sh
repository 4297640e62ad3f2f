#!/bin/bash
# Evaluate an exported ONNX model with onnxruntime; PSNR line printed, full log in a file of its own,
# ./eval_onnx_<date>-<time>_<random>.log (its path is printed), so runs never share a log.
if [ $# -ne 3 ]; then
    echo "Usage: bash ${SCRIPT_NAME:-run_onnx_eval_gpu.sh} [DATA_PATH] [DEVICE_ID] [ONNX_MODEL_PATH]"
    exit 1
fi
TARGET=${TARGET:-GPU}   # run_onnx_eval_cpu.sh calls this one with TARGET=CPU
BASE=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"   # PYTHON: $PYTHON, .venv or python3
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
DATA=$(abspath "$1"); MODEL=$(abspath "$3")
[ -e "$DATA" ] || { echo "error: DATA_PATH=$DATA does not exist"; exit 1; }
[ -f "$MODEL" ] || { echo "error: ONNX_MODEL_PATH=$MODEL is not a file"; exit 1; }
if [ "$TARGET" = GPU ]; then export CUDA_VISIBLE_DEVICES=$2; fi   # DEVICE_ID is ignored on CPU
LOG=$(mktemp "eval_onnx_$(date +%Y%m%d-%H%M%S)_XXXXXX.log") || { echo "error: cannot create a log file in $PWD"; exit 1; }
chmod 644 "$LOG"
echo "log: $PWD/$LOG"
"$PYTHON" "$BASE/eval_onnx.py" --device_target=$TARGET --data_path="$DATA" --onnx_path="$MODEL" > "$LOG" 2>&1
status=$?
grep -E "^(PSNR|result)" "$LOG" || tail -n 3 "$LOG"
exit $status
