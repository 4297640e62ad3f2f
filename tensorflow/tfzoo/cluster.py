"""Data-parallel training on TensorFlow's own runtime, and the Ascend HCCL path.

Between-graph replication (TF1): every process runs the same script with its own ``TF_CONFIG``::

    {"cluster": {"ps": ["10.0.0.1:2222"], "worker": ["10.0.0.2:2222", "10.0.0.3:2222"]},
     "task": {"type": "worker", "index": 0}}

A ``ps`` task serves the variables and never returns. Worker ``i`` builds the graph under
``replica_device_setter`` (variables on the parameter servers, compute on itself), reads its own shard
of the data, and every step pushes its gradients. The updates are strictly synchronous:
:class:`SyncAverager` applies the mean of exactly one gradient from each worker per step (worker 0, the
chief, applies it and then releases every worker into the next step), so N workers with batch B train
as one process with batch N x B. ``SyncReplicasOptimizer`` does not promise that: a fast worker may
fill the aggregate with two of its own gradients.

``tensorflow/tfzoo/launch.py`` starts such a cluster on one machine. On Ascend the ModelZoo's HCCL
path applies instead (``RANK_SIZE`` / ``RANK_ID`` / ``RANK_TABLE_FILE`` and ``npu_bridge``'s
``NPUDistributedOptimizer``): :func:`hccl_rank` and :func:`hccl_optimizer`.
"""
import importlib
import json
import os

import tensorflow as tf

from common.distributed import check_port_free

v1 = tf.compat.v1

__all__ = ['ENV', 'Cluster', 'SyncAverager', 'hccl_rank', 'hccl_optimizer']

ENV = 'TF_CONFIG'


class Cluster:
    """One task of a parameter-server cluster, from ``TF_CONFIG``.

    Args:
        spec (dict): ``{"ps": [addresses], "worker": [addresses]}``.
        task_type (str): 'ps' or 'worker'.
        task_index (int): Index within its job.
    """

    def __init__(self, spec, task_type, task_index):
        self.spec, self.task_type, self.task_index = spec, task_type, int(task_index)
        self.server = None

    @classmethod
    def from_env(cls, environ=None):
        """The task that ``TF_CONFIG`` describes (checked: one line naming what is wrong), or None when unset."""
        text = (os.environ if environ is None else environ).get(ENV, '').strip()
        if not text:
            return None
        try:
            config = json.loads(text)
        except ValueError as e:
            raise ValueError(f'{ENV}: not JSON ({e})') from None
        spec, task = config.get('cluster'), config.get('task')
        if not isinstance(spec, dict) or not isinstance(task, dict):
            raise ValueError(f'{ENV}: expected {{"cluster": {{...}}, "task": {{"type": ..., "index": ...}}}}')
        unknown = sorted(set(spec) - {'ps', 'worker'})
        if unknown:
            raise ValueError(f'{ENV}: cluster job {unknown[0]!r} is not supported (expected ps and worker)')
        for job in ('ps', 'worker'):
            hosts = spec.get(job)
            if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and ':' in h for h in hosts):
                raise ValueError(f'{ENV}: cluster.{job} must be a non-empty list of "host:port" strings')
        kind, index = task.get('type'), task.get('index', 0)
        if kind not in ('ps', 'worker'):
            raise ValueError(f'{ENV}: task.type must be "ps" or "worker", got {kind!r}')
        if not isinstance(index, int) or not 0 <= index < len(spec[kind]):
            raise ValueError(f'{ENV}: task.index must be 0..{len(spec[kind]) - 1} for job {kind}, got {index!r}')
        return cls({'ps': list(spec['ps']), 'worker': list(spec['worker'])}, kind, index)

    @property
    def num_workers(self):
        return len(self.spec['worker'])

    @property
    def is_chief(self):
        return self.task_type == 'worker' and self.task_index == 0

    @property
    def address(self):
        return self.spec[self.task_type][self.task_index]

    @property
    def name(self):
        return f'{self.task_type} {self.task_index}'

    def start(self, config=None):
        """Start this task's gRPC server (after checking that its port is free); returns it."""
        check_port_free(self.address, f'{ENV} {self.name}')
        self.server = v1.train.Server(v1.train.ClusterSpec(self.spec), job_name=self.task_type,
                                      task_index=self.task_index, config=config, start=True)
        return self.server

    def serve(self):
        """A parameter server: serve the variables until the process is stopped (never returns)."""
        print(f'parameter server {self.task_index} serving at {self.address}', flush=True)
        self.server.join()

    def device_setter(self):
        """Variables on the parameter servers, everything else on this worker."""
        return v1.train.replica_device_setter(worker_device=f'/job:worker/task:{self.task_index}',
                                              cluster=v1.train.ClusterSpec(self.spec))

    def session(self, graph, config=None):
        """A Session of ``graph`` on this task's server (call :meth:`start` first)."""
        return v1.Session(self.server.target, graph=graph, config=config)


class SyncAverager:
    """Strictly synchronous gradient averaging over the workers of a :class:`Cluster`.

    Build it in the training graph (under the cluster's device setter). Per step, every worker runs
    :meth:`take` (blocks until the chief releases step k), then ``push`` (its gradients into its own
    one-slot queue on the first parameter server); the chief then runs ``apply_op`` (dequeues exactly one
    gradient from each worker, averages, applies) and :meth:`release` (step k + 1 for every worker).

    Args:
        cluster (Cluster): This worker's task.
        variables (list[tf.Variable]): The trained variables, in a fixed order.
        name (str): Prefix of the shared queues. Default: 'sync'.
    """

    def __init__(self, cluster, variables, name='sync'):
        self.cluster, self.variables = cluster, list(variables)
        n, rank = cluster.num_workers, cluster.task_index
        dtypes = [v.dtype.base_dtype for v in self.variables]
        shapes = [v.shape for v in self.variables]
        with v1.device('/job:ps/task:0'):
            self._grads = [tf.queue.FIFOQueue(1, dtypes, shapes, shared_name=f'{name}_grads_{i}', name=f'{name}_grads_{i}')
                           for i in range(n)]
            self._tokens = [tf.queue.FIFOQueue(2, [tf.int64], [[]], shared_name=f'{name}_tokens_{i}',
                                               name=f'{name}_tokens_{i}') for i in range(n)]
        self._step_in = v1.placeholder(tf.int64, [], name=f'{name}_release_step')
        self._release = tf.group(*[q.enqueue([self._step_in]) for q in self._tokens])
        self._take = self._tokens[rank].dequeue()
        self._rank = rank

    def push(self, grads):
        """The op that hands this worker's gradients (aligned with ``variables``; None: zeros) to the chief."""
        full = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, self.variables)]
        return self._grads[self._rank].enqueue(full)

    def mean_gradients(self):
        """(chief) The mean of one gradient from every worker, aligned with ``variables``."""
        parts = []
        for q in self._grads:
            got = q.dequeue()
            parts.append(got if isinstance(got, (list, tuple)) else [got])
        n = float(len(parts))
        return [tf.add_n([p[j] for p in parts]) / n for j in range(len(self.variables))]

    def take(self, sess):
        """Block until the chief releases a step; returns its number (>= max steps: stop)."""
        return int(sess.run(self._take))

    def release(self, sess, step):
        """(chief) Let every worker run step ``step``."""
        sess.run(self._release, {self._step_in: int(step)})


# --- Ascend: HCCL through npu_bridge --------------------------------------------------------------

def hccl_rank(environ=None):
    """(rank, rank count) of an Ascend multi-device run from ``RANK_ID`` / ``RANK_SIZE`` (1 device: (0, 1)).

    A run on more than one device needs ``RANK_TABLE_FILE`` naming an existing rank table, as the
    ModelZoo's 8p scripts export it; it is checked here, before anything is built.
    """
    env = os.environ if environ is None else environ
    try:
        size, rank = int(env.get('RANK_SIZE', '1')), int(env.get('RANK_ID', env.get('DEVICE_INDEX', '0')))
    except ValueError:
        raise ValueError(f"RANK_SIZE={env.get('RANK_SIZE')!r} / RANK_ID={env.get('RANK_ID')!r}: expected integers") from None
    if size < 1 or not 0 <= rank < size:
        raise ValueError(f'RANK_ID={rank} must be in 0..RANK_SIZE-1 (RANK_SIZE={size})')
    if size > 1:
        table = env.get('RANK_TABLE_FILE', '')
        if not table:
            raise ValueError(f'RANK_SIZE={size} needs RANK_TABLE_FILE (the HCCL rank table JSON), which is unset')
        if not os.path.isfile(table):
            raise ValueError(f'RANK_TABLE_FILE={table}: no such file (the HCCL rank table JSON)')
    return rank, size


def hccl_optimizer(optimizer, rank_size):
    """On Ascend with more than one device: ``npu_bridge``'s ``NPUDistributedOptimizer`` around
    ``optimizer`` (its gradients all-reduced over HCCL), as the ModelZoo's TF ports wrap it; else as is."""
    if rank_size <= 1:
        return optimizer
    module = importlib.import_module('npu_bridge.estimator.npu.npu_optimizer')
    return module.NPUDistributedOptimizer(optimizer)

