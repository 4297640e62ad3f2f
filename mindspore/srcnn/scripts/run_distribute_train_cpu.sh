#!/bin/bash
# Data-parallel SRCNN training with MindSpore's own launcher, msrun: DEVICE_NUM processes on this machine
# (CPU; the same works on GPU/Ascend with --device_target), gradients all-reduced, checkpoints from rank 0
# in OUTPUT_PATH/ckpt_0/. Runs in the foreground and returns the job's status; msrun's log in
# OUTPUT_PATH/train.log, each rank's in OUTPUT_PATH/msrun_log/worker_<rank>.log.
# Several machines: WORKER_NUM (all processes), NODE_RANK, MASTER_ADDR (node 0) and MASTER_PORT in the
# environment, the same on every machine except NODE_RANK. Further --key=value arguments go to train.py.
if [ $# -lt 3 ]; then
    echo "Usage: bash run_distribute_train_cpu.sh [DEVICE_NUM] [DATA_PATH] [OUTPUT_PATH] [PRE_TRAINED](optional) [--key=value ...](optional)"
    echo "       environment: WORKER_NUM (default DEVICE_NUM), NODE_RANK (0), MASTER_ADDR (127.0.0.1), MASTER_PORT (8118)"
    exit 1
fi
BASE=$(cd "$(dirname "$0")/.." && pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"   # PYTHON: $PYTHON, .venv or python3
abspath() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
NUM=$1; DATA=$(abspath "$2"); OUT=$(abspath "$3"); shift 3
WORKERS=${WORKER_NUM:-$NUM}; NODE=${NODE_RANK:-0}; ADDR=${MASTER_ADDR:-127.0.0.1}; PORT=${MASTER_PORT:-8118}
[[ "$NUM" =~ ^[1-9][0-9]*$ && "$WORKERS" =~ ^[1-9][0-9]*$ && "$NODE" =~ ^[0-9]+$ && "$PORT" =~ ^[1-9][0-9]*$ ]] \
    || { echo "error: DEVICE_NUM, WORKER_NUM, NODE_RANK and MASTER_PORT must be integers"; exit 1; }
[ -f "$DATA/srcnn.mindrecord00" ] || { echo "error: DATA_PATH=$DATA has no srcnn.mindrecord00"; exit 1; }
EXTRA=()
if [ $# -ge 1 ] && [[ "$1" != --* ]]; then
    PRE=$(abspath "$1"); shift
    [ -f "$PRE" ] || { echo "error: PRE_TRAINED=$PRE is not a file"; exit 1; }
    EXTRA=(--pre_trained_path="$PRE")
fi
# msrun's scheduler cannot listen on a taken port and its workers then wait for it: refuse at once
if [ "$NODE" -eq 0 ] && (exec 3<>"/dev/tcp/$ADDR/$PORT") 2>/dev/null; then
    echo "error: MASTER_PORT=$PORT: $ADDR:$PORT is in use; choose a free port with MASTER_PORT="
    exit 1
fi
# msrun starts the workers with the `python` of PATH: make it this one
case "$PYTHON" in */*) export PATH="$(cd "$(dirname "$PYTHON")" && pwd):$PATH" ;; esac
MSRUN=$(command -v msrun) || { echo "error: msrun not found (it comes with MindSpore >= 2.3)"; exit 1; }
mkdir -p "$OUT"
"$MSRUN" --worker_num="$WORKERS" --local_worker_num="$NUM" --master_addr="$ADDR" --master_port="$PORT" \
    --node_rank="$NODE" --log_dir="$OUT/msrun_log" --join=True \
    "$BASE/train.py" --device_target=CPU --run_distribute=True --device_num="$WORKERS" --data_path="$DATA" \
    --output_path="$OUT" "${EXTRA[@]}" "$@" > "$OUT/train.log" 2>&1
status=$?
if [ $status -ne 0 ]; then
    # bad input is the same one 'error: ...' line from every rank
    message=$(grep -h -m1 '^error: ' "$OUT"/msrun_log/worker_*.log 2>/dev/null | head -n 1)
    echo "${message:-error: training failed (msrun exit $status); see $OUT/train.log and $OUT/msrun_log/}"
    exit 1
fi
echo "trained on $WORKERS processes; log: $OUT/train.log, $OUT/msrun_log/"
