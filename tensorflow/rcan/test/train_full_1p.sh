#!/bin/bash
# RCAN x2 training on one device, the Ascend ModelZoo way (RCAN_ID0268 test/train_full_1p.sh):
#     bash test/train_full_1p.sh --data_path=/dataset/DIV2K [--max_step=102] [--batch=16] [--learning_rate=1e-4]
# data_path holds DIV2K_train_HR/ and DIV2K_train_LR_bicubic/X2/. Runs from any working directory. The log
# goes to test/output/${ASCEND_DEVICE_ID}/train_${ASCEND_DEVICE_ID}.log, checkpoints to .../ckpt, and the
# ModelZoo summary to .../${CaseName}.log. Other --flag=value arguments are passed on to main.py.
# train_performance_1p.sh runs this script with perf_flag=1 (12 steps, the 'perf' case).

cur_path=$(cd "$(dirname "${BASH_SOURCE[0]}")"; pwd)     # this test/ folder
source "${cur_path}/env.sh"

RANK_ID_START=0
export RANK_SIZE=1
data_path=""

Network="RCAN_ID0268_for_TensorFlow"
perf_flag=${perf_flag:-0}
if [ "${perf_flag}" = 1 ]; then train_steps=12; case_kind=perf; else train_steps=102; case_kind=acc; fi
batch_size=16
learning_rate=1e-4
save_interval=""
modeldir=""

precision_mode="allow_fp32_to_fp16"
over_dump=False
data_dump_flag=False
data_dump_step="10"
profiling=False
extra_args=()

if [[ $1 == --help || $1 == -h ]]; then
    echo "usage: bash $(basename "$0") --data_path=<DIV2K folder> [--x=value ...]"
    echo "
    --precision_mode         precision mode (allow_fp32_to_fp16/force_fp16/must_keep_origin_dtype/allow_mix_precision)
    --over_dump              overflow detection, default False (Ascend dump tools)
    --data_dump_flag         data dump, default False (Ascend dump tools)
    --data_dump_step         data dump step, default 10
    --profiling              profiling, default False (Ascend profiler)
    --data_path              training data: DIV2K_train_HR/ and DIV2K_train_LR_bicubic/X2/
    --max_step               training steps (default ${train_steps})
    --learning_rate          learning rate (default ${learning_rate})
    --batch                  batch size (default ${batch_size})
    --modeldir               checkpoint folder (default test/output/\${ASCEND_DEVICE_ID}/ckpt)
    --save_interval          checkpoint every N steps (default: at the last step)
    --loss_scale             accepted for the template; loss scaling is the NPU's (precision_mode)
    --<main.py flag>=value   passed on to main.py, e.g. --n_RG=3
    -h/--help                show this help"
    exit 1
fi

for para in "$@"; do
    if [[ $para == --precision_mode* ]]; then
        precision_mode=${para#*=}
    elif [[ $para == --over_dump* ]]; then
        over_dump=${para#*=}
        mkdir -p "${cur_path}/output/overflow_dump"
    elif [[ $para == --data_dump_flag* ]]; then
        data_dump_flag=${para#*=}
        mkdir -p "${cur_path}/output/data_dump"
    elif [[ $para == --data_dump_step* ]]; then
        data_dump_step=${para#*=}
    elif [[ $para == --profiling* ]]; then
        profiling=${para#*=}
        mkdir -p "${cur_path}/output/profiling"
    elif [[ $para == --data_path* ]]; then
        data_path=${para#*=}
    elif [[ $para == --max_step* ]]; then
        train_steps=${para#*=}
    elif [[ $para == --learning_rate* ]]; then
        learning_rate=${para#*=}
    elif [[ $para == --batch* ]]; then
        batch_size=${para#*=}
    elif [[ $para == --modeldir* ]]; then
        modeldir=${para#*=}
    elif [[ $para == --save_interval* ]]; then
        save_interval=${para#*=}
    elif [[ $para == --loss_scale* ]]; then
        loss_scale=${para#*=}
    else
        extra_args+=("${para}")
    fi
done

if [[ $data_path == "" ]]; then
    echo "[Error] para \"data_path\" must be config"
    exit 1
fi
data_path=$(cd "${data_path}" 2>/dev/null && pwd || echo "${data_path}")   # absolute: main.py runs in ${cur_path}/..

cd "${cur_path}/../"
start_time=$(date +%s)

out_dir=${cur_path}/output/${ASCEND_DEVICE_ID}
log_file=${out_dir}/train_${ASCEND_DEVICE_ID}.log
for ((RANK_ID=$RANK_ID_START; RANK_ID<$((RANK_SIZE+RANK_ID_START)); RANK_ID++)); do
    echo "Device ID: $ASCEND_DEVICE_ID"
    export RANK_ID=$RANK_ID
    rm -rf "${out_dir}"
    mkdir -p "${out_dir}/ckpt"
    "${PYTHON}" -u main.py --train_GT_path "${data_path}/DIV2K_train_HR" \
        --train_LR_path "${data_path}/DIV2K_train_LR_bicubic/X2" --max_step "${train_steps}" --scale 2 --log_freq 1 \
        --batch_size "${batch_size}" --learning_rate "${learning_rate}" --precision_mode "${precision_mode}" \
        --model_path "${modeldir:-${out_dir}/ckpt}" --model_save_freq "${save_interval:-${train_steps}}" \
        --log_dir "${out_dir}/logs" "${extra_args[@]}" > "${log_file}" 2>&1
    status=$?
    if [ ${status} -ne 0 ]; then
        echo "[Error] training failed (exit code ${status}): $(tail -n 1 "${log_file}")"
        exit ${status}
    fi
done

end_time=$(date +%s)
e2e_time=$(( $end_time - $start_time ))

echo "------------------ Final result ------------------"
TrainingTime=$(grep "Elpased time" "${log_file}" | awk 'END{print $4}')
FPS=$(awk 'BEGIN {printf "%.2f\n", '${batch_size}'/'${TrainingTime}'}')
echo "Final Performance images/sec : $FPS"
echo "E2E Training Duration sec : $e2e_time"

BatchSize=${batch_size}
DeviceType=$(uname -m)
CaseName=${Network}_bs${BatchSize}_${RANK_SIZE}'p'_${case_kind}
ActualFPS=${FPS}

grep "Loss :" "${log_file}" | awk '{print $3}' > "${out_dir}/${CaseName}_loss.txt"
if [ "${perf_flag}" = 1 ]; then
    ActualLoss=$(awk 'END {print $NF}' "${out_dir}/${CaseName}_loss.txt")                 # the last loss
else
    ActualLoss=$(tail -n 5 "${out_dir}/${CaseName}_loss.txt" | sort -n | head -n 1)      # lowest of the last 5
fi

summary=${out_dir}/${CaseName}.log
echo "Network = ${Network}" > "${summary}"
echo "RankSize = ${RANK_SIZE}" >> "${summary}"
echo "BatchSize = ${BatchSize}" >> "${summary}"
echo "DeviceType = ${DeviceType}" >> "${summary}"
echo "CaseName = ${CaseName}" >> "${summary}"
echo "ActualFPS = ${ActualFPS}" >> "${summary}"
if [ "${perf_flag}" != 1 ]; then echo "TrainAccuracy = None" >> "${summary}"; fi
echo "TrainingTime = ${TrainingTime}" >> "${summary}"
echo "ActualLoss = ${ActualLoss}" >> "${summary}"
echo "E2ETrainingTime = ${e2e_time}" >> "${summary}"
