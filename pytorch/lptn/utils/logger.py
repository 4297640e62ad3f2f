"""The training log (the reference's ``codes/utils/logger.py``): a log file plus the console, BasicSR's
iteration line with the ETA, and TensorBoard.

Iteration line, every ``logger.print_freq`` iterations::

    [LPTN_..][epoch:  1, iter:     100, lr:(1.000e-04,1.000e-04,)] [eta: 0:12:34, time (data): 0.512 (0.003)] l_g_pix: 1.2345e-01 l_g_gan: ...

and the scalars ``losses/<key>`` in TensorBoard.
"""
import datetime
import logging
import sys
import time

from tqdm import tqdm

__all__ = ['get_root_logger', 'MessageLogger', 'close_logger', 'start_run_log']

LOGGER_NAME = 'lptn'


class _TqdmHandler(logging.StreamHandler):
    """Console lines printed above any tqdm bar."""

    def emit(self, record):
        tqdm.write(self.format(record), file=sys.stdout)
        sys.stdout.flush()


def get_root_logger(log_file=None, level=logging.INFO):
    """The port's logger: console always, plus ``log_file`` (appended) once given."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        console = _TqdmHandler()
        console.setFormatter(logging.Formatter('%(message)s'))
        logger.addHandler(console)
        logger.setLevel(level)
        logger.propagate = False
    if log_file is not None:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.FileHandler):
                logger.removeHandler(handler)
                handler.close()
        file_handler = logging.FileHandler(log_file, 'a', encoding='utf-8')
        file_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s: %(message)s'))
        logger.addHandler(file_handler)
    return logger


def start_run_log(folder, prefix, opt):
    """Create ``folder``, log to ``<folder>/<prefix>_<name>_<time>.log`` and write the options there first."""
    from common.runs import make_output_dir
    from utils.options import dict2str
    folder = make_output_dir(folder, 'path.results_root')
    stamp = datetime.datetime.now().strftime('%Y%m%d_%H%M%S')
    logger = get_root_logger(folder / f"{prefix}_{opt['name']}_{stamp}.log")
    logger.info(dict2str(opt))
    return logger


def close_logger():
    """Close the log file (the console handler stays)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        if isinstance(handler, logging.FileHandler):
            logger.removeHandler(handler)
            handler.close()


class MessageLogger:
    """Formats the iteration line (see the module docstring) and writes the loss scalars.

    Args:
        opt (dict): The options (``name``, ``logger.print_freq``, ``train.total_iter``).
        start_iter (int): The iteration the run (re)started from. Default: 0.
        tb_logger (SummaryWriter | None): TensorBoard writer. Default: None.
    """

    def __init__(self, opt, start_iter=0, tb_logger=None):
        self.exp_name = opt['name']
        self.interval = opt['logger']['print_freq']
        self.max_iters = opt['train']['total_iter']
        self.start_iter, self.tb_logger = start_iter, tb_logger
        self.start_time = time.time()
        self.logger = get_root_logger()

    def __call__(self, log_vars):
        """``log_vars``: epoch, iter, lrs, time, data_time and the losses (floats)."""
        log_vars = dict(log_vars)
        epoch, current_iter, lrs = log_vars.pop('epoch'), log_vars.pop('iter'), log_vars.pop('lrs')
        message = f'[{self.exp_name[:5]}..][epoch:{epoch:3d}, iter:{current_iter:8,d}, lr:('
        message += ''.join(f'{v:.3e},' for v in lrs) + ')] '
        if 'time' in log_vars:
            iter_time, data_time = log_vars.pop('time'), log_vars.pop('data_time')
            done = max(1, current_iter - self.start_iter)
            eta_sec = (time.time() - self.start_time) / done * (self.max_iters - current_iter)
            message += f'[eta: {datetime.timedelta(seconds=int(eta_sec))}, time (data): {iter_time:.3f} ({data_time:.3f})] '
        for key, value in log_vars.items():
            message += f'{key}: {value:.4e} '
            if self.tb_logger is not None and key.startswith('l_'):
                self.tb_logger.add_scalar(f'losses/{key}', value, current_iter)
        self.logger.info(message.rstrip())
