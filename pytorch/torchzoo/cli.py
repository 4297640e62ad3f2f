"""The command-line contract of every PyTorch entry point: one ``error: ...`` line and a non-zero exit.

Built on :mod:`common.cli` (the zoo's one implementation): ``Parser`` is its ``FlagParser`` showing
defaults in ``--help``; ``run_cli`` also counts a ``KeyError`` (e.g. a key missing from an LMDB or a
checkpoint) as bad input, and gives the reason of an error raised in a DataLoader worker (PyTorch
re-raises it as "Caught ImageError in DataLoader worker process 0." with the reason only in the
worker's traceback below that line).
"""
import argparse
import re

from common.cli import FlagParser, error_line, str2bool
from common.cli import EXPECTED_ERRORS as _EXPECTED
from common.cli import run_cli as _run_cli

__all__ = ['Parser', 'str2bool', 'error_line', 'worker_error_line', 'run_cli']

_WORKER = re.compile(r'^Caught (\w+) (in DataLoader worker process \d+)\.')


class Parser(FlagParser):
    """ArgumentParser with one-line errors; ``--help`` is unchanged.

    Args:
        *args: As ``argparse.ArgumentParser``.
        **kwargs: As ``argparse.ArgumentParser``; ``formatter_class`` defaults to showing defaults.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)


def worker_error_line(err):
    """The one-line message of an error re-raised from a DataLoader worker: the worker's own message and
    where it was raised, e.g. ``x.png: cannot decode image (in DataLoader worker process 0)``; None for
    any other error."""
    text = str(err).strip()
    if isinstance(err, KeyError) and text[:1] in ('"', "'"):
        text = text[1:-1]
    found = _WORKER.match(text)
    if not found:
        return None
    name, where = found.groups()
    head = re.compile(rf'^(?:[\w.]+\.)?{name}: ?(.*)$')
    for line in reversed(text.splitlines()):         # the worker's traceback ends with "<type>: <message>"
        own = head.match(line)
        if own:
            message = own.group(1).strip()
            if name == 'KeyError' and len(message) > 1 and message[0] == message[-1] and message[0] in '"\'':
                message = message[1:-1]
            return f'{message} ({where})'
    return f'{name} {where}, no message'


def run_cli(main, argv=None):
    """Run ``main(argv)``; expected failures (ValueError, OSError, KeyError) print one ``error: ...``
    line and exit with status 2.

    Args:
        main (callable): The entry point, ``main(argv) -> None``.
        argv (list[str] | None): Arguments. Default: None (``sys.argv[1:]``).
    """
    expected = _EXPECTED + (KeyError,)

    def unwrapped(args):
        try:
            return main(args)
        except expected as err:
            line = worker_error_line(err)
            if line is None:
                raise
            raise ValueError(line) from err

    _run_cli(unwrapped, argv, expected=expected)
