"""Config: validation (one error naming the field), defaults, resolving the fields left to the devices."""

import dataclasses

import pytest

import jw2v
from jw2v.config import Config


@pytest.mark.parametrize('kw, match', [(dict(negative_pool=3), 'power of two'),
                                       (dict(negative_pool=-2), 'negative_pool'),
                                       (dict(negative_pool_from=-1), 'negative_pool_from'),
                                       (dict(negative_pool=True), 'negative_pool')])
def test_bad_negative_pool_settings(kw, match):
  with pytest.raises(jw2v.ConfigError, match=match):
    jw2v.Config(**kw)


@pytest.mark.parametrize('kw', [dict(model='cbow'), dict(model='skipgram', optimizer='adam'),
                                dict(model='skipgram', centre_negatives=-1)])
def test_centre_negatives_needs_skipgram_on_the_sparse_path(kw):
  with pytest.raises(jw2v.ConfigError, match='centre_negatives'):
    jw2v.Config(**{'centre_negatives': 4, **kw})


def test_fields_left_to_the_devices_are_resolved_per_platform():
  sg = jw2v.Config(model='skipgram')
  assert not sg.is_resolved and sg.centre_negatives == 0 and sg.batch_size is None
  with pytest.raises(ValueError, match='resolved'):
    sg.example_layout
  cpu, gpu = sg.resolved('cpu'), sg.resolved('gpu')
  # word2vec.c's per-pair negatives on every device
  for resolved in (cpu, gpu):
    assert (resolved.centre_negatives, resolved.batch_size, resolved.example_layout,
            resolved.negatives_per_example) == (0, 1024, 'skipgram', 5)
  assert (cpu.negative_pool, gpu.negative_pool) == (512, 0)
  assert (cpu.pool_rare_from, gpu.pool_rare_from) == (16384, None)  # the noise's rare table: only with a pool
  assert jw2v.Config(negative_pool=4, negative_pool_from=100).resolved('gpu').pool_rare_from == 100
  for other in (jw2v.Config(model='cbow'), jw2v.Config(model='skipgram', optimizer='adam')):
    assert (other.resolved('cpu').centre_negatives, other.resolved('cpu').batch_size) == (0, 1024)
  assert jw2v.Config(model='cbow').resolved('cpu').negative_pool == 512
  assert jw2v.Config(model='skipgram', optimizer='adam').resolved('cpu').negative_pool == 0  # dense path
  assert jw2v.Config(negative_pool=0).resolved('cpu').negative_pool == 0
  assert jw2v.Config(negative_pool=64).resolved('gpu').negative_pool == 64
  # Shared negatives (opt-in) count centres: as many as hold about 1024 pairs at most.
  shared = jw2v.Config(model='skipgram', centre_negatives=8).resolved('gpu')
  assert (shared.batch_size, shared.example_layout, shared.negatives_per_example) == (128, 'cbow', 8)
  assert [jw2v.Config(model='skipgram', centre_negatives=8, window=w).resolved('cpu').batch_size
          for w in (1, 2, 5, 10, 1000)] == [512, 256, 128, 64, 1]
  assert jw2v.Config(model='skipgram', centre_negatives=8, shrink_windows=False).resolved('cpu').batch_size == 64
  # What is given is kept.
  assert jw2v.Config(model='skipgram', batch_size=256).resolved('cpu') == jw2v.Config(
      model='skipgram', batch_size=256, negative_pool=512)
  assert cpu.resolved('gpu') == cpu  # resolving twice changes nothing


@pytest.mark.parametrize('value', [None, -1, 1.5, True])
def test_centre_negatives_is_a_whole_number(value):
  with pytest.raises(jw2v.ConfigError, match='centre_negatives must be a whole number'):
    jw2v.Config(model='skipgram', centre_negatives=value)


@pytest.mark.parametrize('kw, field', [
    (dict(model='glove'), 'model'), (dict(optimizer='lbfgs'), 'optimizer'), (dict(path='dense'), 'path'),
    (dict(dim=0), 'dim'), (dict(window=1.5), 'window'), (dict(negative=True), 'negative'),
    (dict(epochs=-1), 'epochs'), (dict(batch_size=0), 'batch_size'), (dict(block_tokens=0), 'block_tokens'),
    (dict(devices=0), 'devices'), (dict(sample=-1.0), 'sample'), (dict(sample=float('nan')), 'sample'),
    (dict(init_scale=0.0), 'init_scale'), (dict(ns_exponent=float('inf')), 'ns_exponent'),
    (dict(alpha=0.0), 'alpha'), (dict(min_alpha=-1.0), 'min_alpha'), (dict(alpha=0.01, min_alpha=0.1), 'min_alpha'),
    (dict(max_vocab_size=1), 'max_vocab_size'), (dict(examples_on='tpu'), 'examples_on'),
    (dict(optimizer='adam', shard_tables=True), 'shard_tables'), (dict(local_updates=1), 'local_updates'),
    (dict(local_updates=True, shard_tables=True), 'local_updates'),
    (dict(local_updates=True, optimizer='adam'), 'local_updates'), (dict(merge_every=8), 'merge_every'),
    (dict(local_updates=True, merge_every=0), 'merge_every'),
    (dict(local_updates=True, steps_per_call=64, merge_every=128), 'merge_every')])
def test_an_impossible_field_is_one_error_that_names_it(kw, field):
  with pytest.raises(jw2v.ConfigError) as raised:
    Config(**kw)
  assert raised.value.field == field and str(raised.value).startswith(field + ' ')
  assert '\n' not in str(raised.value)


def test_the_sparse_path_only_does_sgd():
  with pytest.raises(jw2v.ConfigError, match='sparse path only does SGD') as raised:
    Config(optimizer='adam', path='sparse')
  assert raised.value.field is None  # the message names no single field first


def test_defaults_are_word2vec_cs():
  c = Config()
  assert (c.model, c.dim, c.window, c.negative, c.min_count, c.sample, c.ns_exponent, c.epochs) == (
      'cbow', 100, 5, 5, 5, 1e-3, 0.75, 5)
  assert (c.learning_rate, c.min_alpha, c.update_path) == (0.025, 0.0001, 'sparse')
  adam = Config(optimizer='adam')
  assert (adam.learning_rate, adam.update_path) == (0.001, 'reference')
  assert Config(alpha=0.5).learning_rate == 0.5


def test_from_dict_reads_what_to_json_wrote_and_refuses_unknown_keys():
  import json
  config = Config(model='skipgram', dim=32, alpha=0.05, centre_negatives=4)
  assert Config.from_dict(json.loads(config.to_json())) == config
  with pytest.raises(jw2v.ConfigError, match='unknown config keys: colour, size'):
    Config.from_dict({**dataclasses.asdict(config), 'size': 3, 'colour': 'red'})
