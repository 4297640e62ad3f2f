"""LPTN networks by the names the options use (``network_g.type``, ``network_d.type``)."""
from models.archs.discriminator_arch import Discriminator
from models.archs.LPTN_arch import LPTN, LPTNPaper

__all__ = ['NETWORKS', 'define_network']

NETWORKS = {'LPTN': LPTN, 'LPTNPaper': LPTNPaper, 'Discriminator': Discriminator}


def define_network(opt):
    """Build the network of a ``network_g`` / ``network_d`` section: ``type`` plus its arguments."""
    opt = dict(opt)
    name = opt.pop('type')
    if name not in NETWORKS:
        raise ValueError(f"network type {name!r}: choose from {', '.join(NETWORKS)}")
    return NETWORKS[name](**opt)
