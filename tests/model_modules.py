"""Keep a model folder's generically named modules out of other tests' way.

Model folders keep their reference's flat module names (``src``, ``model``, ``dataset``, ``utils``,
``train``, ``ops``, ...), which other models share. Each model's conftest imports its modules once,
with the model folder first on ``sys.path``, inside :meth:`ModelModules.active`; afterwards they are
taken out of ``sys.modules`` and put back only while that model's test modules run (entry points
import some of them lazily, and MindSpore's graph compiler resolves a Cell's module by name).
"""
import contextlib
import sys

__all__ = ['ModelModules']


class ModelModules:
    """The top-level module names of one model folder, swapped into ``sys.modules`` on demand.

    Args:
        top_level (Iterable[str]): Top-level names the folder owns (their submodules count too).
        paths (Iterable[str | Path]): Folders put first on ``sys.path`` while importing.
    """

    def __init__(self, top_level, paths):
        self.top_level = set(top_level)
        self.paths = [str(p) for p in paths]
        self._ours = {}             # the model's modules while they are swapped out

    def _is_ours(self, name):
        return name.split('.')[0] in self.top_level

    @contextlib.contextmanager
    def active(self, with_path=True):
        """Within the block, the model's modules (imported so far) are in ``sys.modules``.

        Args:
            with_path (bool): Also put the model's folders first on ``sys.path``. Default: True.
        """
        foreign = {k: sys.modules.pop(k) for k in list(sys.modules) if self._is_ours(k)}
        sys.modules.update(self._ours)
        saved_path = list(sys.path)
        if with_path:
            sys.path[:0] = self.paths
        try:
            yield
        finally:
            self._ours = {k: sys.modules.pop(k) for k in list(sys.modules) if self._is_ours(k)}
            sys.modules.update(foreign)
            sys.path[:] = saved_path
