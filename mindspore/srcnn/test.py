"""Super-resolve a picture or a folder of pictures with an SRCNN checkpoint, writing PNGs.

Each picture is upscaled by `scale` (no degradation first): bicubic (common.imresize), then the
network refines the Y channel; Cb/Cr stay bicubic. The input is <data_path>/<test_pic> (or
data_path itself when test_pic is empty). Outputs are <stem>_srcnn_x<scale>.png in --result_path;
without it, next to a single picture (as the reference does) or in <folder>_srcnn_x<scale>/ for a folder.
Pictures are read as 8 bits (a 16-bit file is converted, rounding half up). Two pictures of a folder
that differ only in their extension (img.png, img.jpg) would write the same output: they are refused.

Usage:
    python test.py --data_path=/pictures/bird.png --checkpoint_path=srcnn.ckpt [--result_path=out/]
"""
from pathlib import Path

from tqdm import tqdm

from common.cli import run_cli
from common.imgio import ImageError, list_images, read_image, write_image
from common.imresize import imresize
from src.dataset import check_unique_names
from src.model_utils.config import load_config
from src.utils import compose_sr, load_network, ms_predictor, output_dir, setup_device, y_of


def upscale(predict, img, scale):
    """BGR uint8 picture -> BGR uint8 picture `scale` times larger."""
    up = imresize(img, scale=scale)
    return compose_sr(predict(y_of(up)), up)


def resolve_io(cfg):
    """(input pictures, output folder) from data_path, test_pic and result_path."""
    source = Path(cfg.data_path) / cfg.test_pic if cfg.test_pic else Path(cfg.data_path)
    if source.is_dir():
        try:
            pictures = list_images(source)
        except ImageError as err:
            raise ImageError(f'--data_path/--test_pic: {err}') from None
        default_out = source.with_name(f'{source.name}_srcnn_x{cfg.scale}')
    elif source.is_file():
        pictures = [source]
        default_out = source.parent
    else:
        raise FileNotFoundError(f'--data_path/--test_pic: {source}: no such picture or folder')
    check_unique_names([(p.stem, p) for p in pictures], f'--data_path/--test_pic: {source}')
    if cfg.result_path:
        return pictures, output_dir(cfg.result_path, 'result_path')
    return pictures, default_out


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    pictures, out_dir = resolve_io(cfg)
    setup_device(cfg, graph=False)
    predict = ms_predictor(load_network(cfg.checkpoint_path))
    written = []
    for path in tqdm(pictures, desc='super-resolving', unit='img', disable=len(pictures) < 2):
        target = out_dir / f'{path.stem}_srcnn_x{cfg.scale}.png'
        write_image(target, upscale(predict, read_image(path, bits=8), cfg.scale))
        written.append(target)
    print(f'wrote {len(written)} picture(s) to {out_dir}')
    return written


if __name__ == '__main__':
    run_cli(main)
