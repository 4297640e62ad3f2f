"""The bench registry: a name -> how to run its bench, where its record goes and which document shows it.

A plain dict, no import-time scanning (one broken model cannot take the others down). Each bench is a
script run as a subprocess from the repository root, so every framework gets its own process. A model
joins the registry when it lands; ``scaling`` (data-parallel throughput) and ``imresize`` (common's
resize and SSIM against BasicSR) are tool benches: ``make bench`` without MODEL leaves them out.
"""
import importlib
from dataclasses import dataclass

from common.records import BEGIN_MARK, END_MARK
from tools import bench_scaling


@dataclass(frozen=True)
class BenchEntry:
    """How to bench one model (or tool).

    Args:
        script (str): Python script (path from the repo root) or `-m module` target; it takes
            ``--out RECORD``.
        record (str): Result record it writes (path from the repo root).
        readme (str): Document whose marked block is regenerated from the record.
        render (str): ``module:function`` that turns the record into that block. Default: the model
            results table of common.records.
        markers (tuple[str, str]): The block's begin and end markers. Default: the results markers.
        model (bool): A model bench (``make bench`` without MODEL runs it). Default: True.
    """
    script: str
    record: str
    readme: str
    render: str = 'common.records:render_record'
    markers: tuple = (BEGIN_MARK, END_MARK)
    model: bool = True

    def command(self, python):
        """The argv that runs this bench with `python`."""
        target = ['-m', self.script[3:]] if self.script.startswith('-m ') else [self.script]
        return [python, *target, '--out', self.record]

    def block(self, record):
        """The document block rendered from ``record``."""
        module, function = self.render.split(':')
        return getattr(importlib.import_module(module), function)(record)


REGISTRY = {
    'bicubic': BenchEntry('-m tools.bench_bicubic', 'results/bicubic_bench.json', 'README.md'),
    'srcnn': BenchEntry('mindspore/srcnn/bench.py', 'results/srcnn_bench.json', 'mindspore/srcnn/README.md'),
    'rcan': BenchEntry('tensorflow/rcan/bench.py', 'results/rcan_bench.json', 'tensorflow/rcan/README.md'),
    'bsrn': BenchEntry('tensorflow/bsrn/bench.py', 'results/bsrn_bench.json', 'tensorflow/bsrn/README.md'),
    'rdn': BenchEntry('pytorch/rdn/bench.py', 'results/rdn_bench.json', 'pytorch/rdn/README.md'),
    'lptn': BenchEntry('pytorch/lptn/bench.py', 'results/lptn_bench.json', 'pytorch/lptn/README.md'),
    'scaling': BenchEntry('-m tools.bench_scaling', 'results/scaling_bench.json', 'docs/scaling.md',
                          render='tools.bench_scaling:render', markers=(bench_scaling.BEGIN, bench_scaling.END),
                          model=False),
    'imresize': BenchEntry('-m tools.bench_imresize', 'results/imresize_bench.json', 'docs/protocol.md',
                           render='tools.bench_imresize:render_speed_table', model=False),
}
