"""What every framework's data-parallel launch checks the same way: that a port is free before a
cluster starts (one clear line instead of a hang or a gRPC/NCCL traceback in every process) and that
each rank gets a data shard of its own."""
import socket

__all__ = ['check_port_free', 'shard_indices']


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
