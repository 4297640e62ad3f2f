"""The bench registry: a model name -> how to run its bench and where its results go.

A plain dict, no import-time scanning (one broken model cannot take the others down). Each bench
is a script run as a subprocess from the repository root, so every framework gets its own process.
A model joins the registry when it lands.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class BenchEntry:
    """How to bench one model.

    Args:
        script (str): Python script (path from the repo root) or `-m module` target.
        record (str): Result record it writes (path from the repo root).
        readme (str): README whose results block is regenerated from the record.
        framework (str): Framework the script imports.
    """
    script: str
    record: str
    readme: str
    framework: str

    def command(self, python):
        """The argv that runs this bench with `python`."""
        target = ['-m', self.script[3:]] if self.script.startswith('-m ') else [self.script]
        return [python, *target, '--out', self.record]


REGISTRY = {
    'bicubic': BenchEntry('-m tools.bench_bicubic', 'results/bicubic_bench.json', 'README.md', 'none'),
    'srcnn': BenchEntry('mindspore/srcnn/bench.py', 'results/srcnn_bench.json',
                        'mindspore/srcnn/README.md', 'mindspore'),
    'rcan': BenchEntry('tensorflow/rcan/bench.py', 'results/rcan_bench.json', 'tensorflow/rcan/README.md',
                       'tensorflow'),
    'bsrn': BenchEntry('tensorflow/bsrn/bench.py', 'results/bsrn_bench.json', 'tensorflow/bsrn/README.md',
                       'tensorflow'),
    'rdn': BenchEntry('pytorch/rdn/bench.py', 'results/rdn_bench.json', 'pytorch/rdn/README.md', 'pytorch'),
    'lptn': BenchEntry('pytorch/lptn/bench.py', 'results/lptn_bench.json', 'pytorch/lptn/README.md', 'pytorch'),
}
