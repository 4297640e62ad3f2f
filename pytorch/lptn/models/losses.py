"""LPTN losses (the reference's ``codes/models/losses``): pixel loss, the "standard" GAN loss and the gradient penalty.

The reference's ``GANLoss(gan_type='standard')`` is the WGAN critic loss: the critic minimises
``-mean(D(real)) + mean(D(fake))`` and the generator ``-mean(D(fake)) * loss_weight``; the labels
(``real_label_val``, ``fake_label_val``) are accepted and unused, as there.
"""
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ['PixelLoss', 'GANLoss', 'compute_gradient_penalty']


class PixelLoss(nn.Module):
    """``loss_weight * MSE`` or ``loss_weight * L1`` (``type`` MSELoss / L1Loss of ``pixel_opt``).

    Args:
        kind (str): 'MSELoss' or 'L1Loss'.
        loss_weight (float): Factor. Default: 1.0.
        reduction (str): 'mean' or 'sum'. Default: 'mean'.
    """

    def __init__(self, kind, loss_weight=1.0, reduction='mean'):
        super().__init__()
        self.fn = {'MSELoss': F.mse_loss, 'L1Loss': F.l1_loss}[kind]
        self.loss_weight, self.reduction = float(loss_weight), reduction

    def forward(self, pred, target):
        return self.loss_weight * self.fn(pred, target, reduction=self.reduction)


class GANLoss(nn.Module):
    """The reference's ``GANLoss`` for ``gan_type='standard'`` (see the module docstring).

    Args:
        gan_type (str): 'standard' only.
        real_label_val (float): Unused by 'standard'. Default: 1.0.
        fake_label_val (float): Unused by 'standard'. Default: 0.0.
        loss_weight (float): Weight of the generator's loss (the critic's is not weighted). Default: 1.0.
    """

    def __init__(self, gan_type='standard', real_label_val=1.0, fake_label_val=0.0, loss_weight=1.0):
        super().__init__()
        if gan_type != 'standard':
            raise ValueError(f"gan_type {gan_type!r}: only 'standard' (the WGAN critic loss) is ported")
        self.loss_weight = float(loss_weight)

    def forward(self, pred, target_is_real, is_disc=False):
        loss = -pred.mean() if target_is_real else pred.mean()
        return loss if is_disc else loss * self.loss_weight


def compute_gradient_penalty(net_d, real, fake, alpha=None):
    """WGAN-GP: ``mean((||grad_x D(x)||_2 - 1)^2)`` at ``x = alpha * real + (1 - alpha) * fake``.

    Args:
        net_d (nn.Module): The critic.
        real (torch.Tensor): Reference images [N, C, H, W].
        fake (torch.Tensor): Generated images, same shape (detached or not: only x is differentiated).
        alpha (torch.Tensor | None): Mixing factors [N, 1, 1, 1]. Default: None (uniform in [0, 1) per
            sample, from torch's global generator on the CPU, so a checkpoint's RNG state fixes it).

    Returns:
        torch.Tensor: The penalty (a scalar, differentiable with respect to the critic's weights).
    """
    if alpha is None:
        alpha = torch.rand(real.shape[0], 1, 1, 1).to(real.device, real.dtype)
    x = (alpha * real + (1 - alpha) * fake.detach()).requires_grad_(True)
    out = net_d(x)
    grad, = torch.autograd.grad(out, x, grad_outputs=torch.ones_like(out), create_graph=True, retain_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()
