"""The zoo's pictures, rendered from the checkpoints the benches leave: ``make figures``.

    python -m tools.figures [--outputs outputs] [--out docs/figures] [--only lptn.png ...]

writes three PNGs into ``--out``:

- ``set5_x2.png``: one fixed crop of one Set5 image (:data:`SET5_IMAGE`, :data:`SET5_BOX`) at x2:
  bicubic | SRCNN | RCAN | BSRN | HR;
- ``set5_x4.png``: the same crop at x4: bicubic | RDN | BSRN | HR;
- ``lptn.png``: one photo of the embedded FiveK-layout sample test set (:data:`LPTN_IMAGE`,
  :data:`LPTN_BOX`): input | unpaired | paired | target.

The LR inputs are the Set5 authors' (``common.paths.set5_dir``, ``SR_SHARED_DATA``); bicubic is
``common.imresize`` of them, as ``common.bench`` scores it. Every model's picture is made by that model's
own inference script through ``tools.zoo`` (``super_resolve``, one child process per model and scale), from
the checkpoint ``python -m tools.zoo list`` names for its bench (BSRN: the record's first seed). Each panel
is labelled with the PSNR of the whole image (not the crop) by the published protocol of ``common.metrics``:
Y of BT.601 unrounded, crop = scale for SR; RGB, crop 0 for LPTN, as its bench scores it; the line under
each figure says which. The crops are fixed here, so the same checkpoints give the same bytes (PNG from
``common.imgio``: no timestamp, no metadata).

Beside the PNGs it writes ``figures.json``: each PNG's SHA-256 and panel PSNRs, and the ``created``
stamp of every bench record whose checkpoint it used; and it renders the root README's pictures block
from that manifest. :func:`stale` (run by ``make test``, tests/tools/test_figures.py) says what no
longer matches: a PNG changed by hand, a bench re-run since (its record's stamp moved: ``make
figures`` again), or a README block not rendered from the manifest.

After one bench is re-run, ``--only`` re-renders the figures that show it from its new checkpoints and keeps
the others as committed (their PNGs must still be the bytes of ``figures.json``), so one bench's
re-run does not need every bench's checkpoints: ``make bench MODEL=lptn`` then
``python -m tools.figures --only lptn.png``. The manifest takes the new stamps of the records of the
models those figures show; a model shown also in a figure that is kept is an error (its two panels
would come from two runs).

A missing checkpoint is one ``error:`` line naming the model and the command that makes it, exit code 2.
Nothing is written unless all three figures were made; they are written at the end, each atomically
(``common.fileio``). This module imports no framework.
"""
import hashlib
import json
import sys
import tempfile
from pathlib import Path

from common import paths
from common.cli import FlagParser, run_cli
from common.evaluate import pair_folders
from common import records
from common.fileio import atomic_write_bytes
from common.records import atomic_write_text
from common.imgio import encode_image, read_image
from common.imresize import imresize
from common.metrics import evaluate_pairs, protocol
from common.sample_data import ensure_sample_data
from common.visual import compose
from tools import zoo
from tools.registry import REGISTRY

__all__ = ['SET5_IMAGE', 'SET5_BOX', 'SET5_ZOOM', 'LPTN_IMAGE', 'LPTN_BOX', 'LPTN_ZOOM', 'LPTN_PROTOCOL', 'SR_FIGURES',
           'LPTN_FIGURE', 'FIGURES', 'MANIFEST', 'main', 'render', 'manifest', 'readme_block', 'stale']

DEFAULT_OUT = paths.REPO_ROOT / 'docs' / 'figures'

# The crops: fixed, so that a re-run shows the same pixels. Set5's butterfly (256x256 HR at x2 and x4): a
# box on the black veins and white spots of the wing, the same HR pixels at both scales.
SET5_IMAGE = 'butterfly'
SET5_BOX = (56, 168, 64)               # (y, x, size) in HR pixels
SET5_ZOOM = 3                          # nearest-neighbour, to show the pixels
# The FiveK-layout sample test photo chelsea (451x300): the cat's eye, fur and nose.
LPTN_IMAGE = 'chelsea'
LPTN_BOX = (54, 100, 192)
LPTN_ZOOM = 1
LPTN_PROTOCOL = dict(crop_border=0, test_y_channel=False)   # pytorch/lptn/bench.py's (the reference's test_FiveK.yml)

# (file, scale, ((panel label, tools.zoo.bench_checkpoints label), ...)); bicubic first and HR last
SR_FIGURES = (('set5_x2.png', 2, (('SRCNN', 'srcnn'), ('RCAN', 'rcan'), ('BSRN', 'bsrn'))),
              ('set5_x4.png', 4, (('RDN', 'rdn'), ('BSRN', 'bsrn'))))
# (file, ((panel label, bench checkpoint label), ...)); the input first and the target last
LPTN_FIGURE = ('lptn.png', (('unpaired', 'lptn (unpaired)'), ('paired', 'lptn (paired)')))
FIGURES = tuple(f[0] for f in SR_FIGURES) + (LPTN_FIGURE[0],)
MANIFEST = 'figures.json'
MODELS_SHOWN = ('srcnn', 'rdn', 'rcan', 'bsrn', 'lptn')          # registry names of the benches the figures use
README = paths.REPO_ROOT / 'README.md'
README_MARKERS = ('<!-- figures:begin -->', '<!-- figures:end -->')
CAPTIONS = {'set5_x2.png': 'Set5 x2 (the authors\' LR), one crop of butterfly: bicubic | SRCNN | RCAN | BSRN | HR',
            'set5_x4.png': 'Set5 x4 (the authors\' LR), the same crop: bicubic | RDN | BSRN | HR',
            'lptn.png': 'LPTN on a held-out FiveK-layout sample photo: input | unpaired | paired | target'}


def figure_models(file):
    """The registry names of the models figure ``file`` shows, in panel order."""
    panels = LPTN_FIGURE[1] if file == LPTN_FIGURE[0] else next(p for f, _, p in SR_FIGURES if f == file)
    return list(dict.fromkeys(label.split()[0] for _, label in panels))


def find_checkpoints(outputs, files=FIGURES):
    """{bench label: checkpoint} of every model the figures ``files`` show, from ``tools.zoo.bench_checkpoints``.

    Raises:
        ValueError: One line naming each missing model and the ``make bench`` command that makes it.
    """
    benches = zoo.bench_checkpoints(outputs)
    models = {label: name for name, _, _, label, _ in benches}
    found = {label: path for _, _, _, label, path in benches}
    needed = [label for file, _, panels in SR_FIGURES if file in files for _, label in panels]
    needed += [label for _, label in LPTN_FIGURE[1]] if LPTN_FIGURE[0] in files else []
    missing = {}
    for label in dict.fromkeys(needed):
        if found[label] is None:
            missing.setdefault(models[label], []).append(label)
    if missing:
        what = ', '.join(f"{', '.join(label.replace('(', '').replace(')', '') for label in labels)} "
                         f"(make bench MODEL={name})" for name, labels in missing.items())
        raise ValueError(f'--outputs={zoo.shown(outputs)}: no bench checkpoint of {what} (python -m tools.zoo list '
                         f'shows what is there)')
    return {label: Path(found[label]) for label in needed}


def run_model(label, checkpoint, key, image, scale, say=print):
    """The result of the model of bench ``label`` on the image file ``image``, made by its own script
    (``tools.zoo.super_resolve`` in a temporary folder); ``say`` gets the lines saying what ran."""
    with tempfile.TemporaryDirectory(prefix='figures-') as tmp:
        try:
            _, results, lines = zoo.super_resolve(zoo.MODELS[label.split()[0]], checkpoint, {key: image}, scale, [],
                                                  Path(tmp))
        except zoo.ZooError as err:
            raise zoo.ZooError(f'{label} ({zoo.shown(checkpoint)}): {err}') from None
    say('\n'.join(lines))
    return results[key][1]


def _panels(images, reference, proto, box, zoom, caption):
    """(figure, [(label, PSNR or None)]): ``images`` ([(name, image)]: the baseline, then the models') each labelled
    with its PSNR to ``reference`` (the whole image, by ``proto``: common.metrics.evaluate_pairs' keywords), then
    ``reference`` itself ``(name, image)``."""
    scores = evaluate_pairs([(name, img, reference[1]) for name, img in images], **proto)
    metric = protocol(proto['crop_border'], proto.get('test_y_channel', True))
    channel = 'Y' if metric['channel'] == 'y' else 'RGB'
    labels = [(f"{name} {s['psnr']:.2f} dB ({channel})", s['psnr']) for (name, _), s in zip(images, scores)]
    labels.append((reference[0], None))
    h, w = images[0][1].shape[:2]
    measured = metric['label'].split(', SSIM')[0]
    figure = compose([img for _, img in images] + [reference[1][:h, :w]], [text for text, _ in labels], box=box,
                     zoom=zoom, caption=[caption, f'PSNR of the whole image: {measured}'])
    return figure, labels


def sr_figure(set5, scale, panels, checkpoints, say=print):
    """(figure, [(label, PSNR or None)]) of one Set5 figure: bicubic | the models | HR."""
    pairs = {name: (lr, hr) for name, lr, hr in pair_folders(set5 / 'LR_bicubic' / f'x{scale}',
                                                             set5 / 'HR' / f'x{scale}', scale)}
    if SET5_IMAGE not in pairs:
        raise ValueError(f'{set5}: no {SET5_IMAGE} image at x{scale} (expected the Set5 layout: HR/x{{s}}/, '
                         f'LR_bicubic/x{{s}}/)')
    lr, hr = pairs[SET5_IMAGE]
    runs = [(name, run_model(label, checkpoints[label], SET5_IMAGE, lr, scale, say)) for name, label in panels]
    y, x, size = SET5_BOX
    return _panels([('bicubic', imresize(read_image(lr), scale)), *runs], ('HR', read_image(hr)),
                   {'crop_border': scale, 'scale': scale}, SET5_BOX, SET5_ZOOM,
                   f"Set5 {SET5_IMAGE} x{scale}, authors' LR; crop {size}x{size} at y={y} x={x}, shown x{SET5_ZOOM}")


def lptn_figure(panels, checkpoints, say=print):
    """(figure, [(label, PSNR or None)]) of the LPTN figure: input | unpaired | paired | target."""
    ensure_sample_data(paths.SAMPLE_DATA_DIR)
    test = paths.SAMPLE_DATA_DIR / 'FiveK' / 'FiveK_480p' / 'test'
    source, target = test / 'A' / f'{LPTN_IMAGE}.jpg', test / 'B' / f'{LPTN_IMAGE}.jpg'
    runs = [(name, run_model(label, checkpoints[label], LPTN_IMAGE, source, 1, say)) for name, label in panels]
    y, x, size = LPTN_BOX
    return _panels([('input', read_image(source, bits=8)), *runs], ('target', read_image(target, bits=8)),
                   LPTN_PROTOCOL, LPTN_BOX, LPTN_ZOOM,
                   f'FiveK sample test {LPTN_IMAGE}, to its target; crop {size}x{size} at y={y} x={x}')


def render(outputs, say=print, files=FIGURES):
    """{file name: (figure, [(label, PSNR or None)])} of the figures ``files`` (all three by default;
    nothing written)."""
    checkpoints = find_checkpoints(outputs, files)
    sr = [(file, scale, panels) for file, scale, panels in SR_FIGURES if file in files]
    set5 = paths.set5_dir() if sr else None
    if sr and set5 is None:
        raise ValueError("no Set5 with the authors' LR inputs (../shared/data/Set5): set SR_SHARED_DATA to the folder "
                         "holding Set5/")
    figures = {file: sr_figure(set5, scale, panels, checkpoints, say) for file, scale, panels in sr}
    if LPTN_FIGURE[0] in files:
        figures[LPTN_FIGURE[0]] = lptn_figure(LPTN_FIGURE[1], checkpoints, say)
    return figures


def png_is_listed(folder, man, file):
    """Whether ``folder/file`` exists and is the bytes the manifest ``man`` lists for it."""
    png = Path(folder) / file
    return (file in man.get('figures', {}) and png.is_file()
            and hashlib.sha256(png.read_bytes()).hexdigest() == man['figures'][file]['sha256'])


def kept_manifest(folder, only):
    """The committed manifest in ``folder`` for ``--only``: checked that every figure not in ``only`` is still
    the bytes it lists and shows none of the models of ``only``'s figures.

    Raises:
        ValueError: One line naming the manifest, the PNG or the figure in the way.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise ValueError(f'--only: {zoo.shown(path)} does not exist (render all figures once, without --only)')
    man = json.loads(path.read_text(encoding='utf-8'))
    shown = {name for file in only for name in figure_models(file)}
    for file in FIGURES:
        if file in only:
            continue
        if not png_is_listed(folder, man, file):
            raise ValueError(f'--only: {zoo.shown(Path(folder) / file)} is missing or not the bytes {MANIFEST} lists, so it cannot '
                             f'be kept (render all figures, without --only)')
        both = [name for name in figure_models(file) if name in shown]
        if both:
            raise ValueError(f"--only: {', '.join(both)} is also shown in {file}, which would keep the panel of "
                             f"another run (add --only {file})")
    return man


def record_stamps(root=paths.REPO_ROOT):
    """{registry name: {'record', 'created', 'git_commit'}} of the bench records the figures depend on."""
    out = {}
    for name in MODELS_SHOWN:
        rel = REGISTRY[name].record
        rec = json.loads((Path(root) / rel).read_text(encoding='utf-8'))
        out[name] = {'record': rel, 'created': rec['created'], 'git_commit': rec.get('git_commit')}
    return out


def manifest(figures, blobs, root=paths.REPO_ROOT, kept=None):
    """The ``figures.json`` of rendered figures ({file: (image, labels)}) and their PNG bytes; with ``kept``
    (the committed manifest, :func:`kept_manifest`), its entries and stamps for the figures not rendered."""
    stamps, entries = record_stamps(root), {}
    if kept is not None:
        shown = {name for file in figures for name in figure_models(file)}
        stamps = {name: stamp if name in shown else kept['records'][name] for name, stamp in stamps.items()}
        entries = {file: kept['figures'][file] for file in FIGURES if file not in figures}
    for file, (img, labels) in figures.items():
        entries[file] = {'sha256': hashlib.sha256(blobs[file]).hexdigest(),
                         'size': [int(img.shape[1]), int(img.shape[0])],
                         'panels': [[label, psnr] for label, psnr in labels]}
    return {'command': 'make figures', 'records': stamps, 'figures': {file: entries[file] for file in FIGURES}}


def readme_block(man, folder='docs/figures'):
    """The root README's pictures block, rendered from the manifest (the PSNRs are its figures')."""
    lines = []
    for file in FIGURES:
        entry = man['figures'][file]
        panels = '; '.join(label for label, psnr in entry['panels'] if psnr is not None)
        lines += [f'![{CAPTIONS[file]}]({folder}/{file})', '',
                  f'{CAPTIONS[file]}. Whole-image PSNR: {panels}.', '']
    stamps = ', '.join(f"{name} {s['created']}" for name, s in man['records'].items())
    lines.append(f'Rendered by `make figures` from the checkpoints of the bench runs recorded at: {stamps} '
                 f'(`docs/figures/{MANIFEST}`; `make test` fails when a record or a picture has moved since).')
    return '\n'.join(lines) + '\n'


def stale(root=paths.REPO_ROOT, folder=DEFAULT_OUT):
    """What no longer matches between the committed pictures, their manifest, the records and the README
    (an empty list when nothing)."""
    root, folder = Path(root), Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        return [f'{path}: no manifest (run make figures)']
    man = json.loads(path.read_text(encoding='utf-8'))
    problems = []
    for file in FIGURES:
        png = folder / file
        if not png.is_file() or file not in man['figures']:
            problems.append(f'{png}: missing (run make figures)')
        elif not png_is_listed(folder, man, file):
            problems.append(f'{png}: its bytes are not the ones make figures wrote (run make figures)')
    for name, now in record_stamps(root).items():
        then = man['records'].get(name, {}).get('created')
        if then != now['created']:
            problems.append(f"{now['record']} was made at {now['created']}, the figures from the run recorded at "
                            f"{then}: run make figures with that bench's checkpoints")
    try:
        text = (root / 'README.md').read_text(encoding='utf-8')
        if records.replace_between_markers(text, readme_block(man), where='README.md', markers=README_MARKERS) != text:
            problems.append('README.md: the pictures block is not rendered from docs/figures/figures.json '
                            '(run make figures)')
    except ValueError as err:
        problems.append(str(err))
    return problems


def _main(argv):
    parser = FlagParser(prog='python -m tools.figures', description=(
        "Render the zoo's figures from the benches' checkpoints (those python -m tools.zoo list names): "
        "set5_x2.png (bicubic | SRCNN | RCAN | BSRN | HR), set5_x4.png (bicubic | RDN | BSRN | HR), each a fixed "
        "crop of Set5's butterfly with the authors' LR inputs, and lptn.png (input | unpaired | paired | target) "
        "on a photo of the FiveK-layout sample test set. Each model runs its own inference script (tools.zoo); each "
        "panel is labelled with the PSNR of the whole image by the published protocol (SR: Y of BT.601, crop = "
        "scale; LPTN: RGB, crop 0). The same checkpoints give the same bytes."))
    parser.add_argument('--outputs', type=Path, default=zoo.OUTPUTS,
                        help="the folder holding the benches' work folders (<name>_bench/). Default: outputs/ of the "
                             'repository')
    parser.add_argument('--out', type=Path, default=DEFAULT_OUT,
                        help='the folder the three PNGs are written into. Default: docs/figures of the repository')
    parser.add_argument('--only', nargs='+', choices=FIGURES, metavar='FIGURE',
                        help=f"re-render these figures only ({', '.join(FIGURES)}), after the bench they show was "
                             f"re-run, and keep the others as {MANIFEST} in --out lists them")
    args = parser.parse_args(argv)
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f'--out={args.out}: a file, not a folder')
    files = tuple(f for f in FIGURES if f in args.only) if args.only else FIGURES
    kept = kept_manifest(args.out, files) if args.only else None
    figures = render(args.outputs.resolve(), files=files)
    data = {file: encode_image(img, '.png', name=str(args.out / file)) for file, (img, _) in figures.items()}
    man = manifest(figures, data, kept=kept)
    for file, blob in data.items():                 # all made: now write them
        atomic_write_bytes(args.out / file, blob)
        img, labels = figures[file]
        print(f'wrote {zoo.shown(args.out / file)} ({img.shape[1]}x{img.shape[0]})')
        for label, psnr in labels:
            print(f'  {label}' + (f' (PSNR {psnr:.6f} dB)' if psnr is not None else ''))
    atomic_write_text(args.out / MANIFEST, json.dumps(man, indent=1) + '\n')
    print(f'wrote {zoo.shown(args.out / MANIFEST)}')
    if args.out.resolve() == DEFAULT_OUT.resolve():
        records.update_block(README, readme_block(man), markers=README_MARKERS)
        print(f'regenerated the pictures block of {zoo.shown(README)}')
    return 0


def main(argv=None):
    """Command-line entry point: 0; one ``error:`` line and exit code 2 for bad input or a missing checkpoint;
    1 when a model's script crashed (its output is shown)."""
    try:
        return run_cli(_main, argv)
    except zoo.ChildFailed as err:
        print(f'tools.figures: {err}', file=sys.stderr, flush=True)
        return 1


if __name__ == '__main__':
    sys.exit(main())
