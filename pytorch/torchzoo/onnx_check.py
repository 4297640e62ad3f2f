"""What the RDN and LPTN exporters share: the opsets this torch exports, the output file checked before
any work, errors that name the user's path, and ONNX parity (the largest difference between
onnxruntime and PyTorch on random inputs).

An exporter writes its ONNX file only after the parity check passes at the export size and at an odd
second size (so that the dynamic axes are proven, not assumed).
"""
import contextlib
import os
from pathlib import Path

import numpy as np
import torch

__all__ = ['onnx_parity', 'opset_range', 'check_opset', 'check_output_file', 'export_errors']


def opset_range():
    """``(lowest, highest)`` ONNX opset that this torch's TorchScript exporter writes."""
    try:
        from torch.onnx import _constants
        return int(_constants.ONNX_MIN_OPSET), int(_constants.ONNX_MAX_OPSET)
    except (ImportError, AttributeError):            # another torch layout: the range torch 2.x documents
        return 7, 20


def check_opset(opset, flag='--opset'):
    """Refuse an opset outside :func:`opset_range`, in one line naming the range."""
    low, high = opset_range()
    if not low <= opset <= high:
        raise ValueError(f'{flag}={opset}: torch {torch.__version__} exports ONNX opsets {low} to {high}')


def check_output_file(out, flag):
    """Refuse, before any work, an output file that cannot be written: a folder, a missing or read-only
    parent folder (one line naming ``flag`` and the path)."""
    out = Path(out)
    if out.is_dir():
        raise ValueError(f'{flag}: {out} is a folder, expected a file name')
    parent = out.parent
    if not parent.is_dir():
        raise FileNotFoundError(f'{flag}: folder {parent} does not exist')
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f'{flag}: cannot write in {parent} (permission denied)')


@contextlib.contextmanager
def export_errors(out, flag, opset):
    """Turn what the export can meet into one line naming the user's path (not the temporary file an
    atomic write uses) or the opset that the network cannot be written at."""
    from torch.onnx.errors import OnnxExporterError
    try:
        yield
    except OSError as err:
        if err.strerror is None:                     # one of ours, already a sentence
            raise
        raise ValueError(f'{flag}: cannot write {out} ({err.strerror})') from None
    except OnnxExporterError as err:
        text = str(err).strip()
        reason = text.splitlines()[0].split(' [Caused by ')[0].strip() if text else type(err).__name__
        raise ValueError(f'--opset={opset}: this network cannot be exported at this opset ({reason}); '
                         f'try a higher one, e.g. the default 17') from None


def onnx_parity(model_file, net, sizes, channels, input_name, output_name, seed=0):
    """Largest |onnxruntime - PyTorch| over random NCHW inputs of the (h, w) sizes.

    Args:
        model_file (str | bytes): The ONNX model, a path or the serialized bytes.
        net (torch.nn.Module): The module that was exported, on the CPU, in eval mode.
        sizes (list[tuple[int, int]]): Input heights and widths to try.
        channels (int): Input channels.
        input_name (str): The graph's input name; ``output_name`` its output.
        seed (int): For the random inputs. Default: 0.

    Raises:
        ValueError: onnxruntime's output has another shape than PyTorch's.
    """
    import onnxruntime as ort
    session = ort.InferenceSession(model_file if isinstance(model_file, bytes) else str(model_file),
                                   providers=['CPUExecutionProvider'])
    rng, worst = np.random.default_rng(seed), 0.0
    for h, w in sizes:
        x = rng.random((1, channels, h, w), dtype=np.float32)
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        got = session.run([output_name], {input_name: x})[0]
        if got.shape != ref.shape:
            where = '' if isinstance(model_file, bytes) else f'{model_file}: '
            raise ValueError(f'{where}onnxruntime gave shape {got.shape} for a {h}x{w} input, PyTorch {ref.shape}')
        worst = max(worst, float(np.max(np.abs(got - ref))))
    return worst
