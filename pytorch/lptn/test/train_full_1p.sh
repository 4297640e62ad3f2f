#!/bin/bash
# Single-device training of LPTN (Ascend ModelZoo test/ script layout): train.py on the FiveK LMDBs under
# --data_path, then test.py (accuracy, the PSNR of the trained generator) and test_speed.py (the
# reference's speed protocol). Run as train_performance_1p.sh it is the performance case: a short
# training (--train_steps, default 1000) and test_speed.py, no accuracy line.
#   bash test/train_full_1p.sh --data_path=/data/FiveK [--train_steps=N] [--batch_size=16] [--output_path=DIR]
#        [any other --key.sub=value: an options override passed to train.py as --force_yml key.sub=value]
# --data_path holds FiveK_train_source.lmdb, FiveK_train_target.lmdb, FiveK_test_source.lmdb and
# FiveK_test_target.lmdb (scripts/data_preparation/create_lmdb.py). Log:
# test/output/${ASCEND_DEVICE_ID}/train_${ASCEND_DEVICE_ID}.log; case files ${CaseName}.log and
# ${CaseName}_loss.txt (the l_d_real values) beside it, written by train.py --modelzoo_dir.
# The interpreter: $PYTHON, else the repository's .venv, else python3 (tools/zoo_python.sh).

cur_path=$(cd "$(dirname "$0")"; pwd)
perf_flag=${LPTN_PERF_CASE:-`echo "$0" | grep performance | wc -l`}
Network=`echo "${cur_path}" | awk -F"/" '{print $(NF-1)}'`
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"

export RANK_SIZE=1
export RANK_ID=0
export JOB_ID=10087
export ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
export NPU_CALCULATE_DEVICE=$ASCEND_DEVICE_ID

data_path=""
output_path=""
if [ x"${perf_flag}" = x1 ]; then
    train_steps=1000
else
    train_steps=""
fi
batch_size=16
opt=options/train/LPTN/train_FiveK.yml
overrides=()

if [[ $1 == --help || $1 == -h ]]; then
    echo "usage: bash $0 --data_path=DIR [options] [--key.sub=value ...]"
    echo " "
    echo "parameter explain:
    --data_path              # folder with the four FiveK LMDBs (create_lmdb.py)
    --output_path            # folder for experiments/ and results/ (default: this model's folder)
    --train_steps            # total_iter (default: the options file's; ${train_steps:-300000})
    --batch_size             # batch_size_per_gpu (default: ${batch_size})
    --opt                    # options file (default: ${opt})
    -h/--help                show help message
    other --key.sub=value arguments override options (e.g. --num_gpu=0 --train.optim_g.lr=5e-4)"
    exit 1
fi

for para in "$@"; do
    if [[ $para == --data_path=* ]]; then
        data_path=${para#*=}
    elif [[ $para == --output_path=* ]]; then
        output_path=${para#*=}
    elif [[ $para == --train_steps=* ]]; then
        train_steps=${para#*=}
    elif [[ $para == --batch_size=* ]]; then
        batch_size=${para#*=}
    elif [[ $para == --opt=* ]]; then
        opt=${para#*=}
    elif [[ $para == --*=* ]]; then
        overrides+=("${para#--}")
    else
        echo "[Error] unknown argument \"$para\" (expected --key=value)"
        exit 1
    fi
done

if [[ $data_path == "" ]]; then
    echo "[Error] para \"data_path\" must be config"
    exit 1
fi

cd "${cur_path}/../"
rm -rf "./test/output/${ASCEND_DEVICE_ID}"
mkdir -p "./test/output/${ASCEND_DEVICE_ID}"
root_args=()
[[ $output_path != "" ]] && root_args=("--root=${output_path}")
print_log="./test/output/${ASCEND_DEVICE_ID}/train_${ASCEND_DEVICE_ID}.log"
modelarts_flag=${MODELARTS_MODEL_PATH}
if [ x"${modelarts_flag}" != x ]; then
    print_log_name=`ls /home/ma-user/modelarts/log/ | grep proc-rank`
    print_log="/home/ma-user/modelarts/log/${print_log_name}"
fi
echo "### get your log here : ${print_log}"

name=`awk '/^name:/ {print $2; exit}' "${opt}"`
net_type=`awk '/^network_g:/ {f=1} f && /type:/ {print $2; exit}' "${opt}"`
data=("datasets.train.dataroot_lq=${data_path}/FiveK_train_source.lmdb" "datasets.train.dataroot_gt=${data_path}/FiveK_train_target.lmdb"
      "datasets.val.dataroot_lq=${data_path}/FiveK_test_source.lmdb" "datasets.val.dataroot_gt=${data_path}/FiveK_test_target.lmdb"
      "datasets.train.batch_size_per_gpu=${batch_size}")
[[ $train_steps != "" ]] && data+=("train.total_iter=${train_steps}")
perf_args=()
[ x"${perf_flag}" = x1 ] && perf_args=(--perf=True)

start_time=$(date +%s)
"${PYTHON}" train.py -opt "${opt}" "${root_args[@]}" "--modelzoo_dir=./test/output/${ASCEND_DEVICE_ID}" "${perf_args[@]}" \
    --force_yml "${data[@]}" "${overrides[@]}" 1>"${print_log}" 2>&1
status=$?
if [ ${status} -eq 0 ]; then
    experiments=${output_path:-.}/experiments/${name}
    test_data=("datasets.test.dataroot_lq=${data_path}/FiveK_test_source.lmdb" "datasets.test.dataroot_gt=${data_path}/FiveK_test_target.lmdb"
               "path.pretrain_network_g=${experiments}/models/net_g_latest.pth" "network_g.type=${net_type}")
    device=()
    for o in "${overrides[@]}"; do [[ $o == num_gpu=* ]] && device=("$o"); done
    if [ x"${perf_flag}" != x1 ]; then
        "${PYTHON}" test.py -opt options/test/LPTN/test_FiveK.yml "${root_args[@]}" --force_yml "${test_data[@]}" "${device[@]}" \
            1>>"${print_log}" 2>&1 || status=$?
    fi
    "${PYTHON}" test_speed.py -opt options/test/LPTN/test_speed_FiveK.yml "${root_args[@]}" \
        --force_yml "${test_data[@]}" "${device[@]}" ${LPTN_SPEED_ARGS} 1>>"${print_log}" 2>&1 || status=$?
fi
end_time=$(date +%s)
if [ ${status} -ne 0 ]; then
    echo "[Error] LPTN failed (exit ${status}), $(( end_time - start_time )) s; the end of ${print_log}:"
    tail -n 3 "${print_log}"
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

# the Final result block train.py printed; the test's PSNR and test_speed's average duration
sed -n '/^------------------ Final result ------------------$/,/^Final Train Accuracy\|^E2E Training/p' "${print_log}"
[ x"${perf_flag}" != x1 ] && grep "# psnr" "${print_log}" | tail -n 1 | awk '{print "Final Test PSNR : "$3}'
grep "average duration" "${print_log}" | tail -n 1 | awk '{print "Average duration (s/image) : "$NF}'
