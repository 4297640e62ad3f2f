#!/bin/bash
# The 310-style offline flow on this machine: preprocess (images -> .bin), infer_mindir.py (the exported
# MINDIR through MindSpore's graph loader, in place of the Ascend 310 binary), postprocess (PSNR vs HR).
# Outputs: OUTPUTS_PATH/{preprocess_Result,result_Files,sr}/, logs OUTPUTS_PATH/{preprocess,infer,acc}.log.
# Each step builds its folder whole and replaces only its own earlier output (nothing is deleted here).
if [ $# -ne 3 ] && [ $# -ne 4 ]; then
    echo "Usage: bash run_infer_310.sh [MINDIR_PATH] [DATA_PATH] [OUTPUTS_PATH] [DEVICE_ID](optional)"
    exit 1
fi
BASE=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"   # PYTHON: $PYTHON, .venv or python3
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
MODEL=$(abspath "$1"); DATA=$(abspath "$2"); OUT=$(abspath "$3")
[ -f "$MODEL" ] || { echo "error: MINDIR_PATH=$MODEL is not a file"; exit 1; }
[ -e "$DATA" ] || { echo "error: DATA_PATH=$DATA does not exist"; exit 1; }
export DEVICE_ID=${4:-0}
PREP="$OUT/preprocess_Result"; PRED="$OUT/result_Files"
mkdir -p "$OUT" || exit 1
run() {  # run STEP LOG ARGS...: one step, its log, stop on failure
    local step=$1 log=$2; shift 2
    if ! "$PYTHON" "$BASE/$step" "$@" > "$log" 2>&1; then
        echo "$step failed, see $log:"; tail -n 3 "$log"; exit 1
    fi
}
run preprocess.py "$OUT/preprocess.log" --image_path="$DATA" --output_path="$PREP"
run infer_mindir.py "$OUT/infer.log" --device_target=CPU --mindir_path="$MODEL" --output_path="$PREP" --predict_path="$PRED"
run postprocess.py "$OUT/acc.log" --output_path="$PREP" --predict_path="$PRED" --result_path="$OUT/sr"
grep -E "^Average" "$OUT/acc.log"
