"""Data-parallel SRCNN on MindSpore's own collective communication.

The processes are started by a launcher: ``msrun`` (CPU, GPU, Ascend; ``scripts/run_distribute_train_cpu.sh``),
``mpirun`` (GPU, ``run_distribute_train_gpu.sh``) or one process per device with an HCCL rank table
(Ascend, ``run_distribute_train_ascend.sh``). :func:`planned_group` reads the job size from the
launcher's environment before anything is initialised; :func:`init_distributed` joins the world
group and sets ``DATA_PARALLEL`` with ``gradients_mean``, under which ``TrainOneStepCell``
all-reduces the gradients.

What rank 0 alone decides (the checkpoint folder, the checkpoint a resume starts from) reaches the
other ranks through :func:`agree`, built on ``mint.distributed.all_gather_object``; the input checks
every rank makes itself are compared through :func:`every_rank`. Either way a bad input ends every
rank with the same one line, each printed before any rank exits
(``common.distributed.exit_together``).
"""
import os

import numpy as np

__all__ = ['SIZE_VARIABLES', 'planned_group', 'init_distributed', 'gather_object', 'agree', 'every_rank',
           'all_mean']

# The job size as each launcher exports it: msrun, the rank-table scripts, Open MPI.
SIZE_VARIABLES = ('MS_WORKER_NUM', 'RANK_SIZE', 'OMPI_COMM_WORLD_SIZE')


def planned_group(cfg, env=None):
    """The number of processes of this job (1 without ``run_distribute``), from the launcher's environment.

    Raises:
        ValueError: ``run_distribute=True`` in a process no launcher started, or a size that is not a number.
    """
    if not cfg.run_distribute:
        return 1
    env = os.environ if env is None else env
    for name in SIZE_VARIABLES:
        text = env.get(name, '')
        if text:
            if not text.isdigit() or int(text) < 1:
                raise ValueError(f'{name}={text!r}: expected the positive number of processes of the job')
            return int(text)
    raise ValueError('--run_distribute=True: start one process per device with msrun '
                     '(scripts/run_distribute_train_cpu.sh), mpirun (run_distribute_train_gpu.sh) or the rank '
                     'table script (run_distribute_train_ascend.sh); none of ' + ', '.join(SIZE_VARIABLES) +
                     ' is set')


_ACTIVE = False


def init_distributed(cfg, planned):
    """Join the world group for ``run_distribute``; returns ``(rank, group size)`` (``(0, 1)`` without it).

    Raises:
        ValueError: The group formed has another size than the launcher announced.
    """
    global _ACTIVE
    if not cfg.run_distribute:
        return 0, 1
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init
    init()
    rank, size = get_rank(), get_group_size()
    _ACTIVE = True
    if size != planned:
        raise ValueError(f'the launcher announced {planned} processes but {size} joined the group')
    ms.set_auto_parallel_context(device_num=size, parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return rank, size


def gather_object(obj):
    """Every rank's ``obj`` (picklable), by rank; ``[obj]`` for a single process."""
    if not _ACTIVE:
        return [obj]
    from mindspore import mint
    from mindspore.communication import GlobalComm, get_group_size
    out = [None] * get_group_size()
    mint.distributed.all_gather_object(out, obj, group=GlobalComm.WORLD_COMM_GROUP)
    return out


def agree(rank, step):
    """Run ``step()`` on rank 0 only and return its result on every rank.

    An expected failure of rank 0 (ValueError, OSError) ends every rank with rank 0's one-line
    message (``common.distributed.exit_together``); a single process raises it as usual.
    """
    if not _ACTIVE:
        return step()
    from common.distributed import agree as root_decides
    return root_decides(step, rank == 0, lambda outcome: gather_object(outcome)[0], _barrier)


def every_rank(check):
    """Run ``check()`` on every rank; if it fails on any, every rank exits with the first failure's line.

    For the input checks each rank makes itself (the data every rank reads alike); see
    ``common.distributed.every_rank``.
    """
    if not _ACTIVE:
        return check()
    from common.distributed import every_rank as compare
    return compare(check, gather_object, _barrier)


def _barrier():
    gather_object(None)                 # Barrier has no CPU kernel; all_gather has


def all_mean(value, size):
    """The mean over the group of a float (all-reduced); ``value`` itself for a single process."""
    if not _ACTIVE:
        return float(value)
    import mindspore as ms
    total = ms.ops.AllReduce()(ms.Tensor(np.array([value], np.float32)))
    return float(total.asnumpy()[0]) / size

