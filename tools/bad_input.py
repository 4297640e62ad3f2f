"""The bad-input matrix: every entry point of the zoo fed what a careless new user types, classified.

    python -m tools.bad_input [--models rdn,lptn,rcan,bsrn,srcnn,common] [--entry NAME ...] [--json OUT]
                              [--fresh] [--keep] [--timeout S]

A workspace in a temporary folder holds tiny real-photo data (``common.sample_data``: DIV2K, SampleTest,
FiveK, plus the FiveK LMDBs and SRCNN's mindrecord), broken inputs (a text file named .png, an empty file,
an empty folder, an LMDB whose data.mdb is garbage) and, made first by tiny trainings, one checkpoint per
model. Each case is one command line of one entry script, run the way a user runs it (its own folder on
sys.path; the case's own output folder as working folder, LPTN's folder for LPTN) and classified from its exit code, its stderr and a
snapshot of the workspace before and after:

    clean           an error was expected: exit 2, exactly one ``error:`` line on stderr that names the
                    flag, file or key, no traceback, nothing new or changed in the workspace
    accepted        a valid command (expected to work): exit 0, inputs untouched; also a valid command that
                    must warn (a non-strict checkpoint load: exit 0 and a line naming the missing keys), and
                    an exporter given an input's name that wrote ``<name>.<suffix>`` beside it untouched
    traceback       a Python traceback on stderr
    silent-wrong    exit 0 where an error was expected
    input-touching  a file among the inputs changed or disappeared, or a file appeared among them
    other           anything else (another exit code, no or several error lines, the wrong thing named,
                    files written before refusing, a timeout); the record says which

Framework imports cost seconds, so by default the cases of one framework run in one server process that
imports the framework once and forks a child per case (the child imports the model's modules afresh,
exactly as a new interpreter would); ``--fresh`` runs every case as its own ``python script ...``
subprocess instead. The table of counts per class and per entry point is printed, then every case that
is neither clean nor accepted; ``--json OUT`` also writes the record of every case (nothing is written
without it). ``--list`` prints the cases without running them.
"""
import argparse
import json
import os
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from common.cli import FlagParser, run_cli
from common.fileio import atomic_write_bytes
from common.paths import REPO_ROOT

CLASSES = ('clean', 'accepted', 'traceback', 'silent-wrong', 'input-touching', 'other')
FRAMEWORK_IMPORT = {'torch': 'torch', 'tf': 'tensorflow', 'ms': 'mindspore', 'none': None}
GARBAGE = b'this is not an image, a checkpoint or a database\n' * 64


# ----------------------------------------------------------------------------------------------------
# Entry points: a valid command line and the flags to break. Tokens are '--flag=value' (or 'key=value'
# after LPTN's --force_yml); {D} is the data folder, {M} the models folder, {O} the case's output folder.

def _e(name, model, fw, script, base, ints=(), bools=(), ins=(), outs=(), abbrev=None, ok=True, extra=(),
       module=False, needs=(), overwrite=None):
    return dict(name=name, model=model, fw=fw, script=script, base=list(base), ints=list(ints), bools=list(bools),
                ins=dict(ins), outs=dict(outs), abbrev=abbrev, ok=ok, extra=list(extra), module=module,
                needs=list(needs), overwrite=overwrite)


_DIV2K_HR, _DIV2K_X2 = '{D}/sample/DIV2K/DIV2K_train_HR', '{D}/sample/DIV2K/DIV2K_train_LR_bicubic/X2'
_TEST_HR, _TEST_LR = '{D}/sample/benchmark/SampleTest/HR/x2', '{D}/sample/benchmark/SampleTest/LR_bicubic/x2'
_ONE_LR = '{D}/sample/benchmark/SampleTest/LR_bicubic/x2/chelsea_LRBI_x2.png'
_FIVEK = '{D}/lmdb'
_RDN_TINY = ['--upscale_factor=2', '--patch_size=32', '--threads=0', '--batchSize=2', '--nEpochs=1',
             '--max_steps=1', '--tensorboard=False']
_RCAN_TINY = ['--n_feats=8', '--n_RG=1', '--n_RCAB=1', '--ratio=4', '--patch_size=12', '--batch_size=2',
              '--intra_op_threads=1', '--inter_op_threads=1', '--scale=2']
_BSRN_TINY = ['--bsrn_conv_features=8', '--bsrn_state_features=8', '--bsrn_recursions=2', '--intra_op_threads=1']
_LPTN_TEST = ['-opt', 'options/test/LPTN/test_FiveK.yml', '--root={O}', '--force_yml', 'num_gpu=0',
              f'datasets.test.dataroot_lq={_FIVEK}/FiveK_test_source.lmdb',
              f'datasets.test.dataroot_gt={_FIVEK}/FiveK_test_target.lmdb',
              'path.pretrain_network_g={M}/lptn/experiments/LPTN_FiveK/models/net_g_latest.pth']
_SRCNN_CKPT = '{M}/srcnn_ckpt'

ENTRIES = [
    # common: framework-free CLIs
    _e('common.evaluate', 'common', 'none', 'common.evaluate', module=True,
       base=['--sr={D}/sample/benchmark/SampleTest/HR/x2', f'--hr={_TEST_HR}', '--scale=2', '--json={O}/scores.json'],
       ints=['--scale', '--crop_border'], ins={'--sr': 'dir', '--hr': 'dir'}, outs={'--json': 'file'},
       abbrev=('--scale', '--sca')),
    _e('common.sample_data', 'common', 'none', 'common.sample_data', module=True,
       base=['--out={O}/sample', '--scales=2'], ok=False, outs={'--out': 'dir'}, abbrev=('--scales', '--scale'),
       extra=[('bad scales', {'--scales': '2,three'}, '--scales'), ('scale 1', {'--scales': '1'}, '--scales')]),
    _e('common.data', 'common', 'none', 'common.data', module=True,
       base=[f'--input={_TEST_HR}', '--output={O}/sub', '--crop_size=64', '--step=64', '--n_workers=1'],
       ints=['--crop_size', '--step', '--n_workers'], ins={'--input': 'dir'}, outs={'--output': 'dir'},
       abbrev=('--crop_size', '--crop'), overwrite='--overwrite', extra=[('zero crop', {'--crop_size': '0'}, 'crop_size')]),
    _e('common.lmdb_io', 'common', 'none', 'common.lmdb_io', module=True,
       base=[f'--input={_TEST_HR}', '--output={O}/x.lmdb'], ints=['--compress_level', '--map_size'],
       ins={'--input': 'dir'}, outs={'--output': 'dir'}, abbrev=('--compress_level', '--compress'), overwrite='--overwrite',
       extra=[('no .lmdb suffix', {'--output': '{O}/x'}, '.lmdb')]),
    # RDN (PyTorch)
    _e('rdn.train', 'rdn', 'torch', 'pytorch/rdn/train.py', base=['--datapath={D}/sample/DIV2K', *_RDN_TINY,
       '--output_path={O}/run'], ints=['--threads', '--batchSize', '--nEpochs', '--patch_size', '--max_steps'],
       bools=['--tensorboard', '--resume'], ins={'--datapath': 'data'}, outs={'--output_path': 'dir'},
       abbrev=('--upscale_factor', '--upscale'),
       extra=[('zero batch', {'--batchSize': '0'}, 'batchSize'), ('garbage lmdb', {'--datapath': '{D}/bad.lmdb'}, 'bad.lmdb')]),
    _e('rdn.train_npu', 'rdn', 'torch', 'pytorch/rdn/train_npu.py', base=['--datapath={D}/sample/DIV2K', *_RDN_TINY,
       '--output_path={O}/run'], ints=['--threads', '--batchSize'], bools=['--tensorboard'],
       ins={'--datapath': 'data'}, outs={'--output_path': 'dir'}, abbrev=('--upscale_factor', '--upscale')),
    _e('rdn.inference', 'rdn', 'torch', 'pytorch/rdn/inference.py', needs=['rdn'],
       base=[f'--input_image={_ONE_LR}', '--model={M}/rdn/ckpt/RDN', '--output_filename={O}/sr.png'],
       ints=['--tile', '--tile_overlap'], bools=['--self_ensemble', '--overwrite'],
       ins={'--input_image': 'image', '--model': 'ckptdir'}, outs={'--output_filename': 'file'},
       abbrev=('--input_image', '--input_imag'), overwrite='--overwrite=True'),
    _e('rdn.export', 'rdn', 'torch', 'pytorch/rdn/export.py', needs=['rdn'],
       base=['--model={M}/rdn/ckpt/RDN', '--file_name={O}/rdn.onnx', '--image_height=32', '--image_width=32'],
       ints=['--image_height', '--image_width', '--opset'], ins={'--model': 'ckptdir'}, outs={'--file_name': 'file'}, overwrite='--overwrite=True',
       abbrev=('--file_name', '--file'), extra=[('opset 1', {'--opset': '1'}, 'opset'), ('opset 99', {'--opset': '99'}, 'opset')]),
    # LPTN (PyTorch)
    _e('lptn.create_lmdb', 'lptn', 'torch', 'pytorch/lptn/scripts/data_preparation/create_lmdb.py',
       base=['--root={O}/datasets'], ok=False, abbrev=('--compress_level', '--compress')),
    _e('lptn.train', 'lptn', 'torch', 'pytorch/lptn/train.py',
       base=['-opt', 'options/train/LPTN/train_FiveK.yml', '--root={O}', '--force_yml', 'num_gpu=0',
             f'datasets.train.dataroot_lq={_FIVEK}/FiveK_train_source.lmdb',
             f'datasets.train.dataroot_gt={_FIVEK}/FiveK_train_target.lmdb',
             f'datasets.val.dataroot_lq={_FIVEK}/FiveK_test_source.lmdb',
             f'datasets.val.dataroot_gt={_FIVEK}/FiveK_test_target.lmdb', 'train.total_iter=1',
             'datasets.train.batch_size_per_gpu=1', 'datasets.train.gt_size=64', 'datasets.train.num_worker_per_gpu=0',
             'datasets.train.dataset_enlarge_ratio=1', 'val.val_freq=1', 'logger.save_checkpoint_freq=1'],
       ins={'datasets.train.dataroot_lq': 'lmdb', 'datasets.train.dataroot_gt': 'lmdb'}, outs={'--root': 'dir'},
       ints=['train.total_iter'], extra=[('unknown key', {'datasets.train.no_such_key': '1'}, 'no_such_key'),
                                          ('resume garbage', {'path.resume_state': '{D}/garbage.pth'}, 'garbage.pth')]),
    _e('lptn.test', 'lptn', 'torch', 'pytorch/lptn/test.py', needs=['lptn'], base=_LPTN_TEST,
       ins={'datasets.test.dataroot_lq': 'lmdb', 'path.pretrain_network_g': 'ckpt'}, outs={'--root': 'dir'},
       extra=[('num_high 4 into 3 (a warning naming the keys)', {'network_g.num_high': '4'}, 'warn:missing')]),
    _e('lptn.test_speed', 'lptn', 'torch', 'pytorch/lptn/test_speed.py', needs=['lptn'],
       base=['-opt', 'options/test/LPTN/test_speed_FiveK.yml', '--root={O}', '--force_yml', 'num_gpu=0',
             'path.pretrain_network_g={M}/lptn/experiments/LPTN_FiveK/models/net_g_latest.pth',
             f'datasets.test.dataroot_lq={_FIVEK}/FiveK_test_source.lmdb',
             f'datasets.test.dataroot_gt={_FIVEK}/FiveK_test_target.lmdb',
             'val.num_img=1', 'val.times_per_img=1', 'val.fix_img_size=[64,64]'],
       ins={'path.pretrain_network_g': 'ckpt'}, outs={'--root': 'dir'}),
    _e('lptn.export', 'lptn', 'torch', 'pytorch/lptn/export.py', needs=['lptn'],
       base=['-opt', 'options/test/LPTN/test_FiveK.yml', '--file_name={O}/lptn.onnx', '--image_height=64',
             '--image_width=64', '--force_yml', 'num_gpu=0',
             'path.pretrain_network_g={M}/lptn/experiments/LPTN_FiveK/models/net_g_latest.pth'],
       ints=['--image_height', '--opset'], ins={'path.pretrain_network_g': 'ckpt'}, outs={'--file_name': 'file'},
       abbrev=('--file_name', '--file'), extra=[('opset 1', {'--opset': '1'}, 'opset')]),
    # RCAN (TensorFlow 1)
    _e('rcan.main.train', 'rcan', 'tf', 'tensorflow/rcan/main.py',
       base=['--mode=train', f'--train_GT_path={_DIV2K_HR}', f'--train_LR_path={_DIV2K_X2}', *_RCAN_TINY,
             '--max_step=1', '--model_path={O}/model', '--log_dir={O}/logs'],
       ints=['--max_step', '--batch_size', '--n_feats'], bools=['--in_memory', '--self_ensemble'],
       ins={'--train_GT_path': 'dir', '--train_LR_path': 'dir'}, outs={'--model_path': 'dir', '--log_dir': 'dir'},
       abbrev=('--train_GT_path', '--train_GT'), extra=[('bad mode', {'--mode': 'tset'}, 'mode')]),
    _e('rcan.main.test', 'rcan', 'tf', 'tensorflow/rcan/main.py', needs=['rcan'],
       base=['--mode=test', '--pre_trained_model={M}/rcan/model', f'--test_LR_path={_TEST_LR}',
             f'--test_GT_path={_TEST_HR}', *_RCAN_TINY, '--result_path={O}/result', '--save_test_result=True'],
       bools=['--self_ensemble', '--chop_forward'], ins={'--test_LR_path': 'dir', '--pre_trained_model': 'ckptdir'},
       outs={'--result_path': 'dir'}),
    _e('rcan.main.test_only', 'rcan', 'tf', 'tensorflow/rcan/main.py', needs=['rcan'],
       base=['--mode=test_only', '--pre_trained_model={M}/rcan/model', f'--test_LR_path={_TEST_LR}', *_RCAN_TINY,
             '--result_path={O}/result'], ins={'--test_LR_path': 'dir'}, outs={'--result_path': 'dir'}),
    _e('rcan.export', 'rcan', 'tf', 'tensorflow/rcan/export.py', needs=['rcan'],
       base=['--pre_trained_model={M}/rcan/model', '--output_file={O}/rcan.pb', *_RCAN_TINY],
       ins={'--pre_trained_model': 'ckptdir'}, outs={'--output_file': 'file'}, abbrev=('--output_file', '--output_f')),
    # BSRN (TensorFlow 1)
    _e('bsrn.train', 'bsrn', 'tf', 'tensorflow/bsrn/train.py',
       base=['--dataloader=div2k_loader', '--data_input_path={D}/sample/DIV2K/DIV2K_train_LR_bicubic',
             f'--data_truth_path={_DIV2K_HR}', '--train_path={O}/train', '--scales=2', '--chip=cpu',
             '--max_steps=1', '--batch_size=2', '--input_patch_size=8', '--sleep_ratio=0', *_BSRN_TINY],
       ints=['--max_steps', '--batch_size', '--input_patch_size'], bools=['--data_cached'],
       ins={'--data_truth_path': 'dir', '--data_input_path': 'dir'}, outs={'--train_path': 'dir'},
       abbrev=('--scales', '--scale'), extra=[('lr 1e9', {'--bsrn_learning_rate': '1e9', '--max_steps': '3'}, 'nan')]),
    _e('bsrn.validate', 'bsrn', 'tf', 'tensorflow/bsrn/validate_bsrn.py', needs=['bsrn'],
       base=['--dataloader=basic_loader', '--data_input_path={D}/bsd/LR', '--data_truth_path={D}/bsd/SR',
             '--restore_path={M}/bsrn/train', '--scales=2', '--chip=cpu', '--save_path={O}/pictures', *_BSRN_TINY],
       ins={'--data_input_path': 'dir', '--restore_path': 'ckptdir'}, outs={'--save_path': 'dir'},
       abbrev=('--scales', '--scale')),
    _e('bsrn.test', 'bsrn', 'tf', 'tensorflow/bsrn/test_bsrn.py', needs=['bsrn'],
       base=['--restore_path={M}/bsrn/train', '--scales=2', f'--input_path={_TEST_LR}', '--output_path={O}/SR',
             '--chip=cpu', *_BSRN_TINY], ins={'--input_path': 'dir', '--restore_path': 'ckptdir'},
       outs={'--output_path': 'dir'}, abbrev=('--scales', '--scale'), overwrite='--overwrite=True'),
    _e('bsrn.export', 'bsrn', 'tf', 'tensorflow/bsrn/export.py', needs=['bsrn'],
       base=['--restore_path={M}/bsrn/train', '--scales=2', '--output={O}/bsrn.pb', *_BSRN_TINY],
       ins={'--restore_path': 'ckptdir'}, outs={'--output': 'file'}, overwrite='--overwrite=True'),
    _e('bsrn.inference', 'bsrn', 'tf', 'tensorflow/bsrn/inference.py', base=[], ok=False,
       extra=[('run as a script', {}, 'inference')]),
    # SRCNN (MindSpore)
    _e('srcnn.create_dataset', 'srcnn', 'ms', 'mindspore/srcnn/src/create_dataset.py',
       base=[f'--src_folder={_TEST_HR}', '--output_folder={O}/records'], ins={'--src_folder': 'dir'},
       outs={'--output_folder': 'dir'}, ints=['--scale', '--stride'], abbrev=('--src_folder', '--src')),
    _e('srcnn.train', 'srcnn', 'ms', 'mindspore/srcnn/train.py',
       base=['--device_target=CPU', '--data_path={D}/mindrecord', '--output_path={O}/train', '--max_steps=1',
             '--batch_size=2', '--epoch_size=1'], ints=['--batch_size', '--epoch_size', '--max_steps'],
       bools=['--run_distribute', '--save_checkpoint'], ins={'--data_path': 'dir'}, outs={'--output_path': 'dir'},
       abbrev=('--batch_size', '--batch'), extra=[('float epochs', {'--epoch_size': '2.5'}, 'epoch_size')]),
    _e('srcnn.eval', 'srcnn', 'ms', 'mindspore/srcnn/eval.py', needs=['srcnn'],
       base=['--device_target=CPU', f'--data_path={_TEST_HR}', f'--checkpoint_path={_SRCNN_CKPT}'],
       ins={'--data_path': 'dir', '--checkpoint_path': 'ckpt'}, abbrev=('--checkpoint_path', '--checkpoint')),
    _e('srcnn.test', 'srcnn', 'ms', 'mindspore/srcnn/test.py', needs=['srcnn'],
       base=['--device_target=CPU', f'--data_path={_TEST_LR}', f'--checkpoint_path={_SRCNN_CKPT}',
             '--result_path={O}/sr'], ins={'--data_path': 'dir', '--checkpoint_path': 'ckpt'},
       outs={'--result_path': 'dir'}),
    _e('srcnn.export', 'srcnn', 'ms', 'mindspore/srcnn/export.py', needs=['srcnn'],
       base=['--device_target=CPU', f'--checkpoint_path={_SRCNN_CKPT}', '--file_name={O}/srcnn',
             '--image_width=32', '--image_height=32'], ints=['--image_width'], ins={'--checkpoint_path': 'ckpt'},
       outs={'--file_name': 'file'}, extra=[('bad format', {'--file_format': 'PNG'}, 'file_format')]),
    _e('srcnn.eval_onnx', 'srcnn', 'ms', 'mindspore/srcnn/eval_onnx.py', base=['--device_target=CPU',
       f'--data_path={_TEST_HR}', '--onnx_path={D}/garbage.onnx'], ok=False, ins={'--data_path': 'dir'}),
    _e('srcnn.preprocess', 'srcnn', 'ms', 'mindspore/srcnn/preprocess.py',
       base=[f'--image_path={_TEST_HR}', '--output_path={O}/bins', '--image_width=32', '--image_height=32'],
       ins={'--image_path': 'dir'}, outs={'--output_path': 'dir'}, ints=['--image_width']),
    _e('srcnn.postprocess', 'srcnn', 'ms', 'mindspore/srcnn/postprocess.py', ok=False,
       base=['--output_path={D}/empty', '--predict_path={D}/empty', '--result_path={O}/sr'],
       ins={'--output_path': 'dir'}),
]


# ----------------------------------------------------------------------------------------------------
# Cases

def _flag_of(token):
    return token.split('=', 1)[0] if '=' in token else token


def _replace(argv, changes):
    """argv with each 'flag' in ``changes`` set to its value (appended when absent; None removes it)."""
    out, seen = [], set()
    for token in argv:
        flag = _flag_of(token)
        if '=' in token and flag in changes:
            seen.add(flag)
            if changes[flag] is not None:
                out.append(f'{flag}={changes[flag]}')
        else:
            out.append(token)
    out += [f'{k}={v}' for k, v in changes.items() if k not in seen and v is not None]
    return out


def _value(argv, flag):
    return next((t.split('=', 1)[1] for t in argv if '=' in t and _flag_of(t) == flag), None)


def cases_for(entry):
    """The cases of one entry point: dicts with id, argv, expect ('error'|'ok') and what the error must name."""
    base, cases = entry['base'], []

    def add(label, argv, expect='error', names=()):
        cases.append({'entry': entry['name'], 'label': label, 'argv': argv, 'expect': expect,
                      'names': [n.lstrip('-') for n in names if n]})
        if names and names[0].startswith('warn:'):
            cases[-1].update(expect='warn', names=[names[0][5:]])
    if entry['ok']:
        add('valid', base, 'ok')
    if entry['script'].endswith('inference.py') and entry['model'] == 'bsrn':
        add('run as a script', base, 'error', ['inference'])
        return cases
    add('unknown flag', base + ['--no_such_flag=1'], names=['no_such_flag'])
    if entry['abbrev']:
        full, prefix = entry['abbrev']
        value = _value(base, full) or '2'
        add(f'abbreviated {full} as {prefix}', _replace(base, {full: None}) + [f'{prefix}={value}'], names=[prefix])
    for flag in entry['ints']:
        add(f'{flag}=abc', _replace(base, {flag: 'abc'}), names=[flag])
        add(f'{flag}=-3', _replace(base, {flag: '-3'}), names=[flag])
    for flag in entry['bools']:
        add(f'{flag}=maybe', _replace(base, {flag: 'maybe'}), names=[flag])
    for flag, kind in entry['ins'].items():
        add(f'{flag} missing', _replace(base, {flag: '{D}/does_not_exist'}), names=[flag, 'does_not_exist'])
        if kind in ('dir', 'data', 'ckptdir', 'lmdb'):
            add(f'{flag} empty folder', _replace(base, {flag: '{D}/empty'}), names=[flag, 'empty'])
            add(f'{flag} a file', _replace(base, {flag: '{D}/garbage.png'}), names=[flag, 'garbage.png'])
        if kind in ('data', 'lmdb'):
            add(f'{flag} garbage lmdb', _replace(base, {flag: '{D}/bad.lmdb'}), names=[flag, 'bad.lmdb'])
        if kind in ('image', 'ckpt'):
            add(f'{flag} garbage file', _replace(base, {flag: '{D}/garbage.png'}), names=[flag, 'garbage.png'])
            add(f'{flag} empty file', _replace(base, {flag: '{D}/empty_file'}), names=[flag, 'empty_file'])
            add(f'{flag} a folder', _replace(base, {flag: '{D}/empty'}), names=[flag, 'empty'])
    inputs = [(f, _value(base, f)) for f in entry['ins'] if _value(base, f)]
    for flag, kind in entry['outs'].items():
        for in_flag, in_value in inputs[:2]:
            leaf = 'out.json' if kind == 'file' else 'out'
            add(f'{flag} inside {in_flag}', _replace(base, {flag: f'{in_value}/{leaf}'}), names=[flag, in_flag])
            same = 'either' if kind == 'file' and 'export' in entry['name'] else 'error'   # may add a suffix
            add(f'{flag} = {in_flag}', _replace(base, {flag: in_value}), same, names=[flag, in_flag, in_value])
            if entry['overwrite']:
                add(f'{flag} = {in_flag} {entry["overwrite"]}', _replace(base, {flag: in_value}) + [entry['overwrite']],
                    names=[flag, in_flag, in_value])
        if kind == 'file' and 'export' not in entry['name']:     # exporters may add a suffix: not an error
            add(f'{flag} is a folder', _replace(base, {flag: '{D}/empty'}), names=[flag, 'empty'])
        add(f'{flag} under a file', _replace(base, {flag: '{D}/garbage.png/sub'}), names=[flag, 'garbage.png'])
    for label, changes, name in entry['extra']:
        add(label, _replace(base, changes), names=[name])
    return cases


# ----------------------------------------------------------------------------------------------------
# The workspace

def build_workspace(root, models, log=print):
    """Inputs under root/data, checkpoints under root/models (tiny trainings), outputs under root/out."""
    data, mdir = root / 'data', root / 'models'
    for d in (data, mdir, root / 'out'):
        d.mkdir(parents=True, exist_ok=True)
    from common.sample_data import build_sample_data
    cached = REPO_ROOT / 'datasets' / 'sample'
    if (cached / 'manifest.json').is_file():
        shutil.copytree(cached, data / 'sample', symlinks=True)
    build_sample_data(data / 'sample')
    (data / 'empty').mkdir()
    (data / 'empty_file').write_bytes(b'')
    for name in ('garbage.png', 'garbage.pth', 'garbage.onnx'):
        (data / name).write_bytes(GARBAGE)
    (data / 'bad.lmdb').mkdir()
    (data / 'bad.lmdb' / 'meta_info.txt').write_text('baby.png (64,64,3) 1\n')
    (data / 'bad.lmdb' / 'data.mdb').write_bytes(GARBAGE)
    from common.imgio import list_images
    from common.lmdb_io import make_lmdb
    fivek = data / 'sample' / 'FiveK' / 'FiveK_480p'
    for split, side, name in (('train', 'A', 'source'), ('train', 'B', 'target'), ('test', 'A', 'source'),
                              ('test', 'B', 'target')):
        imgs = list_images(fivek / split / side)
        make_lmdb(imgs, [p.stem for p in imgs], data / 'lmdb' / f'FiveK_{split}_{name}.lmdb')
    bsd = data / 'bsd'                                  # BSRN's basic layout: LR/x2/<name>.png, SR/<name>.png
    (bsd / 'LR' / 'x2').mkdir(parents=True)
    (bsd / 'SR').mkdir()
    test = data / 'sample' / 'benchmark' / 'SampleTest'
    for path in sorted((test / 'HR' / 'x2').iterdir()):
        stem = path.name.replace('_HR_x2', '')
        shutil.copy2(path, bsd / 'SR' / stem)
        shutil.copy2(test / 'LR_bicubic' / 'x2' / path.name.replace('_HR_', '_LRBI_'), bsd / 'LR' / 'x2' / stem)
    prepared = {}
    python = sys.executable
    steps = {
        'srcnn': [[python, 'mindspore/srcnn/src/create_dataset.py', f'--src_folder={data}/sample/DIV2K/DIV2K_train_HR',
                   f'--output_folder={data}/mindrecord'],
                  [python, 'mindspore/srcnn/train.py', '--device_target=CPU', f'--data_path={data}/mindrecord',
                   f'--output_path={mdir}/srcnn', '--max_steps=1', '--batch_size=2', '--epoch_size=1']],
        'rdn': [[python, 'pytorch/rdn/train.py', f'--datapath={data}/sample/DIV2K', *_RDN_TINY,
                 f'--output_path={mdir}/rdn']],
        'rcan': [[python, 'tensorflow/rcan/main.py', '--mode=train', f'--train_GT_path={_DIV2K_HR}'.format(D=data),
                  f'--train_LR_path={_DIV2K_X2}'.format(D=data), *_RCAN_TINY, '--max_step=1',
                  f'--model_path={mdir}/rcan/model', f'--log_dir={mdir}/rcan/logs']],
        'bsrn': [[python, 'tensorflow/bsrn/train.py', '--dataloader=div2k_loader',
                  f'--data_input_path={data}/sample/DIV2K/DIV2K_train_LR_bicubic',
                  f'--data_truth_path={_DIV2K_HR}'.format(D=data), f'--train_path={mdir}/bsrn/train', '--scales=2',
                  '--chip=cpu', '--max_steps=1', '--save_freq=1', '--batch_size=2', '--input_patch_size=8',
                  '--sleep_ratio=0', *_BSRN_TINY]],
        'lptn': [[python, 'pytorch/lptn/train.py', *[t.format(D=data, O=mdir / 'lptn', M=mdir) for t in
                  next(e for e in ENTRIES if e['name'] == 'lptn.train')['base']]]],
    }
    for model, commands in steps.items():
        if model not in models:
            continue
        start = time.time()
        for command in commands:
            command = [command[0], str(REPO_ROOT / command[1]), *command[2:]]
            done = subprocess.run(command, cwd=REPO_ROOT / 'pytorch' / 'lptn' if model == 'lptn' else REPO_ROOT,
                                  capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ['?']
                log(f'prepare {model}: {Path(command[1]).name} failed (exit {done.returncode}): {tail[0]}')
                break
        else:
            prepared[model] = True
            log(f'prepare {model}: ok ({time.time() - start:.0f} s)')
    ckpts = sorted((mdir / 'srcnn').rglob('*.ckpt')) if (mdir / 'srcnn').is_dir() else []
    if ckpts:
        shutil.copy2(ckpts[-1], mdir / 'srcnn_ckpt')
    for name in ('data', 'models'):                   # restored after a case that touched the inputs
        shutil.copytree(root / name, root / 'pristine' / name, symlinks=True)
    return prepared


def snapshot(root):
    """{relative path: (is_dir, size, mtime_ns)} of everything below root."""
    state = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            state[os.path.relpath(path, root)] = (name in dirs, st.st_size, st.st_mtime_ns)
    return state


# ----------------------------------------------------------------------------------------------------
# Running and classifying

def _cwd_of(entry, case):
    """LPTN's options name paths from its folder; every other command runs in the case's own output
    folder, so that what it writes beside itself (RCAN's result file) is seen, never left in the repo."""
    return str(REPO_ROOT / 'pytorch' / 'lptn') if entry['model'] == 'lptn' else case['out']


def _command(entry, argv):
    if entry['module']:
        return [sys.executable, '-m', entry['script'], *argv]
    return [sys.executable, str(REPO_ROOT / entry['script']), *argv]


def _child(entry, case, out_file, err_file):
    """In a forked child: become ``python script argv`` and exit with its status."""
    fd_out, fd_err = os.open(out_file, os.O_WRONLY | os.O_CREAT), os.open(err_file, os.O_WRONLY | os.O_CREAT)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    sys.stdout = open(1, 'w', buffering=1, closefd=False)      # whatever the parent had wrapped them in
    sys.stderr = open(2, 'w', buffering=1, closefd=False)
    code = 1
    try:
        argv = case['argv']
        os.chdir(_cwd_of(entry, case))
        if entry['module']:
            sys.argv = [entry['script'], *argv]
            sys.path[0] = os.getcwd()
            runpy.run_module(entry['script'], run_name='__main__', alter_sys=True)
        else:
            script = str(REPO_ROOT / entry['script'])
            sys.argv = [script, *argv]
            sys.path[0] = os.path.dirname(script)
            runpy.run_path(script, run_name='__main__')
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:                           # what the interpreter prints for an uncaught exception
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def run_case(case, entry, ws, fresh, timeout):
    """Run one case (its argv already formatted); returns exit code, stdout, stderr, seconds."""
    (ws / 'logs').mkdir(exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix='case-', dir=ws / 'logs'))
    out_file, err_file = logs / 'stdout', logs / 'stderr'
    start = time.time()
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    if fresh:
        try:
            done = subprocess.run(_command(entry, case['argv']), cwd=_cwd_of(entry, case), env=env, capture_output=True,
                                  text=True, timeout=timeout)
            code, out, err = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired as exc:
            code, out, err = 'timeout', str(exc.stdout or ''), str(exc.stderr or '')
        return code, out, err, time.time() - start
    pid = os.fork()
    if pid == 0:
        _child(entry, case, out_file, err_file)
    code = 'timeout'
    while time.time() - start < timeout:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    read = lambda p: p.read_text(errors='replace') if p.exists() else ''    # noqa: E731
    return code, read(out_file), read(err_file), time.time() - start


def classify(case, code, stderr, inputs_before, inputs_after, outputs_before, outputs_after, stdout=''):
    """(class, reason) of one finished case."""
    changed = sorted(k for k in set(inputs_before) | set(inputs_after) if inputs_before.get(k) != inputs_after.get(k))
    if changed:
        return 'input-touching', f'{len(changed)} changed among the inputs, e.g. {changed[0]}'
    if 'Traceback (most recent call last)' in stderr:
        last = [ln for ln in stderr.strip().splitlines() if ln.strip()][-1:]
        return 'traceback', last[0][:200] if last else ''
    if code == 'timeout':
        return 'other', 'timeout'
    if case['expect'] == 'either' and code == 0:  # e.g. an exporter that wrote '<input>.onnx' beside it
        return 'accepted', 'exit 0, inputs untouched'
    if case['expect'] == 'ok':
        return ('accepted', '') if code == 0 else ('other', f'exit {code}: {_last_line(stderr)}')
    if case['expect'] == 'warn':                   # valid, but the user must be told (e.g. a non-strict load)
        if code != 0:
            return 'other', f'exit {code}: {_last_line(stderr)}'
        told = any(name in (stdout + stderr).lower() for name in case['names'])
        return ('accepted', 'warned') if told else ('silent-wrong', f'exit 0 without a line naming {case["names"]}')
    if code == 0:
        return 'silent-wrong', 'exit 0'
    errors = [ln for ln in stderr.splitlines() if ln.startswith('error:')]
    written = sorted(set(outputs_after) - set(outputs_before))
    if code != 2:
        return 'other', f'exit {code}: {_last_line(stderr)}'
    if len(errors) != 1:
        return 'other', f'{len(errors)} error lines: {_last_line(stderr)}'
    if not any(name in errors[0] for name in case['names']):
        return 'other', f'names none of {case["names"]}: {errors[0][:200]}'
    if written:
        return 'other', f'refused but wrote {written[0]}'
    return 'clean', errors[0][:200]


def _last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ''


def _format(value, ws, out):
    return value.replace('{D}', str(ws / 'data')).replace('{M}', str(ws / 'models')).replace('{O}', str(out))


def _input_paths(entry, argv, ws):
    """The files and folders a command line reads: every value under data/ or models/ not given to an
    output flag."""
    roots = (str(ws / 'data'), str(ws / 'models'))
    found = []
    for token in argv:
        if '=' not in token or _flag_of(token) in entry['outs']:
            continue
        value = token.split('=', 1)[1]
        if value.startswith(roots) and value not in found:
            found.append(value)
    return found


def run_matrix(entries, ws, fresh, timeout, prepared, log=print):
    """Run every case of ``entries``, grouped by framework (one forking server per framework)."""
    records = []
    (ws / 'logs').mkdir(exist_ok=True)
    by_fw = {}
    for entry in entries:
        by_fw.setdefault(entry['fw'], []).append(entry)
    for fw, group in by_fw.items():
        payload = []
        for entry in group:
            for number, case in enumerate(cases_for(entry)):
                out = ws / 'out' / f'{entry["name"]}-{number:03d}'
                argv = [_format(a, ws, out) for a in case['argv']]
                case = dict(case, argv=argv, out=str(out), inputs=_input_paths(entry, argv, ws),
                            names=[_format(n, ws, out) for n in case['names']])
                if case['expect'] == 'ok' and any(m not in prepared for m in entry['needs']):
                    case['skipped'] = f'no checkpoint ({", ".join(entry["needs"])} not prepared)'
                payload.append((entry, case))
        spec = ws / f'cases-{fw}.json'
        spec.write_text(json.dumps([[e['name'], c] for e, c in payload]))
        result = ws / f'results-{fw}.jsonl'
        command = [sys.executable, '-m', 'tools.bad_input', '--_serve', str(spec), '--_results', str(result),
                   '--_framework', fw, '--_workspace', str(ws), '--timeout', str(timeout)] + (['--fresh'] if fresh else [])
        log(f'{fw}: {len(payload)} cases of {len(group)} entry points')
        subprocess.run(command, cwd=REPO_ROOT, check=False)
        if result.exists():
            records += [json.loads(line) for line in result.read_text().splitlines() if line.strip()]
    return records


def _inputs(ws, case):
    """The snapshot of what a case reads: each input file, each input folder's whole tree (its
    ``inputs``; without them, all of data/ and models/)."""
    paths = case.get('inputs')
    if paths is None:
        paths = [str(ws / 'data'), str(ws / 'models')]
    state = {}
    for path in paths:
        if os.path.isdir(path):
            state.update({os.path.join(path, k): v for k, v in snapshot(path).items()})
        elif os.path.lexists(path):
            st = os.lstat(path)
            state[path] = (False, st.st_size, st.st_mtime_ns)
    return state


def _restore_inputs(ws):
    """Put back the pristine copy of data/ and models/ that build_workspace saved."""
    for name in ('data', 'models'):
        pristine = ws / 'pristine' / name
        if pristine.is_dir():
            shutil.rmtree(ws / name, ignore_errors=True)
            shutil.copytree(pristine, ws / name, symlinks=True)


def run_and_classify(case, entry, ws, fresh=False, timeout=300):
    """Run one case between two snapshots of the workspace; its record with 'cls' and 'reason'."""
    if case.get('out'):
        Path(case['out']).mkdir(parents=True, exist_ok=True)      # the folder a user writes into exists
    inputs_before, outputs_before = _inputs(ws, case), snapshot(ws / 'out')
    code, out, err, seconds = run_case(case, entry, ws, fresh, timeout)
    inputs_after, outputs_after = _inputs(ws, case), snapshot(ws / 'out')
    cls, reason = classify(case, code, err, inputs_before, inputs_after, outputs_before, outputs_after, out)
    if cls == 'input-touching':
        _restore_inputs(ws)                                       # the next case starts from intact inputs
    return dict(case, cls=cls, reason=reason, code=code, seconds=round(seconds, 2),
                stderr_tail=err.strip().splitlines()[-3:])


def serve(spec, results, framework, ws, fresh, timeout):
    """The per-framework server: import the framework once, then run (fork) each case in turn."""
    module = FRAMEWORK_IMPORT[framework]
    if module and not fresh:
        __import__(module)
    by_name = {e['name']: e for e in ENTRIES}
    with open(results, 'a') as sink:
        for name, case in json.loads(Path(spec).read_text()):
            entry = by_name[name]
            if case.get('skipped'):
                record = dict(case, cls='skipped', reason=case['skipped'], code=None, seconds=0)
            else:
                record = run_and_classify(case, entry, ws, fresh, timeout)
            sink.write(json.dumps(record) + '\n')
            sink.flush()
            print(f'  {record["cls"]:<14} {name:<22} {case["label"]}: {record["reason"][:110]}', flush=True)


def table(records):
    """Counts per class and per entry point, as text."""
    names = list(dict.fromkeys(r['entry'] for r in records))
    classes = list(CLASSES) + (['skipped'] if any(r['cls'] == 'skipped' for r in records) else [])
    width = max([len('entry point')] + [len(n) for n in names])
    head = f'{"entry point":<{width}}  ' + '  '.join(f'{c:>{max(len(c), 5)}}' for c in classes) + '  cases'
    lines = [head, '-' * len(head)]
    for name in names + ['total']:
        rows = records if name == 'total' else [r for r in records if r['entry'] == name]
        counts = [sum(r['cls'] == c for r in rows) for c in classes]
        lines.append(f'{name:<{width}}  ' + '  '.join(f'{n:>{max(len(c), 5)}}' for n, c in zip(counts, classes))
                     + f'  {len(rows):>5}')
    return '\n'.join(lines)


def _main(argv):
    p = FlagParser(prog='python -m tools.bad_input', description=__doc__.split('\n\n')[0])
    p.add_argument('--models', default='common,rdn,lptn,rcan,bsrn,srcnn',
                   help='comma-separated models (common = the framework-free CLIs). Default: all')
    p.add_argument('--entry', action='append', default=[], help='only entry points whose name starts with this '
                   '(repeatable), e.g. rdn.inference')
    p.add_argument('--json', default=None, help='write the record of every case here')
    p.add_argument('--fresh', action='store_true', help='one new interpreter per case instead of forking')
    p.add_argument('--keep', action='store_true', help='keep the workspace (its path is printed)')
    p.add_argument('--timeout', type=float, default=300, help='seconds per case. Default: 300')
    p.add_argument('--list', action='store_true', help='list the cases and stop')
    p.add_argument('--_serve', help=argparse.SUPPRESS)
    p.add_argument('--_results', help=argparse.SUPPRESS)
    p.add_argument('--_framework', help=argparse.SUPPRESS)
    p.add_argument('--_workspace', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args._serve:
        serve(args._serve, args._results, args._framework, Path(args._workspace), args.fresh, args.timeout)
        return 0
    models = [m for m in args.models.split(',') if m]
    known = {e['model'] for e in ENTRIES}
    unknown = sorted(set(models) - known)
    if unknown:
        raise ValueError(f'--models: unknown {", ".join(unknown)}; expected some of {", ".join(sorted(known))}')
    entries = [e for e in ENTRIES if e['model'] in models
               and (not args.entry or any(e['name'].startswith(x) for x in args.entry))]
    if not entries:
        raise ValueError(f'--entry {" ".join(args.entry)}: no entry point of --models={args.models} matches')
    if args.list:
        for entry in entries:
            for case in cases_for(entry):
                print(f'{entry["name"]:<22} {case["expect"]:<5} {case["label"]}')
        return 0
    ws = Path(tempfile.mkdtemp(prefix='bad_input-'))
    start = time.time()
    try:
        needed = sorted({m for e in entries for m in e['needs']}
                        | ({'srcnn'} if any(e['model'] == 'srcnn' for e in entries) else set()))
        prepared = build_workspace(ws, needed)
        records = run_matrix(entries, ws, args.fresh, args.timeout, prepared)
    finally:
        if args.keep:
            print(f'workspace kept: {ws}')
        else:
            shutil.rmtree(ws, ignore_errors=True)
    print()
    print(table(records))
    print(f'{len(records)} cases in {time.time() - start:.0f} s')
    for r in records:
        if r['cls'] not in ('clean', 'accepted', 'skipped'):
            print(f'  {r["cls"]:<14} {r["entry"]:<22} {r["label"]}: {r["reason"]}')
    if args.json:
        record = {'cases': len(records), 'counts': {c: sum(r['cls'] == c for r in records) for c in CLASSES},
                  'records': records}
        atomic_write_bytes(args.json, (json.dumps(record, indent=1) + '\n').encode())
    return 0


def main(argv=None):
    """Command line entry: 0 when the matrix ran (whatever it found); bad flags are one ``error:`` line, exit 2."""
    return run_cli(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
