#!/bin/bash
# Ascend ModelZoo full run: train x4 on DIV2K, validate on BSD100, print the summary, write the case files.
#   bash test/train_full_1p.sh --data_path=DATA [--output_path=DIR] [--train_steps=N] [--batch_size=N]
# DATA holds DIV2K/DIV2K_train_HR, DIV2K/DIV2K_train_LR_bicubic/X4 and BSD100/LR/x4, BSD100/SR.
# Environment: CHIP (npu), EXTRA_MODEL_FLAGS (train and validate), EXTRA_TRAIN_FLAGS (train only), PYTHON
# (the interpreter; default: the repository's .venv, else python3: tools/zoo_python.sh).
cur_path=$(cd "$(dirname "$0")"; pwd)
perf_flag=${BSRN_PERF_RUN:-`echo "$0" | grep performance | wc -l`}
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"
Network="BSRN_ID1296_for_TensorFlow"
export RANK_SIZE=1; export RANK_ID=0; export JOB_ID=10087
export DEVICE_INDEX=${DEVICE_INDEX:-0}
ASCEND_DEVICE_ID=${ASCEND_DEVICE_ID:-0}
data_path=""; output_path=""; batch_size=8
if [[ $perf_flag == 1 ]]; then train_steps=1000; else train_steps=300000; fi
for para in "$@"; do
  if [[ $para == --help || $para == -h ]]; then
    echo "usage: $0 --data_path=DATA [--output_path=DIR] [--train_steps=N] [--batch_size=N]"; exit 0
  elif [[ $para == --data_path* ]]; then data_path=${para#*=}
  elif [[ $para == --output_path* ]]; then output_path=${para#*=}
  elif [[ $para == --train_steps* ]]; then train_steps=${para#*=}
  elif [[ $para == --batch_size* ]]; then batch_size=${para#*=}
  fi
done
[[ $data_path == "" ]] && { echo "[Error] para \"data_path\" must be config"; exit 1; }
cd "${cur_path}/../"
out_dir=./test/output/${ASCEND_DEVICE_ID}
[[ $output_path == "" ]] && output_path=${out_dir}/ckpt
print_log=${out_dir}/train_${ASCEND_DEVICE_ID}.log
rm -rf "${out_dir}"; mkdir -p "${out_dir}"
start_time=$(date +%s)
"${PYTHON}" train.py "--chip=${CHIP:-npu}" --dataloader=div2k_loader "--data_input_path=${data_path}/DIV2K/DIV2K_train_LR_bicubic" \
  "--data_truth_path=${data_path}/DIV2K/DIV2K_train_HR" "--train_path=${output_path}" --model=bsrn --scales=4 \
  --bsrn_clip_norm=5 "--batch_size=${batch_size}" "--max_steps=${train_steps}" --save_freq=50000 --data_cached \
  ${EXTRA_MODEL_FLAGS} ${EXTRA_TRAIN_FLAGS} 1>"${print_log}" 2>&1 || { echo "[Error] training failed, see ${print_log}"; tail -3 "${print_log}"; exit 1; }
if [[ $perf_flag == 0 ]]; then
  "${PYTHON}" validate_bsrn.py --dataloader=basic_loader "--data_input_path=${data_path}/BSD100/LR" \
    "--data_truth_path=${data_path}/BSD100/SR" "--restore_path=${output_path}/model.ckpt-${train_steps}" --scales=4 \
    "--chip=${CHIP:-npu}" ${EXTRA_MODEL_FLAGS} 1>>"${print_log}" 2>&1 || { echo "[Error] validation failed, see ${print_log}"; exit 1; }
fi
end_time=$(date +%s); e2e_time=$(( $end_time - $start_time ))
StepTime=`grep "sec/batch" "${print_log}" | tail -n 20 | awk '{s += $(NF-2)} END {if (NR) printf "%.6f", s/NR}'`
FPS=`awk 'BEGIN {printf "%.2f", '${batch_size}'/'${StepTime:-0}'}' 2>/dev/null`
if [[ $perf_flag == 1 ]]; then CaseName=${Network}_bs${batch_size}_${RANK_SIZE}'p'_'perf'
else CaseName=${Network}_bs${batch_size}_${RANK_SIZE}'p'_'acc'; fi
grep "sec/batch" "${print_log}" | awk '{print $6}' > "${out_dir}/${CaseName}_loss.txt"
ActualLoss=`awk 'END {print $NF}' "${out_dir}/${CaseName}_loss.txt"`
echo "------------------ Final result ------------------"
echo "Final Performance images/sec : $FPS"
echo "Final Performance sec/step : $StepTime"
echo "E2E Training Duration sec : $e2e_time"
{
  echo "Network = ${Network}"; echo "RankSize = ${RANK_SIZE}"; echo "BatchSize = ${batch_size}"
  echo "DeviceType = `uname -m`"; echo "CaseName = ${CaseName}"; echo "ActualFPS = ${FPS}"
  echo "TrainingTime = ${StepTime}"; echo "ActualLoss = ${ActualLoss}"; echo "E2ETrainingTime = ${e2e_time}"
} > "${out_dir}/${CaseName}.log"
if [[ $perf_flag == 0 ]]; then
  PSNR=`grep "Final PSNR" "${print_log}" | awk '{print $3}'`
  SSIM=`grep "Final SSIM" "${print_log}" | awk '{print $3}'`
  echo "Final Train Accuracy : ${PSNR}"
  echo "Final SSIM : ${SSIM}"
  echo "TrainAccuracy = ${PSNR}" >> "${out_dir}/${CaseName}.log"
fi
