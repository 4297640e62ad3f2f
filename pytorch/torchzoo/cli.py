"""The command-line contract of every PyTorch entry point: one ``error: ...`` line and a non-zero exit.

``Parser`` is an ``argparse.ArgumentParser`` whose usage errors are one line (``error: --flag ...``,
exit 2) instead of a usage block; ``run_cli`` turns the expected failures of a run (bad flags, files,
images, checkpoints; ``ValueError`` and ``OSError`` and their subclasses) into that line too.
"""
import argparse
import sys

__all__ = ['Parser', 'str2bool', 'error_line', 'run_cli']

_TRUE = {'true', '1', 'yes', 'y', 'on'}
_FALSE = {'false', '0', 'no', 'n', 'off'}


class Parser(argparse.ArgumentParser):
    """ArgumentParser with one-line errors; ``--help`` is unchanged.

    Args:
        *args: As ``argparse.ArgumentParser``.
        **kwargs: As ``argparse.ArgumentParser``; ``formatter_class`` defaults to showing defaults.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault('formatter_class', argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        print(f'error: {message}', file=sys.stderr)
        sys.exit(2)


def str2bool(text):
    """Parse a boolean flag value: true/false, 1/0, yes/no, on/off (any case); anything else is an error.

    Used with ``nargs='?', const=True`` so that ``--resume``, ``--resume=True`` and ``--resume=False``
    all work.
    """
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got '{text}'")


def error_line(err):
    """The one line an expected failure prints after ``error: ``.

    A system OSError (no message of ours) reads ``<file>: <reason>``; anything else its first line.
    """
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        return f'{err.filename}: {err.strerror}'
    text = str(err).strip()
    if isinstance(err, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]
    return text.splitlines()[0] if text else type(err).__name__


def run_cli(main, argv=None):
    """Run ``main(argv)``; expected failures print one ``error: ...`` line and exit with status 2.

    Args:
        main (callable): The entry point, ``main(argv) -> None``.
        argv (list[str] | None): Arguments. Default: None (``sys.argv[1:]``).
    """
    try:
        main(argv)
    except (ValueError, OSError, KeyError) as err:
        print(f'error: {error_line(err)}', file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print('error: interrupted', file=sys.stderr)
        sys.exit(130)
