#!/bin/bash
# Data-parallel training of RDN on several devices (Ascend ModelZoo test/ script layout): torchrun starts
# one train_npu.py process per device (HCCL on Ascend NPUs, NCCL on CUDA GPUs, gloo on the CPU); the rest
# (log, case files, Final result block) is train_full_1p.sh's, which this script runs through torchrun.
#   bash test/train_full_8p.sh --data_path=/data/DIV2K [--device_num=8] [--output_path=DIR]
#        [--train_epochs=250] [--batch_size=8] [--train_steps=N]
#        [--nnodes=1 --node_rank=0 --master_addr=127.0.0.1 --master_port=29500] [any train_npu.py flag]
# --batch_size is per device: the global batch is batch_size x device_num x nnodes. --device_num defaults
# to 8 where npu-smi runs, else to the CUDA GPUs nvidia-smi lists, else 2 (processes on the CPU).
# Several machines: run it on each with the same --nnodes, --master_addr (node 0's address) and
# --master_port, and --node_rank=0..nnodes-1. Log: test/output/${ASCEND_DEVICE_ID}/train_${ASCEND_DEVICE_ID}.log
# (rank 0 prints; every rank prints its error line); case files ${CaseName}.log (RankSize = all ranks).

cur_path=$(cd "$(dirname "$0")"; pwd)
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../../../tools/zoo_python.sh"

device_num=""
nnodes=1
node_rank=0
master_addr=127.0.0.1
master_port=29500
rest=()

if [[ $1 == --help || $1 == -h ]]; then
    echo "usage: bash $0 --data_path=DIR [--device_num=N] [options] [train_npu.py flags]"
    echo " "
    echo "parameter explain:
    --device_num             # devices (processes) on this machine (default: 8 on NPU, the GPUs on CUDA, 2 on CPU)
    --nnodes, --node_rank    # machines in the job and this machine's index (default: 1, 0)
    --master_addr            # node 0's address (default: 127.0.0.1)
    --master_port            # rendezvous port on node 0 (default: 29500)
    --batch_size             # batch size per device (default: 8)
    --data_path, --output_path, --train_steps, --train_epochs and train_npu.py flags: as train_full_1p.sh
    -h/--help                show help message"
    exit 1
fi

for para in "$@"; do
    if [[ $para == --device_num=* ]]; then
        device_num=${para#*=}
    elif [[ $para == --nnodes=* ]]; then
        nnodes=${para#*=}
    elif [[ $para == --node_rank=* ]]; then
        node_rank=${para#*=}
    elif [[ $para == --master_addr=* ]]; then
        master_addr=${para#*=}
    elif [[ $para == --master_port=* ]]; then
        master_port=${para#*=}
    else
        rest+=("$para")
    fi
done

if [[ $device_num == "" ]]; then
    if npu-smi info >/dev/null 2>&1; then
        device_num=8
    elif nvidia-smi -L >/dev/null 2>&1; then
        device_num=`nvidia-smi -L | grep -c '^GPU'`
    else
        device_num=2
    fi
fi
if ! [[ $device_num =~ ^[1-9][0-9]*$ && $nnodes =~ ^[1-9][0-9]*$ && $node_rank =~ ^[0-9]+$ ]] || (( node_rank >= nnodes )); then
    echo "error: --device_num=${device_num} --nnodes=${nnodes} --node_rank=${node_rank}: need positive counts and node_rank < nnodes" >&2
    exit 1
fi

# torchrun fails with a traceback when node 0 cannot listen on the rendezvous port: say it in one line
if [[ $node_rank == 0 ]]; then
    "${PYTHON}" -m torchzoo.dist "--master_addr=${master_addr}" "--master_port=${master_port}" || exit 1
fi

echo "### $(( device_num * nnodes )) processes, ${device_num} on this node (node ${node_rank} of ${nnodes})"
RDN_RANK_SIZE=$(( device_num * nnodes )) \
RDN_LAUNCHER="-m torch.distributed.run --nnodes=${nnodes} --node_rank=${node_rank} --nproc_per_node=${device_num} --master_addr=${master_addr} --master_port=${master_port}" \
    exec bash "${cur_path}/train_full_1p.sh" "${rest[@]}"
