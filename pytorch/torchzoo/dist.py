"""Data-parallel training on ``torch.distributed``: one process per device, started by ``torchrun``.

``torchrun`` gives each process ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`setup` reads them, picks the backend of the device (HCCL on an Ascend NPU,
where ``torch_npu`` imports; NCCL on CUDA; gloo on the CPU), binds the process to its local device
and joins the process group. Without ``WORLD_SIZE`` > 1 nothing is initialised and a training runs
exactly as a single process. What only one process should do (printing, checkpoints, result records)
is done where :func:`is_main` is true; :func:`agree` runs a step on rank 0 and gives every rank its
result or its error, and :func:`every_rank` compares a check every rank makes itself, so a bad input
is the same one line on every rank, each printed before any rank exits.

Data: :class:`RankShardSampler` cuts each epoch's seeded order (``common.runs.epoch_order``) into
global batches of ``batch x world_size`` samples, rank ``r`` taking the ``r``-th slice of ``batch``
of each; an incomplete last global batch is dropped. With the loss averaged over each rank's batch
and DDP averaging the gradients, a step is the step of one process with the global batch, so a
2-process run ends with the weights of a 1-process run with the doubled batch (float tolerance).

Launch check: ``python3 -m torchzoo.dist --master_addr=A --master_port=P`` prints one ``error:``
line and exits 1 when that port cannot be listened on (torchrun itself would fail with a
traceback); the ``test/train_full_8p.sh`` scripts run it before ``torchrun``.
"""
import argparse
import datetime
import os
import socket
import sys

import torch
from torch.utils.data import Sampler

from common import distributed as common_distributed

__all__ = ['BACKENDS', 'Plan', 'plan_from_env', 'setup', 'teardown', 'is_main', 'rank', 'world_size',
           'wrap_ddp', 'broadcast_object', 'agree', 'every_rank', 'all_mean',
           'all_gather_object', 'barrier',
           'RankShardSampler', 'check_shards', 'port_problem']

BACKENDS = {'npu': 'hccl', 'cuda': 'nccl', 'cpu': 'gloo'}
TIMEOUT_MINUTES = 30


class Plan:
    """What :func:`setup` will do for this process (computed from the environment alone, testable anywhere).

    Attributes:
        rank (int): Global rank (``RANK``), 0 for a single process.
        world_size (int): Processes in the job (``WORLD_SIZE``), 1 for a single process.
        local_rank (int): Rank on this machine (``LOCAL_RANK``): the device index.
        backend (str | None): 'hccl', 'nccl' or 'gloo'; None when not distributed.
        device_name (str): The device of this process: ``npu:<local_rank>``, ``cuda:<local_rank>`` or ``cpu``
            (``device`` is it as a ``torch.device``, which for 'npu' needs ``torch_npu`` imported).
        master (str): ``MASTER_ADDR:MASTER_PORT`` ('' when not distributed).
    """

    def __init__(self, rank, world_size, local_rank, backend, device_name, master):
        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.backend, self.device_name, self.master = backend, device_name, master

    @property
    def device(self):
        return torch.device(self.device_name)

    @property
    def device_type(self):
        return self.device_name.split(':')[0]

    @property
    def distributed(self):
        return self.world_size > 1

    def describe(self):
        if not self.distributed:
            return f'single process on {self.device_name}'
        return (f'rank {self.rank} of {self.world_size} (local rank {self.local_rank}) on {self.device_name}, '
                f'{self.backend} backend, rendezvous at {self.master}')


def _env_int(env, name, default):
    text = env.get(name, '')
    if text == '':
        return default
    try:
        return int(text)
    except ValueError:
        raise ValueError(f'{name}={text!r}: expected an integer (set by torchrun)') from None


def plan_from_env(device, env=None):
    """The distributed set-up of this process.

    Args:
        device (torch.device | str): The device type chosen for training (``torchzoo.device.select_device``).
        env (dict | None): Environment variables. Default: None (``os.environ``).

    Returns:
        Plan: Rank, world size, backend and per-rank device.

    Raises:
        ValueError: Inconsistent rank variables (e.g. ``RANK`` >= ``WORLD_SIZE``).
    """
    env = os.environ if env is None else env
    device_type = str(device).split(':')[0]
    world = _env_int(env, 'WORLD_SIZE', 1)
    rank_, local = _env_int(env, 'RANK', 0), _env_int(env, 'LOCAL_RANK', 0)
    if world < 1 or not 0 <= rank_ < world or local < 0:
        raise ValueError(f'RANK={rank_}, LOCAL_RANK={local}, WORLD_SIZE={world}: need 0 <= RANK < WORLD_SIZE '
                         f'(start the processes with torchrun)')
    if world == 1:
        return Plan(0, 1, 0, None, str(device), '')
    if device_type not in BACKENDS:
        raise ValueError(f'no distributed backend for device type {device_type!r}')
    per_rank = 'cpu' if device_type == 'cpu' else f'{device_type}:{local}'
    master = f"{env.get('MASTER_ADDR', '127.0.0.1')}:{env.get('MASTER_PORT', '29500')}"
    return Plan(rank_, world, local, BACKENDS[device_type], per_rank, master)


_PLAN = None


def setup(device, env=None, timeout_minutes=TIMEOUT_MINUTES):
    """Join the process group described by the environment (nothing for a single process).

    Args:
        device (torch.device): The device type chosen for training.
        env (dict | None): Environment. Default: None (``os.environ``).
        timeout_minutes (float): How long a collective waits for the other ranks. Default: 30.

    Returns:
        Plan: This process's rank, world size and device (use ``plan.device`` from here on).

    Raises:
        ValueError: Bad rank variables, or the process group cannot be formed (one line).
    """
    global _PLAN
    plan = plan_from_env(device, env)
    if plan.distributed:
        if plan.device_type == 'npu':
            import torch_npu  # noqa: F401  (registers the hccl backend and torch.npu)
            torch.npu.set_device(plan.local_rank)
        elif plan.device_type == 'cuda':
            torch.cuda.set_device(plan.local_rank)
        try:
            torch.distributed.init_process_group(plan.backend, init_method='env://', rank=plan.rank,
                                                 world_size=plan.world_size,
                                                 timeout=datetime.timedelta(minutes=timeout_minutes))
        except (RuntimeError, OSError) as err:         # DistNetworkError / DistStoreError are RuntimeErrors
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ValueError(f'rank {plan.rank}: cannot join the process group at {plan.master} '
                             f'({plan.backend}): {first}') from None
    _PLAN = plan
    return plan


def teardown():
    """Leave the process group (at the end of a run, or after an error)."""
    global _PLAN
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    _PLAN = None


def _active():
    return _PLAN is not None and _PLAN.distributed


def rank():
    """This process's global rank: 0 when single, else ``RANK`` (readable before :func:`setup`)."""
    return _PLAN.rank if _PLAN is not None else _env_int(os.environ, 'RANK', 0)


def world_size():
    return _PLAN.world_size if _PLAN is not None else 1


def is_main():
    """Whether this process prints, writes checkpoints and records (rank 0, or a single process)."""
    return rank() == 0


def barrier():
    if _active():
        torch.distributed.barrier()


def wrap_ddp(model, plan):
    """The model for training: DDP over the process group, or the model itself for a single process."""
    if not plan.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel
    ids = None if plan.device_type == 'cpu' else [plan.local_rank]
    return DistributedDataParallel(model, device_ids=ids)


def broadcast_object(obj, src=0):
    """Rank ``src``'s ``obj`` on every rank (pickled; tensors inside come back on the CPU)."""
    if not _active():
        return obj
    box = [obj if rank() == src else None]
    torch.distributed.broadcast_object_list(box, src=src)
    return box[0]


def all_gather_object(obj):
    """A list of every rank's ``obj``, by rank (``[obj]`` for a single process)."""
    if not _active():
        return [obj]
    out = [None] * world_size()
    torch.distributed.all_gather_object(out, obj)
    return out


def agree(step):
    """Run ``step()`` on rank 0 only and return its result on every rank.

    An expected failure of rank 0 (ValueError, OSError) ends every rank with rank 0's one-line
    message (``common.distributed.exit_together``); a single process raises it as usual.
    """
    if not _active():
        return step()
    return common_distributed.agree(step, rank() == 0, broadcast_object, barrier)


def every_rank(check):
    """Run ``check()`` on every rank; if it fails on any, every rank exits with the first failure's line.

    For checks each rank can make itself (the data every rank reads alike); see
    ``common.distributed.every_rank``.
    """
    if not _active():
        return check()
    return common_distributed.every_rank(check, all_gather_object, barrier)


def all_mean(value):
    """The mean over ranks of a float (a 0-d tensor or a number), as a float."""
    if not _active():
        return float(value)
    t = torch.as_tensor(float(value), dtype=torch.float64)
    if _PLAN.backend != 'gloo':
        t = t.to(_PLAN.device)
    torch.distributed.all_reduce(t)
    return float(t.item()) / world_size()


class RankShardSampler(Sampler):
    """This rank's share of each epoch: slice ``rank`` of every global batch of ``batch x world`` keys.

    Args:
        order (callable): ``order(epoch) -> sequence`` of the epoch's sample keys, the same on every rank
            (e.g. ``common.runs.epoch_order`` of the seed and epoch).
        n (int): Samples per epoch.
        batch (int): Per-rank batch size.
        rank (int): This rank. world (int): The number of ranks.

    ``set_epoch(epoch, start_step)`` chooses the epoch (0-based) and skips the global steps a resumed
    run already took. ``len()`` is this rank's sample count (``steps_per_epoch * batch``).
    """

    def __init__(self, order, n, batch, rank, world):
        self.order, self.n, self.batch, self.rank, self.world = order, int(n), int(batch), int(rank), int(world)
        self.steps_per_epoch = self.n // (self.batch * self.world)
        self.epoch, self.start_step = 0, 0

    def set_epoch(self, epoch, start_step=0):
        self.epoch, self.start_step = int(epoch), int(start_step)

    def shard(self, epoch, start_step=0):
        """The keys this rank trains on in ``epoch`` from global step ``start_step`` on, in order."""
        keys, g = self.order(epoch), self.batch * self.world
        out = []
        for step in range(start_step, self.steps_per_epoch):
            first = step * g + self.rank * self.batch
            out.extend(keys[first:first + self.batch])
        return out

    def __iter__(self):
        return iter(self.shard(self.epoch, self.start_step))

    def __len__(self):
        return (self.steps_per_epoch - self.start_step) * self.batch


def check_shards(n, batch, world, what='training samples per epoch', flag='--batchSize'):
    """Refuse a data-parallel run in which a global batch does not fit in an epoch.

    Raises:
        ValueError: ``batch x world > n`` (one line naming the numbers).
    """
    if world > 1 and batch * world > n:
        raise ValueError(f'{world} ranks x {flag}={batch} = global batch {batch * world} is more than the {n} '
                         f'{what}: every rank needs its own shard; use fewer ranks, a smaller {flag} or more data')


def port_problem(addr, port):
    """Why ``addr:port`` cannot be the rendezvous port (a one-line reason), or None when it is free.

    Only a port of this machine can be checked (``common.distributed.check_port_free``); another
    machine's is None (only it can tell).
    """
    try:
        infos = socket.getaddrinfo(addr, int(port), type=socket.SOCK_STREAM)
    except (socket.gaierror, ValueError) as err:
        return f'--master_addr={addr} --master_port={port}: cannot resolve ({err})'
    local = {'127.0.0.1', '::1', 'localhost', '0.0.0.0', socket.gethostname()}
    if addr not in local and not any(info[4][0].startswith('127.') for info in infos):
        return None
    try:
        common_distributed.check_port_free(f'{infos[0][4][0]}:{int(port)}', f'--master_port={port}')
    except OSError as err:
        return str(err)
    return None


def _main(argv):
    """``python3 -m torchzoo.dist --master_addr=A --master_port=P``: exit 1 with one line when the port is taken."""
    p = argparse.ArgumentParser(description='check the rendezvous port before torchrun', allow_abbrev=False)
    p.add_argument('--master_addr', default='127.0.0.1')
    p.add_argument('--master_port', type=int, default=29500)
    args = p.parse_args(argv)
    problem = port_problem(args.master_addr, args.master_port)
    if problem:
        print(f'error: {problem}', file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(_main(sys.argv[1:]))
