"""Frozen inference graphs: variables folded into constants, one ``.pb`` file (what Ascend's ATC takes).

Build the inference graph in its own ``tf.Graph``, restore the weights into a Session, then
:func:`freeze_graph` keeps only what the named outputs need (no optimizer, no summaries) and writes
the GraphDef atomically. :func:`load_frozen` / :func:`run_frozen` read it back, e.g. to check that
the file computes what the Session computed.
"""
from pathlib import Path

import tensorflow as tf

from common.fileio import atomic_write_bytes

__all__ = ['freeze_graph', 'load_frozen', 'run_frozen']


def freeze_graph(sess, output_names, path):
    """Fold the variables of ``sess`` into constants and write the graph of ``output_names``.

    Args:
        sess (tf.compat.v1.Session): Session holding the restored weights.
        output_names (list[str]): Node names of the outputs (without ':0'), e.g. ['output'].
        path (str | Path): The ``.pb`` file to write (atomically).

    Returns:
        tf.compat.v1.GraphDef: The frozen graph.
    """
    graph_def = sess.graph.as_graph_def()
    missing = [n for n in output_names if n not in {node.name for node in graph_def.node}]
    if missing:
        raise ValueError(f'freeze_graph: no node named {missing[0]} in the graph')
    frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph_def, list(output_names))
    pruned = tf.compat.v1.graph_util.remove_training_nodes(frozen, protected_nodes=list(output_names))
    pruned.library.CopyFrom(frozen.library)      # branch functions of tf.case / tf.cond (BSRN's scale switch)
    pruned.versions.CopyFrom(frozen.versions)
    frozen = pruned
    atomic_write_bytes(Path(path), frozen.SerializeToString())
    return frozen


def load_frozen(path):
    """Import a frozen ``.pb`` into a new ``tf.Graph`` (node names unchanged, no 'import/' prefix).

    Raises:
        ValueError: The file is not a GraphDef.
    """
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
    graph = load_frozen(path)
    with tf.compat.v1.Session(graph=graph, config=config) as sess:
        return sess.run(list(fetches), feed_dict=dict(feeds))
