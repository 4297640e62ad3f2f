"""Evaluate an exported ONNX SRCNN with onnxruntime (CUDA on GPU when available, else CPU).

Same data and metrics as eval.py. The ONNX model has a static input shape (export.py); every image is
evaluated at its own size through src.utils.static_predictor, the tiler of the offline flow too (the
reference resized the images to the export shape instead, which inflated its ONNX PSNR): an image at
least that shape is covered by tiles inside it, overlapping by 16 px, which gives exactly the
whole-image result; along an axis where it is smaller, the input is zero-padded past the far border,
which changes the output only within 8 px of that border. Prints the full report, then `PSNR: x`
as the reference does.

Usage:
    python eval_onnx.py --onnx_path=srcnn.onnx --data_path=/data/Set5 [--device_target=CPU]
"""
import numpy as np

from common.cli import run_cli
from src.dataset import list_eval_images, load_eval_images
from src.metric import evaluate_images, report
from src.model_utils.config import load_config
from src.utils import require_file, static_predictor


def onnx_session(onnx_path, device_target='CPU'):
    """An onnxruntime session; CUDA first when device_target is GPU and onnxruntime has it."""
    import onnxruntime as ort
    path = require_file(onnx_path, 'onnx_path')
    providers = ['CPUExecutionProvider']
    if device_target == 'GPU' and 'CUDAExecutionProvider' in ort.get_available_providers():
        providers.insert(0, 'CUDAExecutionProvider')
    try:
        return ort.InferenceSession(str(path), providers=providers)
    except Exception as err:  # onnxruntime raises its own exception types
        raise ValueError(f'--onnx_path={path}: onnxruntime cannot load it ({str(err).splitlines()[0]})') from None


def onnx_predictor(session):
    """predict(Y (H, W)) for a session whose input is [1, 1, h, w] (static)."""
    inp = session.get_inputs()[0]
    _, _, height, width = inp.shape
    if not (isinstance(height, int) and isinstance(width, int)):
        raise ValueError(f'ONNX input {inp.name} has shape {inp.shape}; expected a static [1, 1, H, W]')

    def run(y):
        return session.run(None, {inp.name: y[None, None].astype(np.float32)})[0][0, 0]
    return static_predictor(run, height, width)


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    images = load_eval_images(list_eval_images(cfg.data_path, cfg.scale, cfg.lr_path))
    session = onnx_session(cfg.onnx_path, cfg.device_target)
    result = evaluate_images(onnx_predictor(session), images, cfg.scale)
    print(f"providers: {', '.join(session.get_providers())}")
    headline = report(result, cfg.metric, title=f'{cfg.onnx_path} on {cfg.data_path} x{cfg.scale}, {len(images)} images')
    print(f"PSNR: {headline['PSNR']:.4f}")
    return headline


if __name__ == '__main__':
    run_cli(main)
