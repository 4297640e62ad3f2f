"""The `bicubic` bench: the no-training baseline every model is compared with.

Upscales the LR images of every model bench's test sets (common.bench.benchmark_sets) with
common.imresize (MATLAB bicubic) and scores them by the published protocol (Y of BT.601,
crop = scale). On the real Set5 (where ../shared/data exists) it
also scores the RCAN authors' own SR outputs and compares every image with the authors' MATLAB table
(`SR_RCAN/PSNR_SSIM_matlab.txt`; means 38.27 / 34.74 / 32.63 dB) in every bench run: a PSNR off by
more than 1e-6 dB or an SSIM off by more than 1e-6 fails the bench (exit code 1, no record written).

    python -m tools.bench_bicubic --out results/bicubic_bench.json
"""
import re
import time
from pathlib import Path

from common import paths, records
from common.bench import benchmark_sets, bicubic_pairs, load_set5_layout
from common.cli import FlagParser, run_cli
from common.metrics import evaluate_pairs, protocol
from common.sample_data import ensure_sample_data

SCALES = (2, 3, 4)
MATLAB_TABLE = 'PSNR_SSIM_matlab.txt'   # in <Set5>/SR_RCAN
PSNR_TOL = 1e-6                         # dB; the table prints 6 decimals
SSIM_TOL = 1e-6
_TABLE_LINE = re.compile(r'^x(\d+) \d+ (\w+)_RCAN_x\d+\.png: PSNR= ([\d.]+) SSIM= ([\d.]+)$')
_TABLE_MEAN = re.compile(r'^x(\d+): PSNR= ([\d.]+) SSIM= ([\d.]+)$')


def parse_matlab_table(path):
    """Per-image and mean PSNR/SSIM of 'Method_1: RCAN' from the RCAN authors' PSNR_SSIM_matlab.txt.

    Args:
        path (str | Path): The table file.

    Returns:
        tuple[dict, dict]: {(scale, name): (psnr, ssim)} and {scale: (mean_psnr, mean_ssim)}.

    Raises:
        ValueError: The file holds no RCAN rows.
    """
    per_image, means, section = {}, {}, None
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith('Method_'):
            section = line.split(':')[1].split(';')[0].strip()
        elif section == 'RCAN' and _TABLE_LINE.match(line):
            scale, name, psnr, ssim = _TABLE_LINE.match(line).groups()
            per_image[(int(scale), name)] = (float(psnr), float(ssim))
        elif section == 'RCAN' and _TABLE_MEAN.match(line):
            scale, psnr, ssim = _TABLE_MEAN.match(line).groups()
            means[int(scale)] = (float(psnr), float(ssim))
    if not per_image:
        raise ValueError(f"{path}: no 'Method_1: RCAN' rows ('x<s> <n> <name>_RCAN_x<s>.png: PSNR= ... SSIM= ...')")
    return per_image, means


def check_against_table(results, table, scale, where):
    """Compare per-image scores with the MATLAB table; raise on the first image that differs.

    Args:
        results (list[dict]): {'name', 'psnr', 'ssim'} per image (common.metrics.evaluate_pairs).
        table (dict): {(scale, name): (psnr, ssim)} from :func:`parse_matlab_table`.
        scale (int): The scale of ``results``.
        where (str): How to name the table in messages (its path).

    Raises:
        ValueError: One line naming the image and the two values.
    """
    for r in results:
        if (scale, r['name']) not in table:
            raise ValueError(f"{where}: no x{scale} row for {r['name']}")
        psnr, ssim = table[(scale, r['name'])]
        if abs(r['psnr'] - psnr) > PSNR_TOL:
            raise ValueError(f"{r['name']} x{scale}: PSNR {r['psnr']:.7f} dB computed, {psnr:.6f} in {where} "
                             f"(differ by more than {PSNR_TOL:g} dB)")
        if abs(r['ssim'] - ssim) > SSIM_TOL:
            raise ValueError(f"{r['name']} x{scale}: SSIM {r['ssim']:.7f} computed, {ssim:.6f} in {where} "
                             f"(differ by more than {SSIM_TOL:g})")


def main(argv=None):
    parser = FlagParser(description=__doc__.split('\n\n')[0], allow_abbrev=False)
    parser.add_argument('--out', default='results/bicubic_bench.json', help='result record to write')
    parser.add_argument('--data', default=str(paths.SAMPLE_DATA_DIR),
                        help='sample data folder (built when missing). Default: %(default)s')
    args = parser.parse_args(argv)

    ensure_sample_data(args.data)
    record = records.new_record('bicubic', 'none', '', 'bench', 'make bench MODEL=bicubic',
                                config={'scales': list(SCALES), 'resize': 'common.imresize (MATLAB bicubic)'})
    sets = benchmark_sets(args.data)
    start = time.time()
    for dataset, root in sets:
        for scale in SCALES:
            proto = protocol(scale, test_y_channel=True)
            records.add_evaluation(record, dataset, scale, 'bicubic',
                                   evaluate_pairs(bicubic_pairs(root, scale), scale), proto)
            rcan = root / 'SR_RCAN' / f'x{scale}'
            if rcan.is_dir():
                pairs = list(load_set5_layout(root, scale, sr_dir=rcan))
                results = evaluate_pairs(pairs, scale)
                table_path = root / 'SR_RCAN' / MATLAB_TABLE
                try:
                    check_against_table(results, parse_matlab_table(table_path)[0], scale, str(table_path))
                except (OSError, ValueError) as exc:
                    raise SystemExit(f'[bicubic] error: the metric does not reproduce the MATLAB table: {exc}')
                records.add_evaluation(record, dataset, scale, 'RCAN (authors\' SR images)', results, proto)
                print(f'[bicubic] {dataset} x{scale}: RCAN per-image PSNR/SSIM match {MATLAB_TABLE} '
                      f'to {PSNR_TOL:g}')
    record['speed']['eval_seconds'] = time.time() - start
    records.save_record(record, args.out)
    print(f'[bicubic] wrote {args.out}')


if __name__ == '__main__':
    run_cli(main)
