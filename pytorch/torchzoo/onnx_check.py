"""ONNX parity: the largest difference between onnxruntime and PyTorch on random inputs.

The RDN and LPTN exporters write an ONNX file only after this check passes at the export size and at
an odd second size (so that the dynamic axes are proven, not assumed).
"""
import numpy as np
import torch

__all__ = ['onnx_parity']


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
