#!/bin/bash
# Single-device training of RDN (Ascend ModelZoo test/ script layout): the accuracy case (250 epochs),
# or the performance case (10 epochs) when run as train_performance_1p.sh, which delegates here.
#   bash test/train_full_1p.sh --data_path=/data/DIV2K [--output_path=DIR] [--train_epochs=250]
#        [--batch_size=8] [--train_steps=N] [any train_npu.py flag, e.g. --test_path=/data/Set5 --resume=True]
# Log: test/output/${ASCEND_DEVICE_ID}/train_${ASCEND_DEVICE_ID}.log; case files ${CaseName}.log and
# ${CaseName}_loss.txt beside it (written by train_npu.py --modelzoo_dir with common.records).
# train_full_8p.sh runs this script with RDN_LAUNCHER (torchrun's module and options) and RDN_RANK_SIZE set.
# The interpreter: $PYTHON, else the repository's .venv, else python3 (tools/zoo_python.sh).

# the folder of this script, whether it is acc or perf, and the network name (the model folder)
cur_path=$(cd "$(dirname "$0")"; pwd)
perf_flag=${RDN_PERF_CASE:-`echo "$0" | grep performance | wc -l`}
Network=`echo "${cur_path}" | awk -F"/" '{print $(NF-1)}'`
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"

export RANK_SIZE=${RDN_RANK_SIZE:-1}
export RANK_ID=0
export JOB_ID=10087
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}

data_path=""
output_path=""
train_steps=""
if [ x"${perf_flag}" = x1 ]; then
    train_epochs=10
else
    train_epochs=250
fi
batch_size=8
extra_args=()

if [[ $1 == --help || $1 == -h ]]; then
    echo "usage: bash $0 --data_path=DIR [options] [train_npu.py flags]"
    echo " "
    echo "parameter explain:
    --data_path              # dataset of training (<data_path>/train + /test, or DIV2K_train_HR, or an LMDB)
    --output_path            # output of training (checkpoints in <output_path>/ckpt/RDN); default test/output/\${ASCEND_DEVICE_ID}
    --train_steps            # max_step for training (default: all epochs)
    --train_epochs           # max_epoch for training (default: ${train_epochs})
    --batch_size             # batch size (default: ${batch_size})
    -h/--help                show help message
    other --flag=value arguments are passed to train_npu.py"
    exit 1
fi

for para in "$@"; do
    if [[ $para == --data_path=* ]]; then
        data_path=${para#*=}
    elif [[ $para == --output_path=* ]]; then
        output_path=${para#*=}
    elif [[ $para == --train_steps=* ]]; then
        train_steps=${para#*=}
    elif [[ $para == --train_epochs=* ]]; then
        train_epochs=${para#*=}
    elif [[ $para == --batch_size=* ]]; then
        batch_size=${para#*=}
    else
        extra_args+=("$para")
    fi
done

if [[ $data_path == "" ]]; then
    echo "[Error] para \"data_path\" must be config"
    exit 1
fi

cd "${cur_path}/../"
rm -rf "./test/output/${ASCEND_DEVICE_ID}"
mkdir -p "./test/output/${ASCEND_DEVICE_ID}"
if [[ $output_path == "" ]]; then
    output_path="./test/output/${ASCEND_DEVICE_ID}"
fi
print_log="./test/output/${ASCEND_DEVICE_ID}/train_${ASCEND_DEVICE_ID}.log"
modelarts_flag=${MODELARTS_MODEL_PATH}
if [ x"${modelarts_flag}" != x ]; then
    print_log_name=`ls /home/ma-user/modelarts/log/ | grep proc-rank`
    print_log="/home/ma-user/modelarts/log/${print_log_name}"
fi
echo "### get your log here : ${print_log}"

perf_args=()
[ x"${perf_flag}" = x1 ] && perf_args=(--perf=True)
steps_args=()
[[ $train_steps != "" ]] && steps_args=("--max_steps=${train_steps}")

start_time=$(date +%s)
launcher=("${PYTHON}")
[[ -n ${RDN_LAUNCHER} ]] && launcher+=(${RDN_LAUNCHER})    # e.g. -m torch.distributed.run --nproc_per_node=2 ...
"${launcher[@]}" train_npu.py "--datapath=${data_path}" "--nEpochs=${train_epochs}" "--batchSize=${batch_size}" "${steps_args[@]}" \
    "--output_path=${output_path}" "--modelzoo_dir=./test/output/${ASCEND_DEVICE_ID}" "${perf_args[@]}" \
    "${extra_args[@]}" 1>"${print_log}" 2>&1
status=$?
end_time=$(date +%s)
if [ ${status} -ne 0 ]; then
    # bad input is one 'error: ...' line (the same from every rank); else show the end of the log
    message=`grep -m1 '^error: ' "${print_log}"`
    echo "[Error] training failed (exit ${status}), $(( end_time - start_time )) s; ${message:-the end of ${print_log}:}"
    [[ $message == "" ]] && tail -n 3 "${print_log}"
    exit ${status}
fi

# whether this run used the Ascend NPU (the CANN runtime prints this line)
use_npu_flag=`grep "The model has been compiled on the Ascend AI processor" "${print_log}" | wc -l`
if [ x"${use_npu_flag}" == x0 ]; then
    echo "------------------ ERROR NOTICE START ------------------"
    echo "ERROR, your task haven't used Ascend NPU, please check your npu Migration."
    echo "------------------ ERROR NOTICE END------------------"
else
    echo "------------------ INFO NOTICE START------------------"
    echo "INFO, your task have used Ascend NPU, please check your result."
    echo "------------------ INFO NOTICE END------------------"
fi

# the Final result block train_npu.py printed (FPS, sec/step, E2E, accuracy)
sed -n '/^------------------ Final result ------------------$/,$p' "${print_log}"
