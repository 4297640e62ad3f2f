"""Super-resolve a picture or a folder of pictures with an SRCNN checkpoint, writing PNGs.

Each picture is first enlarged by `scale` with bicubic (common.imresize), then the network refines
the Y channel; Cb/Cr stay bicubic. With --enlarge=False the network runs on the picture as given (the
reference's test.py: the input is already enlarged) and the output has the input's size. The input
is <data_path>/<test_pic> (or data_path itself when test_pic is empty). Outputs are
<stem>_srcnn_x<scale>.png in --result_path; without it, next to a single picture (as the reference
does) or in <folder>_srcnn_x<scale>/ for a folder. An output folder that is, holds or lies inside the
input folder is refused, and an existing output picture is replaced only with --overwrite=True.
Every picture is decoded before the first output is written, so a corrupt one writes nothing.
Pictures are read as 8 bits (a 16-bit file is converted, rounding half up). Two pictures of a folder
that differ only in their extension (img.png, img.jpg) would write the same output: they are refused.

Usage:
    python test.py --data_path=/pictures/bird.png --checkpoint_path=srcnn.ckpt [--result_path=out/]
"""
from pathlib import Path

from tqdm import tqdm

from common.cli import run_cli
from common.fileio import check_disjoint
from common.imgio import ImageError, list_images, read_image, write_image
from common.imresize import imresize
from src.dataset import check_unique_names
from src.model_utils.config import load_config
from src.utils import compose_sr, load_network, ms_predictor, output_dir, setup_device, y_of

INPUT_FLAG = '--data_path/--test_pic'


def upscale(predict, img, scale, enlarge=True):
    """BGR uint8 picture -> BGR uint8 picture, `scale` times larger (`enlarge`) or of the same size."""
    up = imresize(img, scale=scale) if enlarge else img
    return compose_sr(predict(y_of(up)), up)


def resolve_io(cfg):
    """(input pictures, output folder) from data_path, test_pic and result_path, checked."""
    source = Path(cfg.data_path) / cfg.test_pic if cfg.test_pic else Path(cfg.data_path)
    if source.is_dir():
        try:
            pictures = list_images(source)
        except ImageError as err:
            raise ImageError(f'{INPUT_FLAG}: {err}') from None
        default_out = source.with_name(f'{source.name}_srcnn_x{cfg.scale}')
    elif source.is_file():
        pictures = [source]
        default_out = source.parent
    else:
        raise FileNotFoundError(f'{INPUT_FLAG}: {source}: no such picture or folder')
    check_unique_names([(p.stem, p) for p in pictures], f'{INPUT_FLAG}: {source}')
    if not cfg.result_path:
        return pictures, default_out
    out_dir = output_dir(cfg.result_path, 'result_path')
    if source.is_dir():
        check_disjoint(out_dir, source, '--result_path', INPUT_FLAG if cfg.test_pic else '--data_path')
    return pictures, out_dir


def check_targets(pictures, out_dir, scale, overwrite):
    """The output file of each picture; an existing one is refused unless `overwrite`."""
    targets = [out_dir / f'{path.stem}_srcnn_x{scale}.png' for path in pictures]
    for target in targets:
        if target.is_dir():
            raise IsADirectoryError(f'--result_path: {target} is a folder, expected room for a picture')
        if target.exists() and not overwrite:
            raise FileExistsError(f'--result_path: {target} exists (an earlier output); pass --overwrite=True '
                                  f'to replace it')
    return targets


def main(argv=None):
    cfg = load_config(argv, description=__doc__.split('\n\n')[0])
    pictures, out_dir = resolve_io(cfg)
    targets = check_targets(pictures, out_dir, cfg.scale, cfg.overwrite)
    for path in pictures:                          # all or nothing: a corrupt picture stops the run here
        read_image(path, bits=8)
    setup_device(cfg, graph=False)
    predict = ms_predictor(load_network(cfg.checkpoint_path))
    written = []
    for path, target in tqdm(list(zip(pictures, targets)), desc='super-resolving', unit='img',
                             disable=len(pictures) < 2):
        write_image(target, upscale(predict, read_image(path, bits=8), cfg.scale, cfg.enlarge))
        written.append(target)
    print(f'wrote {len(written)} picture(s) to {out_dir}')
    return written


if __name__ == '__main__':
    run_cli(main)
