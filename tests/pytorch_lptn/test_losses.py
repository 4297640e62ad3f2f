"""Losses on hand-computed cases: the WGAN critic and generator losses, the gradient penalty, the pixel loss."""
import pytest
import torch
from torch import nn


class Linear(nn.Module):
    """D(x) = sum(w * x): its input gradient is w at every x, so the penalty is (||w|| - 1)^2."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return (x * self.w).flatten(1).sum(1).view(-1, 1, 1, 1)


def test_standard_gan_loss_is_the_wgan_critic_loss(lptn):
    gan = lptn.losses.GANLoss('standard', 1.0, 0.0, loss_weight=2.0)
    pred = torch.tensor([1.0, 3.0]).view(2, 1, 1, 1)
    assert gan(pred, True, is_disc=True).item() == -2.0           # l_d_real = -mean(D(ref))
    assert gan(pred, False, is_disc=True).item() == 2.0           # l_d_fake = mean(D(fake))
    assert gan(pred, True, is_disc=False).item() == -4.0          # l_g_gan = -mean(D(fake)) * weight
    with pytest.raises(ValueError, match="only 'standard'"):
        lptn.losses.GANLoss('vanilla')


def test_gradient_penalty_by_hand(lptn):
    w = torch.full((1, 3, 2, 2), 0.5)                              # ||w|| = sqrt(12) * 0.5
    d = Linear(w)
    real, fake = torch.rand(4, 3, 2, 2), torch.rand(4, 3, 2, 2)
    gp = lptn.losses.compute_gradient_penalty(d, real, fake)
    assert gp.item() == pytest.approx((12 ** 0.5 * 0.5 - 1) ** 2, rel=1e-6)
    gp.backward()                                                  # d gp / d w = 2 (||w|| - 1) w / ||w||
    norm = 12 ** 0.5 * 0.5
    assert torch.allclose(d.w.grad, 2 * (norm - 1) * w / norm, atol=1e-6)


def test_gradient_penalty_mixes_per_sample(lptn):
    class Square(nn.Module):
        def forward(self, x):
            return (x ** 2).flatten(1).sum(1).view(-1, 1, 1, 1)
    real, fake = torch.ones(2, 1, 1, 1), torch.zeros(2, 1, 1, 1)
    alpha = torch.tensor([0.25, 1.0]).view(2, 1, 1, 1)
    gp = lptn.losses.compute_gradient_penalty(Square(), real, fake, alpha)   # grad = 2x = 2 alpha: (0.5-1)^2, (2-1)^2
    assert gp.item() == pytest.approx((0.25 + 1.0) / 2)


def test_pixel_loss_weights(lptn):
    a, b = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.1)
    assert lptn.losses.PixelLoss('MSELoss', 1000)(a, b).item() == pytest.approx(10.0)
    assert lptn.losses.PixelLoss('L1Loss', 1, 'sum')(a, b).item() == pytest.approx(1.2)


def test_the_critic_steps_backward_to_its_weights_only_gives_the_same_gradients(lptn):
    """LPTNModel's critic step backpropagates to the critic's parameters only (``inputs=``): the real
    critic, the reference's loss with the penalty's double backward, the same bits as a full backward."""
    torch.manual_seed(0)
    net_d = lptn.archs.define_network({'type': 'Discriminator'})
    ref, fake = torch.rand(2, 3, 40, 40), torch.rand(2, 3, 40, 40)
    grads = []
    for inputs in (None, list(net_d.parameters())):
        net_d.zero_grad(set_to_none=True)
        torch.manual_seed(1)                                       # the same alpha
        real_pred, fake_pred = net_d(torch.cat([ref, fake])).split(2)
        loss = fake_pred.mean() - real_pred.mean() + 100 * lptn.losses.compute_gradient_penalty(net_d, ref, fake)
        loss.backward(inputs=inputs)
        grads.append([p.grad.clone() for p in net_d.parameters()])
    assert all(torch.equal(a, b) for a, b in zip(*grads)) and any(g.abs().sum() > 0 for g in grads[1])
