"""tfzoo.checkpoint: Saver checkpoints committed index-last, pruned, cleaned after a kill, restored in part."""
import pytest
import tensorflow as tf


@pytest.fixture
def session():
    """A graph with two variables 'a/filter' [2, 3] and 'b/bias' [4] and an op that adds 1 to both."""
    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.get_variable('a/filter', [2, 3], initializer=tf.compat.v1.zeros_initializer())
        b = tf.compat.v1.get_variable('b/bias', [4], initializer=tf.compat.v1.zeros_initializer())
        bump = tf.group(a.assign_add(tf.ones_like(a)), b.assign_add(tf.ones_like(b)))
        saver = tf.compat.v1.train.Saver(max_to_keep=None)
        init = tf.compat.v1.global_variables_initializer()
    sess = tf.compat.v1.Session(graph=graph)
    sess.run(init)
    yield sess, saver, bump, (a, b)
    sess.close()


def _names(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith('.'))


def test_save_commits_index_and_data_and_prunes(rcan, session, tmp_path):
    sess, saver, bump, _ = session
    ckpts = rcan.checkpoint.TFCheckpointDir(tmp_path / 'model', 'NET')
    ckpts.open({'lr': 1})
    for step in (10, 20, 30):
        sess.run(bump)
        ckpts.save_session(sess, saver, step, keep_max=2)
    ckpts.close()
    assert _names(tmp_path / 'model') == ['NET-20.data-00000-of-00001', 'NET-20.index', 'NET-30.data-00000-of-00001',
                                          'NET-30.index', 'checkpoint', 'run.json']
    assert tf.train.latest_checkpoint(str(tmp_path / 'model')) == str(tmp_path / 'model' / 'NET-30')
    assert tf.train.load_checkpoint(str(tmp_path / 'model' / 'NET-30')).get_tensor('a/filter').tolist() == [[3] * 3] * 2


def test_leftovers_of_a_killed_save_are_removed_and_never_listed(rcan, session, tmp_path):
    sess, saver, _, _ = session
    folder = tmp_path / 'model'
    ckpts = rcan.checkpoint.TFCheckpointDir(folder, 'NET')
    ckpts.open({})
    ckpts.save_session(sess, saver, 5)
    ckpts.close()
    # what kill -9 can leave: Saver temporaries, and a renamed data file whose index never came
    (folder / '.NET-10.4242.deadbeef.tmp.index').write_bytes(b'x')
    (folder / '.NET-10.4242.deadbeef.tmp.data-00000-of-00001.tempstate123').write_bytes(b'x')
    (folder / '.NET-10.4242.deadbeef.tmp_temp').mkdir()
    (folder / 'NET-10.data-00000-of-00001').write_bytes(b'half')
    assert [step for step, _, _ in ckpts.checkpoints()] == [5]
    again = rcan.checkpoint.TFCheckpointDir(folder, 'NET')
    again.open({}, resume=True)
    again.close()
    assert _names(folder) == ['NET-5.data-00000-of-00001', 'NET-5.index', 'checkpoint', 'run.json']


def test_resume_falls_back_when_the_newest_is_truncated(rcan, session, tmp_path):
    sess, saver, bump, (a, _) = session
    folder = tmp_path / 'model'
    ckpts = rcan.checkpoint.TFCheckpointDir(folder, 'NET')
    ckpts.open({})
    for step in (1, 2):
        sess.run(bump)
        ckpts.save_session(sess, saver, step)
    ckpts.close()
    data = folder / 'NET-2.data-00000-of-00001'
    data.write_bytes(data.read_bytes()[:10])
    warnings = []
    again = rcan.checkpoint.TFCheckpointDir(folder, 'NET')
    again.open({}, resume=True)
    _, _, step, path = again.load_latest(lambda p: again.restore(sess, saver, p), warn=warnings.append)
    again.close()
    assert step == 1 and path.name == 'NET-1.index'
    assert len(warnings) == 1 and 'NET-2.index: unreadable checkpoint' in warnings[0]
    assert sess.run(a).tolist() == [[1] * 3] * 2


def test_resume_without_checkpoints_names_the_tf_pattern(rcan, tmp_path):
    with pytest.raises(ValueError, match=r'no checkpoint \(NET-<step>\.index\) to resume from'):
        rcan.checkpoint.TFCheckpointDir(tmp_path / 'model', 'NET').open({}, resume=True)
    assert not (tmp_path / 'model').exists()


def test_resume_refuses_checkpoints_of_another_tool(rcan, session, tmp_path):
    sess, saver, _, _ = session
    folder = tmp_path / 'model'
    folder.mkdir()
    with sess.graph.as_default():
        saver.save(sess, str(folder / 'NET-7'), write_meta_graph=False)     # e.g. the reference's own
    with pytest.raises(ValueError, match=r'checkpoints without run.json \(not made by this training\); start '
                                         r'from one with --fine_tuning True --pre_trained_model <checkpoint>'):
        rcan.checkpoint.TFCheckpointDir(folder, 'NET').open({}, resume=True)


def test_restore_variables_in_part_and_its_errors(rcan, session, tmp_path):
    sess, saver, bump, (a, b) = session
    ck = rcan.checkpoint
    sess.run(bump)
    with sess.graph.as_default():
        prefix = saver.save(sess, str(tmp_path / 'ckpt'), write_meta_graph=False)
        sess.run(tf.compat.v1.variables_initializer([a, b]))
        c = tf.compat.v1.get_variable('c/filter', [2, 2])
        d = tf.compat.v1.get_variable('a2', [3], initializer=tf.compat.v1.zeros_initializer())
    assert ck.resolve_checkpoint(tmp_path) == prefix           # a folder: its latest
    assert ck.resolve_checkpoint(prefix + '.index') == prefix
    restored, absent = ck.restore_variables(sess, prefix, [a, b], [a], skip=('bias',))
    assert restored == ['a/filter'] and absent == []
    assert sess.run(a).sum() == 6 and sess.run(b).sum() == 0
    assert ck.restore_variables(sess, prefix, [a, d], [a])[1] == ['a2']
    with pytest.raises(ValueError, match=r'lacks variable c/filter \(a checkpoint of another network\?\)'):
        ck.restore_variables(sess, prefix, [a, c], [a, c])
    other = tf.Graph()
    with other.as_default():
        wide = tf.compat.v1.get_variable('b/bias', [5])
    with tf.compat.v1.Session(graph=other) as sess2, pytest.raises(
            ValueError, match=r'variable b/bias has shape \[4\], the network needs \[5\]'):
        ck.restore_variables(sess2, prefix, [wide], [wide])
    with pytest.raises(FileNotFoundError, match=r'--pre_trained_model=.*nothing: no TensorFlow checkpoint there'):
        ck.resolve_checkpoint(tmp_path / 'nothing')
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match='a folder without a TensorFlow checkpoint'):
        ck.resolve_checkpoint(empty)
    (tmp_path / 'bad.index').write_bytes(b'not an index')
    with pytest.raises(ValueError, match='not a readable TensorFlow checkpoint'):
        ck.restore_variables(sess, str(tmp_path / 'bad'), [a], [a])
