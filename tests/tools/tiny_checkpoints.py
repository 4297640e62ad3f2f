"""Tiny checkpoints of every model of the zoo, for the tests of tools.zoo and tools.figures.

Random weights of small networks, seeded, saved in each model's own format by child processes, one per
framework, so that the test interpreter imports no framework. Every network is one of the model's own
classes, smaller than any preset, so that the zoo has to read the architecture from the checkpoint. The
model folders go on sys.path as `python3 <script>` puts them (only modules whose names do not clash are
imported).
"""
import json
import subprocess
import sys

from common import paths

ROOT = paths.REPO_ROOT
PY = sys.executable

# RDN's layout (num_feat 16, 2 blocks of 2 layers) and the LPTN generators of test_FiveK.yml's network
BUILD_TORCH = """
import sys
sys.path[:0] = [sys.argv[1] + '/pytorch/rdn', sys.argv[1] + '/pytorch/lptn']
import torchzoo  # noqa: F401
import torch
from model.rdn import RDN
from models.archs.LPTN_arch import LPTN
torch.manual_seed(0)
rdn = RDN(num_in_ch=3, num_feat=16, num_block=2, num_layer=2, growth_rate=16, upscale=int(sys.argv[3]))
torch.save(rdn.state_dict(), sys.argv[2])                  # a bare state dict: inference.py reads its shapes
for path in sys.argv[4:]:                                  # BasicSR's layout; each its own weights
    torch.save({'params': LPTN(nrb_low=5, nrb_high=3, num_high=3).state_dict()}, path)
"""
# RCAN of 8 features, 2 groups of 1 block, squeeze 4; BSRN of 8 conv and 4 state features, 2 recursions
BUILD_TF = """
import json, sys
sys.path[:0] = [sys.argv[1] + '/tensorflow/rcan', sys.argv[1] + '/tensorflow/bsrn']
import tensorflow as tf
from RCA_net import rcan
from models.bsrn import BSRN
from tfzoo.checkpoint import checkpoint_shapes
v1 = tf.compat.v1
rcan_scale, bsrn_scales = int(sys.argv[3]), tuple(int(s) for s in sys.argv[5].split(','))
for prefix, make in ((sys.argv[2], lambda: rcan(v1.placeholder(tf.float32, [None, None, None, 3]), upscale=rcan_scale,
                                                 num_feat=8, num_group=2, num_block=1, squeeze_factor=4)),
                     (sys.argv[4], lambda: BSRN(bsrn_scales, conv_features=8, state_features=4, recursions=2).create_variables())):
    with tf.Graph().as_default():
        v1.set_random_seed(0)
        make()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            v1.train.Saver().save(sess, prefix, write_meta_graph=False)
    print(json.dumps(checkpoint_shapes(prefix)))                 # TensorFlow's own reading, for the zoo's
"""
BUILD_SRCNN = """
import sys
import mindspore as ms
ms.set_context(mode=ms.PYNATIVE_MODE)
ms.set_device('CPU')                    # before any kernel runs
ms.set_seed(0)
from src.srcnn import SRCNN
net = SRCNN()
net.set_train(False)
ms.save_checkpoint(net, sys.argv[1])
"""
SRCNN_CWD = ROOT / 'mindspore' / 'srcnn'


def run(cmd, cwd=ROOT):
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600)


def ok(done):
    assert done.returncode == 0, f'exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}'
    return done


def torch_command(rdn, rdn_scale, *lptn):
    """(command, cwd) writing an x``rdn_scale`` RDN state dict to ``rdn`` and one LPTN generator per ``lptn`` path."""
    for path in (rdn, *lptn):
        path.parent.mkdir(parents=True, exist_ok=True)
    return [PY, '-c', BUILD_TORCH, ROOT, rdn, rdn_scale, *lptn], ROOT


def tf_command(rcan, rcan_scale, bsrn, bsrn_scales):
    """(command, cwd) saving an x``rcan_scale`` RCAN at the prefix ``rcan`` and a BSRN of ``bsrn_scales`` at
    ``bsrn`` (each with its ``checkpoint`` state file); its last two stdout lines are their shapes (JSON)."""
    for prefix in (rcan, bsrn):
        prefix.parent.mkdir(parents=True, exist_ok=True)
    return [PY, '-c', BUILD_TF, ROOT, rcan, rcan_scale, bsrn, ','.join(map(str, bsrn_scales))], ROOT


def srcnn_command(path):
    """(command, cwd) saving SRCNN (the port's fixed 9-5-5 network) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return [PY, '-c', BUILD_SRCNN, path], SRCNN_CWD


def tf_shapes(done):
    """The two ``{variable: shape}`` that :func:`tf_command`'s run printed (RCAN's, BSRN's)."""
    return [json.loads(line) for line in done.stdout.splitlines()[-2:]]


def run_all(*commands):
    """Run (command, cwd) pairs at the same time; all must succeed. Returns their CompletedProcess."""
    procs = [subprocess.Popen([str(c) for c in cmd], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for cmd, cwd in commands]
    done = []
    for proc, (cmd, _) in zip(procs, commands):
        out, err = proc.communicate(timeout=600)
        done.append(ok(subprocess.CompletedProcess(cmd, proc.returncode, out, err)))
    return done
