"""``LPTNModel``: the generator, the critic, their optimisers and schedules, and one training iteration.

Unpaired mode (the reference, ``train.mode: unpaired``), per iteration ``current_iter`` (1-based):

* generator step (when ``current_iter % net_d_iters == 0`` and ``current_iter > net_d_init_iters``):
  ``l_g_pix = pixel_opt(G(lq), lq)`` (against the *input*: content preservation) plus
  ``l_g_gan = -mean(D(G(lq))) * gan_opt.loss_weight``, the critic frozen;
* critic step: ``l_d_real = -mean(D(ref))``, ``l_d_fake = mean(D(G(lq)))`` on a fresh generator output
  (after the generator's update, as the reference; computed without a generator graph, whose gradients
  the reference discarded anyway), plus ``gp_opt.loss_weight`` x the WGAN-GP penalty.

Paired mode (this repository's addition, ``train.mode: paired``): the generator step only, with
``l_g_pix = pixel_opt(G(lq), gt)`` against the target; there is no critic.

Moving average (``train.ema_decay`` > 0, BasicSR's option; this repository's addition to LPTN):
``net_g_ema`` follows the generator after every iteration, ``ema = decay * ema + (1 - decay) * net_g``
(BasicSR's ``model_ema``); it is evaluated beside the generator and saved with it (``params_ema``).

Logged keys: ``l_g_pix``, ``l_g_gan``, ``l_d_real``, ``out_d_real``, ``l_d_fake``, ``out_d_fake`` (and
``l_d_gp``, the penalty before its weight).
"""
import copy
import re
import warnings
from collections import OrderedDict

import torch

from models import load_generator_state
from models.archs import define_network
from models.losses import GANLoss, PixelLoss, compute_gradient_penalty
from torchzoo.dist import wrap_ddp
from torchzoo.precision import setup_training_multi

__all__ = ['LPTNModel', 'APEX_LOSS_SCALE']

APEX_LOSS_SCALE = 128.0          # the LPTN_ID2780 port's amp.initialize(..., loss_scale=128.0)


def _adam_args(section):
    return {'lr': float(section['lr']), 'betas': tuple(float(b) for b in section['betas']),
            'weight_decay': float(section['weight_decay'])}


class LPTNModel:
    """Everything one training run updates.

    Args:
        opt (dict): Parsed options (:func:`utils.options.parse`).
        device (torch.device): Where the networks run.
        precision_mode (str): 'fp32', 'bf16', 'fp16' or 'apex' (:func:`torchzoo.precision.resolve_amp`).
        init_seed (int | None): Seed of the initial weights. Default: None (the current RNG state).
        plan (torchzoo.dist.Plan | None): A data-parallel process group (``--launcher pytorch``): the
            training forwards run through DDP wrappers (``ddp_g``, ``ddp_d``), which average the
            gradients over the ranks; ``net_g``/``net_d`` stay the plain networks (checkpoints, test).
            Default: None (one process).
    """

    def __init__(self, opt, device, precision_mode, init_seed=None, plan=None):
        self.opt, self.device = opt, device
        train = opt['train']
        self.paired = train['mode'] == 'paired'
        if init_seed is not None:
            torch.manual_seed(init_seed)
        self.net_g = define_network(opt['network_g']).to(device)
        self.net_d = None if self.paired else define_network(opt['network_d']).to(device)
        pretrain = opt['path'].get('pretrain_network_g')
        self.load_warning = None              # logged by train.py once its log file is open
        if pretrain:
            self.load_warning = load_generator_state(self.net_g, pretrain, strict=opt['path']['strict_load_g'])
        nets = [self.net_g] + ([] if self.paired else [self.net_d])
        args = [_adam_args(train['optim_g'])] + ([] if self.paired else [_adam_args(train['optim_d'])])
        nets, self.optimizers, self.precision = setup_training_multi(
            nets, precision_mode, device.type, args, apex_settings={'loss_scale': APEX_LOSS_SCALE})
        self.net_g = nets[0]
        self.net_d = None if self.paired else nets[1]
        # One DDP forward per backward: the critic's second pass (the gradient penalty) and its frozen
        # pass in the generator's step use the plain network; DDP's hooks sit on the parameters, so the
        # one backward of each step still averages every gradient.
        self.ddp_g = self.net_g if plan is None else wrap_ddp(self.net_g, plan)
        self.ddp_d = self.net_d if plan is None or self.net_d is None else wrap_ddp(self.net_d, plan)
        self.optimizer_g = self.optimizers[0]
        self.optimizer_d = None if self.paired else self.optimizers[1]
        sched = train['scheduler']
        self.schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, milestones=list(sched['milestones']),
                                                                gamma=float(sched['gamma'])) for o in self.optimizers]
        pix = train['pixel_opt']
        self.cri_pix = PixelLoss(pix['type'], pix['loss_weight'], pix['reduction'])
        gan = dict(train['gan_opt'])
        gan.pop('type')
        self.cri_gan = GANLoss(**gan)
        self.gp_weight = float(train['gp_opt']['loss_weight'])
        self.net_d_iters, self.net_d_init_iters = train['net_d_iters'], train['net_d_init_iters']
        self.ema_decay = float(train.get('ema_decay', 0))
        self.net_g_ema = None
        if self.ema_decay > 0:                  # starts as the (possibly pretrained) generator
            self.net_g_ema = copy.deepcopy(self.net_g).eval().requires_grad_(False)
        self.net_g.train()
        if self.net_d is not None:
            self.net_d.train()

    def networks(self):
        return {'net_g': self.net_g, 'net_d': self.net_d}

    @torch.no_grad()
    def update_ema(self):
        """``ema = decay * ema + (1 - decay) * net_g`` for every weight and buffer (BasicSR's ``model_ema``)."""
        if self.net_g_ema is None:
            return
        ema, raw = self.net_g_ema.state_dict(), self.net_g.state_dict()
        for key, value in ema.items():
            if value.is_floating_point():
                value.mul_(self.ema_decay).add_(raw[key].to(value.dtype), alpha=1 - self.ema_decay)
            else:
                value.copy_(raw[key])

    def update_learning_rate(self):
        """One scheduler step per iteration, before it (BasicSR's order: milestone m applies from iteration m)."""
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message=re.escape('Detected call of `lr_scheduler.step()` before'),
                                    category=UserWarning)
            for scheduler in self.schedulers:
                scheduler.step()

    def get_current_learning_rate(self):
        return [group['lr'] for o in self.optimizers for group in o.param_groups[:1]]

    def optimize_parameters(self, data, current_iter):
        """One iteration on a batch ``data`` (``lq`` and ``ref``, or ``lq`` and ``gt``); returns the log values."""
        lq = data['lq'].to(self.device, non_blocking=True)
        log = OrderedDict()
        if self.paired:
            gt = data['gt'].to(self.device, non_blocking=True)
            self.optimizer_g.zero_grad(set_to_none=True)
            with self.precision.autocast():
                output = self.ddp_g(lq)
            l_g_pix = self.cri_pix(output.float(), gt)
            self.precision.backward_step(l_g_pix, self.optimizer_g)
            log['l_g_pix'] = l_g_pix.item()
            self.update_ema()
            return self._check(log, current_iter)
        ref = data['ref'].to(self.device, non_blocking=True)
        if current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters:
            for p in self.net_d.parameters():
                p.requires_grad_(False)
            self.optimizer_g.zero_grad(set_to_none=True)
            with self.precision.autocast():
                output = self.ddp_g(lq)
                fake_g_pred = self.net_d(output)
            l_g_pix = self.cri_pix(output.float(), lq)
            l_g_gan = self.cri_gan(fake_g_pred.float(), True, is_disc=False)
            self.precision.backward_step(l_g_pix + l_g_gan, self.optimizer_g)
            log['l_g_pix'], log['l_g_gan'] = l_g_pix.item(), l_g_gan.item()
            for p in self.net_d.parameters():
                p.requires_grad_(True)
        self.optimizer_d.zero_grad(set_to_none=True)
        with torch.no_grad(), self.precision.autocast():
            output = self.net_g(lq)
        with self.precision.autocast():
            if ref.shape == output.shape:       # one critic pass over both (InstanceNorm is per sample)
                real_d_pred, fake_d_pred = self.ddp_d(torch.cat([ref, output.to(ref.dtype)])).split(ref.shape[0])
            else:                               # if_fix_size false: crops of different sizes
                real_d_pred, fake_d_pred = self.ddp_d(ref), self.net_d(output)
        l_d_real = self.cri_gan(real_d_pred.float(), True, is_disc=True)
        l_d_fake = self.cri_gan(fake_d_pred.float(), False, is_disc=True)
        with self.precision.autocast():
            gp = compute_gradient_penalty(self.net_d, ref, output.to(ref.dtype))
        l_d = l_d_real + l_d_fake + self.gp_weight * gp.float()
        # Only the critic's gradients: the penalty's input x (a leaf that requires grad) would otherwise
        # get one too, through the first convolution and the resize, which nothing reads.
        self.precision.backward_step(l_d, self.optimizer_d, inputs=list(self.net_d.parameters()))
        log.update(l_d_real=l_d_real.item(), out_d_real=real_d_pred.float().mean().item(), l_d_fake=l_d_fake.item(),
                   out_d_fake=fake_d_pred.float().mean().item(), l_d_gp=gp.item())
        self.update_ema()
        return self._check(log, current_iter)

    @staticmethod
    def _check(log, current_iter):
        for key, value in log.items():
            if value != value or value in (float('inf'), float('-inf')):
                raise ValueError(f'{key} is {value} at iteration {current_iter}; lower train.optim_g.lr / optim_d.lr')
        return log

    @torch.no_grad()
    def test(self, lq, ema=False):
        """The generator's output for ``lq`` [N, 3, H, W] (eval mode, float32 result on the CPU); with
        ``ema``, the moving average's."""
        net = self.net_g_ema if ema else self.net_g
        training = net.training
        net.eval()
        with self.precision.autocast():
            out = net(lq.to(self.device))
        net.train(training)
        return out.float().cpu()

    def state_dict(self):
        """Networks, optimisers, schedulers and the loss scaler (tensors and plain values)."""
        return {'net_g': self.net_g.state_dict(),
                'net_d': None if self.net_d is None else self.net_d.state_dict(),
                'optimizers': [o.state_dict() for o in self.optimizers],
                'schedulers': [s.state_dict() for s in self.schedulers],
                'precision': self.precision.state_dict(),
                'net_g_ema': None if self.net_g_ema is None else self.net_g_ema.state_dict()}

    def load_state_dict(self, state):
        self.net_g.load_state_dict(state['net_g'])
        if self.net_g_ema is not None:          # train.ema_decay is part of the run's identity: the state has it
            self.net_g_ema.load_state_dict(state['net_g_ema'])
        if self.net_d is not None:
            self.net_d.load_state_dict(state['net_d'])
        for obj, saved in zip(self.optimizers + self.schedulers, state['optimizers'] + state['schedulers']):
            obj.load_state_dict(saved)
        self.precision.load_state_dict(state['precision'])
