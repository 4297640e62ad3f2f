"""Frozen inference graphs: variables folded into constants, one ``.pb`` file (what Ascend's ATC takes).

Build the inference graph in its own ``tf.Graph``, restore the weights into a Session, then
:func:`freeze_graph` keeps only what the named outputs need (no optimizer, no summaries) and writes
the GraphDef atomically. :func:`load_frozen` / :func:`run_frozen` read it back, e.g. to check that
the file computes what the Session computed. :func:`check_output_file` checks the target before
anything is built (TensorFlow is imported only by the functions that need it).
"""
import os
from pathlib import Path

from common.fileio import atomic_write_bytes

__all__ = ['check_output_file', 'freeze_graph', 'load_frozen', 'run_frozen']


def check_output_file(path, flag, overwrite=False):
    """Check that a frozen graph can be written at ``path``, without writing anything.

    Args:
        path (str | Path): The ``.pb`` to write.
        flag (str): The flag that named it, for messages (e.g. '--output_file').
        overwrite (bool): Whether an existing file may be replaced. Default: False.

    Returns:
        Path: ``path``.

    Raises:
        ValueError: An empty name, a folder, an existing file without ``overwrite``, a plain file in
            the way of its folder, or a folder that cannot be written (one line naming ``flag``).
    """
    text = str(path)
    path = Path(path)
    if not text or text.endswith(('/', os.sep)) or path.is_dir():
        raise ValueError(f'{flag}={text}: is {"empty" if not text else "a folder"}, expected a .pb file name')
    if path.exists() and not overwrite:
        raise FileExistsError(f'{flag}={text}: exists; pass --overwrite True to replace it')
    folder = next((p for p in path.parents if p.exists()), Path('.'))
    if not folder.is_dir():
        raise ValueError(f'{flag}={text}: cannot create it, {folder} is a file, not a folder')
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f'{flag}={text}: cannot write there ({folder} is not writable)')
    return path


def freeze_graph(sess, output_names, path, flag=None):
    """Fold the variables of ``sess`` into constants and write the graph of ``output_names``.

    Args:
        sess (tf.compat.v1.Session): Session holding the restored weights.
        output_names (list[str]): Node names of the outputs (without ':0'), e.g. ['output'].
        path (str | Path): The ``.pb`` file to write (atomically).
        flag (str | None): The flag that named ``path``, for messages. Default: None.

    Returns:
        tf.compat.v1.GraphDef: The frozen graph.

    Raises:
        ValueError: The file cannot be written (the message names ``path``, not a temporary file).
    """
    import tensorflow as tf
    graph_def = sess.graph.as_graph_def()
    missing = [n for n in output_names if n not in {node.name for node in graph_def.node}]
    if missing:
        raise ValueError(f'freeze_graph: no node named {missing[0]} in the graph')
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def, list(output_names))
    pruned = tf.compat.v1.graph_util.remove_training_nodes(frozen, protected_nodes=list(output_names))
    pruned.library.CopyFrom(frozen.library)      # branch functions of tf.case / tf.cond (BSRN's scale switch)
    pruned.versions.CopyFrom(frozen.versions)
    frozen = pruned
    try:
        atomic_write_bytes(Path(path), frozen.SerializeToString())
    except OSError as err:
        name = f'{flag}={path}' if flag else str(path)
        raise ValueError(f'{name}: cannot write it ({err.strerror or type(err).__name__})') from None
    return frozen


def load_frozen(path):
    """Import a frozen ``.pb`` into a new ``tf.Graph`` (node names unchanged, no 'import/' prefix).

    Raises:
        ValueError: The file is not a GraphDef.
    """
    import tensorflow as tf
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(Path(path).read_bytes())
    except Exception as err:          # noqa: BLE001 - protobuf raises its own DecodeError
        raise ValueError(f'{path}: not a frozen TensorFlow graph ({err})') from None
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name='')
    return graph


def run_frozen(path, feeds, fetches, config=None):
    """Run a frozen graph once: ``{input name: array}`` -> list of arrays for ``fetches`` (tensor names).

    Args:
        path (str | Path): The ``.pb`` file.
        feeds (dict[str, np.ndarray]): e.g. ``{'LR:0': batch}``.
        fetches (list[str]): e.g. ``['output:0']``.
        config (tf.compat.v1.ConfigProto | None): Session config. Default: None.
    """
    import tensorflow as tf
    graph = load_frozen(path)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        return sess.run(list(fetches), feed_dict=dict(feeds))
