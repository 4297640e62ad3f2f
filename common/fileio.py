"""Crash-safe files and folders: nothing half-written under a final name, whatever kills the process.

A file goes to a hidden temporary file in the target folder, is fsync'd and renamed into place, and
the folder is fsync'd (:func:`atomic_write_bytes`), so a crash (even ``kill -9`` or a power cut)
never leaves a partial file under the final name. Folders are built the same way: under a hidden
name, then swapped into place in one rename (:func:`building_dir`). :func:`check_disjoint` refuses an
output that is, holds or lies inside an input.

Leftovers of a killed process are named after its pid: ``.{name}.building-{pid}-{hex}`` and
``.{name}.old-{pid}-{hex}`` folders, ``.{name}.{pid}.{hex}.tmp`` files. They never stand under a final
name; :func:`remove_dead_builds` (run by every :func:`building_dir`) and :func:`remove_dead_temps`
remove those whose process is gone.
"""
import contextlib
import ctypes
import errno
import os
import re
import shutil
import uuid
from pathlib import Path

__all__ = ['atomic_write_bytes', 'building_dir', 'check_disjoint', 'check_outside_checkpoint', 'remove_dead_builds', 'remove_dead_temps',
           'fsync_file', 'fsync_dir', 'fsync_tree']

_AT_FDCWD = -100          # <fcntl.h>: paths relative to the current directory
_RENAME_NOREPLACE = 1     # <linux/fs.h>: fail with EEXIST instead of replacing
_RENAME_EXCHANGE = 2      # <linux/fs.h>: swap the two names atomically
_TEMP_NAME = re.compile(r'^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}\.tmp$')


def fsync_file(path):
    """fsync one file by name (for files a framework's own writer produced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path, data):
    """Write ``data`` to ``path`` durably: temporary file in the same folder, fsync, ``os.replace``.

    The temporary file is ``.{name}.{pid}.{hex}.tmp`` (unique per call, so concurrent writers never
    share one); it is fsync'd before the rename and the folder is fsync'd after it, so after a crash
    the file is either the old one or the complete new one. A temporary file left by a killed process
    is harmless; :func:`remove_dead_temps` removes it. Parent folders are created. The final file
    gets the usual permissions (0666 minus the umask).

    Args:
        path (str | Path): Target file.
        data (bytes): Content.

    Raises:
        OSError: When the folder cannot be created or written; the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f'.{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp'
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def fsync_dir(path):
    """fsync a folder, so the names created, renamed or removed in it survive a crash.

    Filesystems that cannot fsync a folder (EINVAL, ENOTSUP) are skipped silently.

    Args:
        path (str | Path): The folder.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def fsync_tree(path):
    """fsync every regular file below ``path`` and every folder, ``path`` itself last.

    Symbolic links are not followed.

    Args:
        path (str | Path): A folder.
    """
    for root, _dirs, files in os.walk(path, topdown=False):
        for name in files:
            file = os.path.join(root, name)
            if os.path.islink(file) or not os.path.isfile(file):
                continue
            fd = os.open(file, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(root)


def _pid_alive(pid):
    """True unless process ``pid`` is known to be gone (a process we may not signal counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path):
    """Remove a file, a symbolic link or a whole folder."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def remove_dead_builds(target):
    """Remove the ``.{name}.building-{pid}-{hex}`` and ``.{name}.old-{pid}-{hex}`` siblings of ``target``
    whose process is gone (a build or an overwrite killed before it could clean up).

    Folders of live processes (or of processes this user may not signal) are left alone. A pid reused
    by an unrelated live process keeps its leftover until that process ends.

    Args:
        target (str | Path): The final folder name those leftovers belong to.

    Returns:
        list[Path]: The folders removed.
    """
    target = Path(target)
    pattern = re.compile(rf'^\.{re.escape(target.name)}\.(?:building|old)-(\d+)-[0-9a-f]+$')
    removed = []
    try:
        names = os.listdir(target.parent)
    except FileNotFoundError:
        return removed
    for name in sorted(names):
        match = pattern.match(name)
        if match and not _pid_alive(int(match.group(1))):
            path = target.parent / name
            try:
                _remove(path)
            except FileNotFoundError:      # another process cleaned it first
                continue
            removed.append(path)
    return removed


def remove_dead_temps(folder, name=None):
    """Remove the ``.{name}.{pid}.{hex}.tmp`` files of :func:`atomic_write_bytes` whose process is gone.

    Such a file is what a write killed before its rename leaves behind (e.g. an orphaned checkpoint);
    the final file is untouched by it. Temporary files of live processes are left alone.

    Args:
        folder (str | Path): The folder to clean (not recursive).
        name (str | None): Only the temporary files of this final file name. Default: None (all).

    Returns:
        list[Path]: The files removed.
    """
    folder = Path(folder)
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for entry in sorted(names):
        match = _TEMP_NAME.match(entry)
        if not match or (name is not None and match.group('name') != name):
            continue
        if _pid_alive(int(match.group('pid'))):
            continue
        path = folder / entry
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


def check_disjoint(output, source, output_flag, source_flag):
    """Refuse an output folder that is, contains or lies inside a source folder.

    Both paths are resolved (symbolic links, '..') before comparing.

    Args:
        output (str | Path): The folder a tool will create or replace.
        source (str | Path): A folder it reads.
        output_flag (str): How the output is named on the command line, e.g. '--output_folder'.
        source_flag (str): How the source is named, e.g. '--src_folder'.

    Raises:
        ValueError: One line naming both flags and paths.
    """
    out, src = Path(output).resolve(), Path(source).resolve()
    if out == src:
        relation = 'is'
    elif src in out.parents:
        relation = 'lies inside'
    elif out in src.parents:
        relation = 'contains'
    else:
        return
    raise ValueError(f'{output_flag}={output} {relation} {source_flag}={source}; '
                     f'choose an output outside the source')


def check_outside_checkpoint(output, checkpoint, output_flag, checkpoint_flag):
    """Refuse an output that is or lies inside the folder of a checkpoint given as a folder or a prefix.

    A TensorFlow checkpoint is named by a folder (its newest checkpoint) or a prefix such as
    ``model_dir/RCAN_X2-1000``; its folder is the path itself or the prefix's parent. The one
    exception is a checkpoint folder that is the working folder or holds it: the references' default
    ``--pre_trained_model ./`` runs inside the checkpoint folder, with results in a subfolder of it.

    Raises:
        ValueError: One line naming both flags and paths.
    """
    ckpt = Path(checkpoint).resolve()
    folder = ckpt if ckpt.is_dir() else ckpt.parent
    cwd = Path.cwd().resolve()
    if folder == cwd or folder in cwd.parents:
        return
    out = Path(output).resolve()
    if out == folder or folder in out.parents:
        raise ValueError(f'{output_flag}={output} lies in the checkpoint folder of {checkpoint_flag}={checkpoint}; '
                         f'choose an output outside it')


_RENAMEAT2 = []    # [function or None], looked up once


def _renameat2(src, dst, flags):
    """Linux ``renameat2(2)``; returns False where it is unavailable (no libc symbol, ENOSYS, EINVAL).

    EINVAL is what kernels and filesystems without the flag (e.g. some network filesystems) return.
    """
    if not _RENAMEAT2:
        try:
            func = ctypes.CDLL(None, use_errno=True).renameat2
            func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
            func.restype = ctypes.c_int
        except (AttributeError, OSError):
            func = None
        _RENAMEAT2.append(func)
    func = _RENAMEAT2[0]
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL):
        return False
    raise OSError(err, os.strerror(err), str(src), None, str(dst))


def _rename_noreplace(src, dst):
    """Rename ``src`` to ``dst``, raising FileExistsError if ``dst`` exists (atomically where possible).

    Without renameat2 the check and the rename are two steps (a race only with another writer).
    """
    if _renameat2(src, dst, _RENAME_NOREPLACE):
        return
    if os.path.lexists(dst):
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dst))
    os.rename(src, dst)


def _exchange(new, target):
    """Put folder ``new`` at ``target`` and return where the previous ``target`` now is.

    With Linux ``renameat2(RENAME_EXCHANGE)`` the two names are swapped in one step, so ``target``
    names the complete old or the complete new folder at every moment; the old one ends up at ``new``'s
    name. Where renameat2 is unavailable the fallback renames ``target`` away to a
    ``.{name}.old-{pid}-{hex}`` sibling and ``new`` into place: a crash between the two renames leaves
    nothing at ``target`` (the old folder survives under the ``.old-`` name until the next build).
    """
    if _renameat2(new, target, _RENAME_EXCHANGE):
        return Path(new)
    old = target.parent / f'.{target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    os.rename(target, old)
    os.rename(new, target)
    return old


def _check_replaceable(target, overwrite, marker, when):
    """Raise FileExistsError unless ``target`` is absent or may be replaced."""
    if not (target.exists() or target.is_symlink()):
        return
    if not overwrite:
        raise FileExistsError(f'{target}: {when} (use overwrite to replace it)')
    if marker is not None and not (target.is_dir() and (target / marker).is_file()):
        kind = '' if target.is_dir() else 'is a file, '
        raise FileExistsError(f'{target}: {kind}not built by this tool: no {marker} in it; '
                              f'remove it yourself or choose another output')


@contextlib.contextmanager
def building_dir(target, overwrite=False, marker=None):
    """Build a folder atomically: yield a hidden temporary folder next to ``target``, rename it at the end.

    First the leftovers of killed builds of ``target`` are removed (:func:`remove_dead_builds`). The
    body fills ``.{name}.building-{pid}-{hex}``; when it returns, every file and folder in it is
    fsync'd, it is renamed to ``target`` and the parent folder is fsync'd. If the body raises (or the
    process dies), ``target`` is untouched and no half-built folder appears under its name.

    With ``overwrite=True`` an existing ``target`` is replaced only after the new one is complete, by
    swapping the two names in one step (Linux ``renameat2(RENAME_EXCHANGE)``), then the old folder is
    removed: ``target`` always names the complete old or the complete new folder. Where renameat2 is
    unavailable the old folder is renamed away first, leaving a moment with nothing at ``target``.

    Args:
        target (str | Path): The folder to create.
        overwrite (bool): Replace an existing ``target``. Default: False.
        marker (str | None): File name that marks a folder this tool built (e.g. 'meta.json'); with
            ``overwrite`` an existing ``target`` is replaced only if it is a folder holding it.
            Default: None (any existing ``target`` may be replaced).

    Yields:
        Path: The temporary folder to fill.

    Raises:
        FileExistsError: ``target`` exists and ``overwrite`` is False, or it lacks ``marker`` (checked
            before and after building).
    """
    target = Path(target)
    _check_replaceable(target, overwrite, marker, 'already exists')
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_builds(target)
    tmp = target.parent / f'.{target.name}.building-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    tmp.mkdir()
    try:
        yield tmp
        fsync_tree(tmp)
        try:
            _rename_noreplace(tmp, target)
            old = None
        except FileExistsError:
            _check_replaceable(target, overwrite, marker, 'appeared while building')
            old = _exchange(tmp, target)
        fsync_dir(target.parent)
        if old is not None:
            _remove(old)
    finally:
        if tmp.is_symlink() or tmp.is_file():      # an exchanged-away old target that was not a folder
            tmp.unlink()
        elif tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
