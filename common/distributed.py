"""What every framework's data-parallel launch checks the same way: that a port is free before a
cluster starts (one clear line instead of a hang or a gRPC/NCCL traceback in every process), that
each rank gets a data shard of its own, and that a bad input ends every rank with the same one line,
written before any rank exits (the launchers, torchrun and msrun, stop every process once one has
failed, so a fast rank's exit would otherwise cut a slow rank's message short)."""
import socket
import sys

from common.cli import error_line

__all__ = ['check_port_free', 'shard_indices', 'agree', 'every_rank', 'exit_together']


def check_port_free(address, what):
    """Raise OSError naming ``what`` when ``host:port`` cannot be bound on this machine.

    Args:
        address (str): 'host:port' (IPv4 host or name).
        what (str): The flag or setting the address came from, for the message.
    """
    host, _, port = address.rpartition(':')
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError as e:
            raise OSError(f'{what}: port {address} is in use ({e.strerror}); free it or choose another') from None


def shard_indices(count, rank, ranks, what):
    """The items of rank ``rank`` among ``count``: every ``ranks``-th one from ``rank``.

    Args:
        count (int): Items (e.g. training images).
        rank (int): This rank, 0..ranks-1.
        ranks (int): Number of ranks.
        what (str): The flag or folder the items come from, for the message.

    Raises:
        ValueError: Fewer items than ranks (some rank would get nothing).
    """
    if count < ranks:
        raise ValueError(f'{what} holds {count} images, fewer than the {ranks} ranks: each rank needs a shard '
                         f'of its own (use fewer ranks or more images)')
    return list(range(rank, count, ranks))


def agree(step, is_root, share, barrier):
    """Run ``step()`` on the root rank only and return its result on every rank.

    An expected failure of the root (ValueError, OSError) ends every rank with the root's one-line
    message (:func:`exit_together`).

    Args:
        step (callable): What only the root does (open the run folder, read a checkpoint).
        is_root (bool): Whether this process is the root (rank 0).
        share (callable): ``share(obj)`` -> the root's ``obj`` on every rank (the framework's broadcast).
        barrier (callable): Returns once every rank has called it.
    """
    outcome = None
    if is_root:
        try:
            outcome = ('ok', step())
        except (ValueError, OSError) as err:
            outcome = ('error', error_line(err))
    kind, value = share(outcome)
    if kind == 'error':
        exit_together(value, barrier)
    return value


def every_rank(check, gather, barrier):
    """Run ``check()`` on every rank; if it fails on any, every rank exits with the first failure's line.

    For the input checks each rank makes itself (the data every rank reads alike).

    Args:
        check (callable): The check; its result is returned when no rank failed.
        gather (callable): ``gather(obj)`` -> every rank's ``obj`` by rank (the framework's all-gather).
        barrier (callable): Returns once every rank has called it.
    """
    result, message = None, None
    try:
        result = check()
    except (ValueError, OSError) as err:
        message = error_line(err)
    failed = [m for m in gather(message) if m is not None]
    if failed:
        exit_together(failed[0], barrier)
    return result


def exit_together(message, barrier):
    """Print ``error: message``, wait until every rank has printed its own, then exit 2 (``run_cli``'s code)."""
    print(f'error: {message}', file=sys.stderr, flush=True)
    barrier()
    sys.exit(2)
