"""What validate_bsrn.py runs once its inputs are checked: SR per recursion, metrics, saved images."""
import numpy as np

from common.imgio import write_image
from common.fileio import building_dir
from common.metrics import evaluate_pairs, protocol
from inference import Upscaler, to_uint8
from models.bsrn import ensemble

MARKER = '.bsrn_validate'


def _metric(args, scale):
    if args.metric == 'y':
        return protocol(scale), scale
    proto = protocol(args.shave_size, test_y_channel=False)
    proto['label'] = f'RGB, shave={args.shave_size} (the reference validate_bsrn.py), SSIM Wang04 11x11 g1.5'
    return proto, args.shave_size


def validate(args, data):
    """Score every scale; returns {scale: {'psnr': [t1..tR, ensemble], 'ssim': [...], 'protocol': ...}}."""
    up = Upscaler(args)
    results = {}
    try:
        print(f'restored {up.prefix}', flush=True)
        for scale in args.scale_list:
            proto, crop = _metric(args, scale)
            names, per_t = data.names(scale), None
            for i, name in enumerate(names):
                lr, hr = data.get(scale, i)
                raw = up.outputs(lr, scale)
                srs = ([] if args.ensemble_only else [to_uint8(o) for o in raw]) + [to_uint8(ensemble(raw))]
                if per_t is None:
                    per_t = [[] for _ in srs]
                for t, sr in enumerate(srs):          # BGR for common.metrics
                    per_t[t].append((name, sr[:, :, ::-1], hr[:, :, ::-1]))
            labels = ([f't{t + 1}' for t in range(len(per_t) - 1)]) + ['ensemble']
            scores = [evaluate_pairs(pairs, crop, test_y_channel=proto['channel'] == 'y', scale=scale)
                      for pairs in per_t]
            psnr = [float(np.mean([r['psnr'] for r in s])) for s in scores]
            ssim = [float(np.mean([r['ssim'] for r in s])) for s in scores]
            print(f"x{scale} ({len(names)} images, {proto['label']}): {', '.join(labels)}")
            print('PSNR ' + ', '.join(f'{v:.3f}' for v in psnr))
            print('SSIM ' + ', '.join(f'{v:.4f}' for v in ssim), flush=True)
            results[scale] = {'psnr': psnr, 'ssim': ssim, 'labels': labels, 'protocol': proto, 'per_image': scores}
            if args.save_path:
                _save(args, scale, labels, per_t)
    finally:
        up.close()
    print('Final PSNR: ' + ' '.join(f"{results[s]['psnr'][-1]:.3f}" for s in args.scale_list))
    print('Final SSIM: ' + ' '.join(f"{results[s]['ssim'][-1]:.4f}" for s in args.scale_list), flush=True)
    return results


def _save(args, scale, labels, per_t):
    from pathlib import Path
    for label, pairs in zip(labels, per_t):
        target = Path(args.save_path) / label / f'x{scale}'
        target.parent.mkdir(parents=True, exist_ok=True)
        with building_dir(target, overwrite=args.overwrite, marker=MARKER) as tmp:
            (Path(tmp) / MARKER).write_text('written by evaluation.py\n')
            for name, sr_bgr, _ in pairs:
                write_image(Path(tmp) / f'{name}.png', sr_bgr)
