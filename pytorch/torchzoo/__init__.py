"""What the PyTorch models of the zoo share: device and precision selection (with the Ascend apex
branch), state-dict checkpoints with exact resume, the training log, and the command-line contract.

Import it with ``pytorch/`` on ``sys.path`` (each entry script adds it). The name cannot clash with a
framework; ``pytorch/`` itself is not a package.
"""
