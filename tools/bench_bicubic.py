"""The `bicubic` bench: the no-training baseline every model is compared with.

Upscales each test set's LR images with common.imresize (MATLAB bicubic) and scores them by the
published protocol (Y of BT.601, crop = scale). On the real Set5 (where ../shared/data exists) it
also scores the RCAN authors' own SR outputs, which checks the metric against the authors' MATLAB
table (38.27 / 34.74 / 32.63 dB) in every bench run.

    python -m tools.bench_bicubic --out results/bicubic_bench.json
"""
import argparse
import re
import time
from pathlib import Path

from common import paths, records
from common.imgio import list_images, read_image
from common.imresize import imresize
from common.metrics import evaluate_pairs, protocol
from common.sample_data import ensure_sample_data

SCALES = (2, 3, 4)


def _stem(path, scale):
    """'baby_LRBI_x2.png' -> 'baby' (the Set5 layout's tags removed)."""
    return re.sub(rf'_[A-Za-z]+_x{scale}$', '', Path(path).stem)


def load_set5_layout(root, scale, sr_dir=None):
    """Yield (name, lr_or_sr, hr) from a Set5-layout folder: HR/x{s}, LR_bicubic/x{s} (or sr_dir)."""
    hr = {_stem(p, scale): p for p in list_images(Path(root) / 'HR' / f'x{scale}')}
    src_dir = Path(sr_dir) if sr_dir else Path(root) / 'LR_bicubic' / f'x{scale}'
    src = {_stem(p, scale): p for p in list_images(src_dir)}
    if sorted(hr) != sorted(src):
        raise ValueError(f'{root}: HR and {src_dir.name} images differ: {sorted(set(hr) ^ set(src))}')
    for name in sorted(hr):
        yield name, read_image(src[name]), read_image(hr[name])


def bicubic_pairs(root, scale):
    """(name, bicubic-upscaled LR, HR) for every image of a Set5-layout folder."""
    return [(name, imresize(lr, scale), hr) for name, lr, hr in load_set5_layout(root, scale)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default='results/bicubic_bench.json', help='result record to write')
    parser.add_argument('--data', default=str(paths.SAMPLE_DATA_DIR),
                        help='sample data folder (built when missing). Default: %(default)s')
    args = parser.parse_args(argv)

    ensure_sample_data(args.data)
    record = records.new_record('bicubic', 'none', '', 'bench', 'make bench MODEL=bicubic',
                                config={'scales': list(SCALES), 'resize': 'common.imresize (MATLAB bicubic)'})
    sets = [('SampleTest', Path(args.data) / 'benchmark' / 'SampleTest')]
    set5 = paths.set5_dir()
    if set5 is None:
        print('[bicubic] ../shared/data/Set5 not found (set SR_SHARED_DATA): real Set5 skipped')
    else:
        sets.insert(0, ('Set5', set5))
    start = time.time()
    for dataset, root in sets:
        for scale in SCALES:
            proto = protocol(scale, test_y_channel=True)
            records.add_evaluation(record, dataset, scale, 'bicubic',
                                   evaluate_pairs(bicubic_pairs(root, scale), scale), proto)
            rcan = root / 'SR_RCAN' / f'x{scale}'
            if rcan.is_dir():
                pairs = list(load_set5_layout(root, scale, sr_dir=rcan))
                records.add_evaluation(record, dataset, scale, 'RCAN (authors\' SR images)',
                                       evaluate_pairs(pairs, scale), proto)
    record['speed']['eval_seconds'] = time.time() - start
    records.save_record(record, args.out)
    print(f'[bicubic] wrote {args.out}')


if __name__ == '__main__':
    main()
