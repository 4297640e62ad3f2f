"""common.config: YAML files are checked key by key against a schema of defaults."""
import pytest

from common.config import ConfigError, check_config, load_checked

SCHEMA = {'name': 'lptn', 'num_gpu': 1, 'lr': 1e-4, 'use_tb': False, 'milestones': [100, 200],
          'path': None, 'train': {'optim_g': {'lr': 1e-4, 'betas': [0.9, 0.99]}, 'total_iter': 1000}}


def full(**changes):
    values = {'name': 'x', 'num_gpu': 2, 'lr': 1, 'use_tb': True, 'milestones': [5], 'path': '~/a',
              'train': {'optim_g': {'lr': 2e-4, 'betas': [0.5, 0.9]}, 'total_iter': 10}}
    values.update(changes)
    return values


def test_a_complete_file_passes_and_ints_count_as_floats():
    check_config(full(), SCHEMA, 'opt.yml')


@pytest.mark.parametrize('values, message', [
    (full(lrr=1), "opt.yml: unknown key 'lrr' (did you mean 'lr'?)"),
    ({k: v for k, v in full().items() if k != 'num_gpu'}, "opt.yml: missing key 'num_gpu' (expected an int, e.g. 1)"),
    (full(num_gpu=1.5), "opt.yml: key 'num_gpu' must be an int, got 1.5"),
    (full(num_gpu=True), "opt.yml: key 'num_gpu' must be an int, got True"),
    (full(use_tb='yes'), "opt.yml: key 'use_tb' must be a bool (True or False), got 'yes'"),
    (full(milestones=[1, 'b']), "opt.yml: key 'milestones[1]' must be an int, got 'b'"),
    (full(train={'optim_g': {'lr': 1, 'betas': [0.9, 0.99], 'wd': 0}, 'total_iter': 1}),
     "opt.yml: unknown key 'train.optim_g.wd'"),
    (full(train={'optim_g': {'lr': 'x', 'betas': [0.9]}, 'total_iter': 1}),
     "opt.yml: key 'train.optim_g.lr' must be a number, got 'x'"),
    (full(train={'optim_g': {'lr': 1}, 'total_iter': 1}), "opt.yml: missing key 'train.optim_g.betas' (expected a list)"),
])
def test_each_problem_is_one_line_naming_the_key(values, message):
    with pytest.raises(ConfigError) as err:
        check_config(values, SCHEMA, 'opt.yml')
    assert str(err.value) == message


def test_an_override_file_may_leave_keys_out():
    check_config({'lr': 3}, SCHEMA, 'o.yml', require_all=False)
    with pytest.raises(ConfigError, match="unknown key 'lrr'"):
        check_config({'lrr': 3}, SCHEMA, 'o.yml', require_all=False)


def test_load_checked_reads_and_checks_files(tmp_path):
    schema = tmp_path / 'config.yaml'
    schema.write_text('lr: 0.1\nepochs: 3\n---\nlr: "help"\n')
    good = tmp_path / 'good.yaml'
    good.write_text('lr: 1\nepochs: 5\n')
    assert load_checked(good, schema)[0] == {'lr': 1, 'epochs': 5}
    bad = tmp_path / 'bad.yaml'
    bad.write_text('lr: [1\n')
    with pytest.raises(ConfigError, match=rf'^{bad}: not valid YAML'):
        load_checked(bad, schema)
    listing = tmp_path / 'list.yaml'
    listing.write_text('- 1\n- 2\n')
    with pytest.raises(ConfigError, match='expected a mapping of keys to values'):
        load_checked(listing, schema)
    with pytest.raises(ConfigError, match=f'--config_path={tmp_path}: config file is a folder'):
        load_checked(tmp_path, schema)
