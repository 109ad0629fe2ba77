import dataclasses
import functools
import gc

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jw2v
from jw2v.batches import CbowBatch, Examples, SkipgramBatch, batch_at
from jw2v.train import host_state, make_optimizer
from conftest import write_text

V, H, B, K = 40, 8, 32, 4


def _params(seed=0):
  k1, k2 = jax.random.split(jax.random.key(seed))
  return {'W_in': 0.3 * jax.random.normal(k1, (V, H)), 'W_out': 0.3 * jax.random.normal(k2, (H, V))}


def _sg_batch(seed=0, n=B, ids=V):
  rng = np.random.default_rng(seed)
  return SkipgramBatch(jnp.asarray(rng.integers(0, ids, n), jnp.int32),
                       jnp.asarray(rng.integers(0, ids, n), jnp.int32), jnp.ones(n, jnp.float32))


def _cbow_batch(seed=0, n=B, contexts=None):
  rng = np.random.default_rng(seed)
  if contexts is None:
    contexts = rng.integers(0, V, (n, 4))
  mask = (rng.random((n, 4)) < 0.6).astype(np.float32)
  mask[:, 0] = 1
  return CbowBatch(jnp.asarray(contexts, jnp.int32), jnp.asarray(mask), jnp.asarray(rng.integers(0, V, n), jnp.int32),
                   jnp.ones(n, jnp.float32))


def _config(model, **kw):  # per-pair negatives unless asked: the steps here take hand-made batches
  return jw2v.Config(model=model, dim=H, negative=K, **{'centre_negatives': 0, **kw})


def _noise():
  return jw2v.noise(np.arange(V, 0, -1))


def _negatives(config, batch_size):
  return jw2v.draw_negatives(jax.random.fold_in(jax.random.key(7), 0), _noise(), (batch_size, config.negative))


def _one_step(config, params, batch, lr=0.1):
  state = jw2v.init_state(config, params, key=jax.random.key(7))
  negatives = _negatives(config, batch.weight_B.shape[0])
  state, loss = jax.jit(jw2v.make_step(config))(state, batch, negatives, jnp.float32(lr))
  return jw2v.params_of(state), float(loss)


@pytest.mark.parametrize('model, batch', [('skipgram', _sg_batch()), ('cbow', _cbow_batch())])
def test_sparse_step_equals_reference_sgd_step(model, batch):
  params = _params()
  sparse, loss_s = _one_step(_config(model, cbow_full_error=False), params, batch)
  reference, loss_r = _one_step(_config(model, path='reference'), params, batch)
  np.testing.assert_allclose(loss_s, loss_r, rtol=1e-6)
  for name in ('W_in', 'W_out'):
    np.testing.assert_allclose(sparse[name], reference[name], rtol=1e-5, atol=1e-7)
    assert not np.allclose(sparse[name], params[name])


def test_cbow_full_error_gives_each_context_the_whole_gradient():
  contexts = np.stack([np.random.default_rng(0).permutation(V)[:4] for _ in range(B)])
  batch = _cbow_batch(contexts=contexts, n=B)
  params = _params()
  single = CbowBatch(*(a[:1] for a in batch))  # one example: no sharing between examples
  mean, _ = _one_step(_config('cbow', cbow_full_error=False), params, single)
  full, _ = _one_step(_config('cbow', cbow_full_error=True), params, single)
  count = float(single.mask_BxC.sum())
  delta_mean = np.asarray(mean['W_in'] - params['W_in'])
  delta_full = np.asarray(full['W_in'] - params['W_in'])
  np.testing.assert_allclose(delta_full, count * delta_mean, rtol=1e-4, atol=1e-8)
  np.testing.assert_allclose(full['W_out'], mean['W_out'], rtol=1e-6)
  assert count > 1


@pytest.mark.parametrize('model, batch', [('skipgram', _sg_batch(n=4, ids=10)), ('cbow', _cbow_batch(n=4))])
def test_sparse_step_touches_only_rows_in_the_batch(model, batch):
  config = _config(model)
  params = _params()
  negatives = np.asarray(_negatives(config, 4))
  new, _ = _one_step(config, params, batch)
  if model == 'skipgram':
    used_in, target = np.asarray(batch.center_B), np.asarray(batch.context_B)
  else:
    used_in, target = np.asarray(batch.contexts_BxC)[np.asarray(batch.mask_BxC) > 0], np.asarray(batch.center_B)
  changed_in = np.flatnonzero(np.any(new['W_in'] != params['W_in'], axis=1))
  changed_out = np.flatnonzero(np.any(new['W_out'] != params['W_out'], axis=0))
  assert set(changed_in) <= set(used_in.ravel()) and len(changed_in) > 0
  assert set(changed_out) <= set(target) | set(negatives.ravel())
  assert len(changed_in) < V and len(changed_out) < V


def test_multi_step_runs_the_requested_batches_of_a_block():
  config = _config('skipgram')
  step = jw2v.make_step(config)
  rng = np.random.default_rng(5)
  count = 2 * B + B // 2  # three batches, the last half full
  P = 3 * B
  ids = lambda: jnp.asarray(np.where(np.arange(P) < count, rng.integers(0, V, P), 0), jnp.int32)
  offset = jnp.asarray(np.arange(P) // 3, jnp.int32)
  examples = Examples(ids(), ids(), jnp.zeros((0, 10), jnp.int32), offset, jnp.int32(count))
  schedule = optax.linear_schedule(0.1, 0.01, 1)
  multi = jw2v.make_multi_step(step, schedule, negative=K, batch_size=B, steps=4)
  state = jw2v.init_state(config, _params(), key=jax.random.key(1))
  state, losses = multi(state, examples, 1, 2, 0.25, 0.001, _noise())  # batches 1 and 2
  expected = jw2v.init_state(config, _params(), key=jax.random.key(1))
  for i, batch_index in enumerate((1, 2)):
    batch = batch_at(examples, batch_index, B)
    negatives = jw2v.draw_negatives(jax.random.fold_in(expected.key, i), _noise(), (B, K))  # fold_in(key, step)
    lr = schedule(0.25 + 0.001 * offset[batch_index * B])
    expected, loss = step(expected, batch, negatives, lr)
    np.testing.assert_allclose(losses[i], loss, rtol=1e-5)
  assert np.asarray(batch.weight_B).sum() == np.sum(2 + 3 * np.arange(B) < count)  # batch 2 of 3: slots 2, 5, 8, ...
  assert losses[2] == 0.0 and losses[3] == 0.0 and int(state.step) == 2
  np.testing.assert_allclose(jw2v.params_of(state)['W_in'], jw2v.params_of(expected)['W_in'], rtol=1e-5)


@pytest.fixture(scope='module')
def small_corpus(tmp_path_factory):
  rng = np.random.default_rng(0)
  words = [f'w{i}' for i in range(60)]
  lines = [' '.join(rng.choice(words, size=rng.integers(3, 15), p=_zipf(60))) for _ in range(600)]
  path = write_text(tmp_path_factory.mktemp('c') / 'c.txt', '\n'.join(lines))
  return jw2v.load_corpus(path, min_count=1)[:2]


def _equal_vectors(exact: bool = False):
  """The check that two runs trained the same tables: bit for bit on a CPU (or when `exact`); on a GPU,
  whose scatter-add sums repeated rows in no fixed order, equal up to float32 rounding."""
  if exact or jax.default_backend() == 'cpu':
    return np.testing.assert_array_equal
  return functools.partial(np.testing.assert_allclose, rtol=1e-4, atol=1e-6)


def _zipf(n):
  p = 1.0 / np.arange(1, n + 1)
  return p / p.sum()


@pytest.mark.parametrize('kw', [dict(model='skipgram'), dict(model='cbow'),
                                dict(model='skipgram', centre_negatives=0),
                                dict(model='cbow', optimizer='adam', batch_size=64)])
def test_training_lowers_the_loss(small_corpus, kw):
  corpus, vocab = small_corpus
  config = jw2v.Config(**{**dict(dim=16, min_count=1, epochs=4, batch_size=128, steps_per_call=4), **kw})
  result = jw2v.train(corpus, vocab, config, progress=False)
  losses = [e['loss'] for e in result.history['epochs']]
  assert losses[-1] < losses[0] and all(np.isfinite(losses))
  assert result.params['W_in'].shape == (len(vocab), 16) and result.params['W_out'].shape == (16, len(vocab))
  assert all(e['seconds'] > 0 and e['words_per_sec'] > 0 and e['examples'] > 0 for e in result.history['epochs'])


@pytest.mark.parametrize('deterministic', [False, True])
def test_same_seed_same_vectors(small_corpus, deterministic):
  corpus, vocab = small_corpus
  config = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=2, steps_per_call=4, deterministic=deterministic)
  a = jw2v.train(corpus, vocab, config, progress=False).params
  b = jw2v.train(corpus, vocab, config, progress=False).params
  c = jw2v.train(corpus, vocab, dataclasses.replace(config, seed=2), progress=False).params
  check = _equal_vectors(exact=deterministic)
  check(a['W_in'], b['W_in'])
  check(a['W_out'], b['W_out'])
  assert not np.allclose(a['W_in'], c['W_in'])


@pytest.mark.parametrize('kw', [dict(model='cbow'), dict(model='skipgram', centre_negatives=8),
                                dict(model='skipgram', centre_negatives=0)])
def test_examples_made_on_the_host_or_the_device_train_the_same_vectors(small_corpus, kw):
  corpus, vocab = small_corpus
  # Blocks of about 500 tokens: several per epoch, so the host's examples run ahead of the steps.
  config = jw2v.Config(dim=8, min_count=1, epochs=2, batch_size=64, steps_per_call=4, block_tokens=512, **kw)
  host = jw2v.train(corpus, vocab, dataclasses.replace(config, examples_on='host'), progress=False)
  device = jw2v.train(corpus, vocab, dataclasses.replace(config, examples_on='device'), progress=False)
  check = _equal_vectors()
  check(host.params['W_in'], device.params['W_in'])
  check(host.params['W_out'], device.params['W_out'])
  assert [e['examples'] for e in host.history['epochs']] == [e['examples'] for e in device.history['epochs']]
  with pytest.raises(jw2v.ConfigError, match='examples_on'):
    jw2v.Config(examples_on='gpu')


def test_negative_pool_changes_training_only_where_there_are_rare_words(small_corpus):
  corpus, vocab = small_corpus  # 60 words
  config = jw2v.Config(model='skipgram', dim=16, min_count=1, epochs=4, batch_size=128, steps_per_call=4,
                       negative_pool=16)
  plain = jw2v.train(corpus, vocab, dataclasses.replace(config, negative_pool=0), progress=False)
  none_rare = jw2v.train(corpus, vocab, dataclasses.replace(config, negative_pool_from=60), progress=False)
  pooled = jw2v.train(corpus, vocab, dataclasses.replace(config, negative_pool_from=10), progress=False)
  check = _equal_vectors()
  check(none_rare.params['W_in'], plain.params['W_in'])
  assert not np.allclose(pooled.params['W_in'], plain.params['W_in'])
  for run in (plain, pooled):
    losses = [e['loss'] for e in run.history['epochs']]
    assert losses[-1] < losses[0]


def test_training_continues_from_given_params(small_corpus):
  corpus, vocab = small_corpus
  config = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=2)
  first = jw2v.train(corpus, vocab, config, progress=False)
  more = jw2v.train(corpus, vocab, config, params=first.params, progress=False)
  assert more.history['epochs'][0]['loss'] < first.history['epochs'][0]['loss']


def test_custom_optax_optimizer_on_reference_path(small_corpus):
  corpus, vocab = small_corpus
  config = jw2v.Config(model='cbow', dim=8, min_count=1, epochs=2, optimizer='adam')
  result = jw2v.train(corpus, vocab, config, optimizer=optax.adagrad(0.05), progress=False)
  losses = [e['loss'] for e in result.history['epochs']]
  assert losses[1] < losses[0]


def test_divergence_is_reported(small_corpus):
  corpus, vocab = small_corpus
  with pytest.raises(FloatingPointError, match='lower learning rate'):
    jw2v.train(corpus, vocab, jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=1, alpha=1e30),
               progress=False)


def test_the_garbage_collector_runs_during_training_and_after_it(small_corpus):
  # train pauses the collector while it compiles; the training loop and the caller get it back.
  corpus, vocab = small_corpus
  during = []
  jw2v.train(corpus, vocab, jw2v.Config(model='cbow', dim=8, min_count=1, epochs=1), progress=False,
             should_stop=lambda: during.append(gc.isenabled()) and False)
  assert during and all(during) and gc.isenabled()
  with pytest.raises(FloatingPointError):
    jw2v.train(corpus, vocab, jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=1, alpha=1e30),
               progress=False)
  assert gc.isenabled()


def test_named_optimizer_lets_the_loop_set_the_rate():
  opt = make_optimizer(jw2v.Config(optimizer='adam'))
  state = opt.init({'w': jnp.zeros(3)})
  assert 'learning_rate' in state.hyperparams
  np.testing.assert_allclose(state.hyperparams['learning_rate'], 0.001)


@pytest.mark.parametrize('kw, together', [(dict(model='skipgram'), 3), (dict(model='skipgram'), 1),
                                          (dict(model='cbow'), 3), (dict(model='cbow'), 1),
                                          (dict(model='skipgram', negative_pool=16, negative_pool_from=10), 3),
                                          (dict(model='skipgram', optimizer='adagrad', batch_size=64), None)])
def test_train_many_trains_each_model_as_train_would(small_corpus, kw, together):
  """Models of one seed share everything but the learning rate: each must match its run alone.

  The reference path is checked with Adagrad rather than Adam: Adam divides by sqrt(v) + 1e-8, so where a
  row's gradient terms cancel, the vmapped and the single model's different summation order (1e-9) became
  differences of up to 4e-5 in the vectors. Adagrad's accumulator starts at 0.1, and the two agree exactly.
  """
  corpus, vocab = small_corpus
  base = jw2v.Config(**{**dict(dim=16, min_count=1, epochs=3, batch_size=128, steps_per_call=4), **kw})
  alphas = [0.01, 0.025, 0.05] if base.optimizer == 'sgd' else [0.01, 0.03, 0.1]
  configs = [dataclasses.replace(base, alpha=a) for a in alphas]
  many = jw2v.train_many(corpus, vocab, configs, progress=False, models_per_step=together)
  for config, result in zip(configs, many):
    alone = jw2v.train(corpus, vocab, config, progress=False)
    np.testing.assert_allclose([e['loss'] for e in result.history['epochs']],
                               [e['loss'] for e in alone.history['epochs']], rtol=1e-5)
    for table in ('W_in', 'W_out'):
      np.testing.assert_allclose(result.params[table], alone.params[table], rtol=0, atol=1e-5)
  assert not np.allclose(many[0].params['W_in'], many[2].params['W_in'])


def test_train_many_seeds_give_different_models(small_corpus):
  corpus, vocab = small_corpus
  # Four epochs: on this random corpus an epoch's loss can rise over the one before (it did from epoch 1 to 2
  # for some seeds, before and after the examples' draws changed), but not over three epochs.
  base = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=4, steps_per_call=4)
  configs = [dataclasses.replace(base, seed=s) for s in (1, 2)]
  many = jw2v.train_many(corpus, vocab, configs, progress=False)
  alone = jw2v.train(corpus, vocab, configs[0], progress=False)  # model 0 also draws the shared examples
  np.testing.assert_allclose(many[0].params['W_in'], alone.params['W_in'], rtol=0, atol=1e-5)
  assert not np.allclose(many[0].params['W_in'], many[1].params['W_in'], atol=1e-2)
  assert all(r.history['epochs'][-1]['loss'] < r.history['epochs'][0]['loss'] for r in many)


def test_train_many_refuses_models_that_differ_in_more_than_seed_and_rate(small_corpus):
  corpus, vocab = small_corpus
  base = jw2v.Config(dim=8, min_count=1, epochs=1)
  with pytest.raises(jw2v.ConfigError, match='differs in dim'):
    jw2v.train_many(corpus, vocab, [base, dataclasses.replace(base, dim=9)], progress=False)
  with pytest.raises(jw2v.ConfigError, match='at least one'):
    jw2v.train_many(corpus, vocab, [], progress=False)
  with pytest.raises(jw2v.ConfigError, match='must divide'):
    jw2v.train_many(corpus, vocab, [base] * 3, progress=False, models_per_step=2)
  with pytest.raises(jw2v.ConfigError, match='one device'):
    jw2v.train_many(corpus, vocab, [dataclasses.replace(base, devices=2)] * 2, progress=False)


def test_a_diverging_model_of_a_sweep_is_named(small_corpus):
  corpus, vocab = small_corpus
  base = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=1)
  with pytest.raises(FloatingPointError, match='model 1 of the sweep'):
    jw2v.train_many(corpus, vocab, [base, dataclasses.replace(base, alpha=1e30)], progress=False)


@pytest.mark.parametrize('model, batch, kw', [('skipgram', _sg_batch(), {}), ('cbow', _cbow_batch(), {}),
                                              ('skipgram', _cbow_batch(seed=3), dict(centre_negatives=6))])
def test_padded_tables_step_as_unpadded_and_their_padding_stays_zero(model, batch, kw):
  config = _config(model, **kw)
  state = jw2v.init_state(config, _params(), key=jax.random.key(7))
  padded = state.padded(V + 5, 16)
  assert padded.W_in.shape == padded.W_out_T.shape == (V + 5, 16)
  negatives = jw2v.draw_negatives(jax.random.key(3), _noise(), (B, kw.get('centre_negatives', K)))
  step = jax.jit(jw2v.make_step(config))
  for _ in range(3):
    state, loss = step(state, batch, negatives, jnp.float32(0.1))
    padded, padded_loss = step(padded, batch, negatives, jnp.float32(0.1))
    np.testing.assert_allclose(float(padded_loss), float(loss), rtol=1e-6)
  host = host_state(padded, V, H)
  for table, padded_table, cut in zip((state.W_in, state.W_out_T), (padded.W_in, padded.W_out_T),
                                      (host.W_in, host.W_out_T)):
    np.testing.assert_allclose(cut, table, rtol=1e-5, atol=1e-7)
    assert not np.any(np.asarray(padded_table)[:, H:]) and not np.any(np.asarray(padded_table)[V:])


def test_centre_negatives_step_equals_sgd_on_the_shared_loss():
  batch = _cbow_batch(seed=3)  # centre rows: the context slots are the skip-gram positives
  config = _config('skipgram', centre_negatives=6)
  params, lr = _params(), 0.1
  negatives = jw2v.draw_negatives(jax.random.key(3), _noise(), (B, 6))
  state = jw2v.init_state(config, params, key=jax.random.key(7))
  state, loss = jax.jit(jw2v.make_step(config))(state, batch, negatives, jnp.float32(lr))
  loss_fn = functools.partial(jw2v.skipgram_shared_loss, contexts_BxC=batch.contexts_BxC, mask_BxC=batch.mask_BxC,
                              center_B=batch.center_B, negatives_BxN=negatives, negative=K, weight_B=batch.weight_B)
  expected_loss, grads = jax.value_and_grad(loss_fn)(params)
  np.testing.assert_allclose(float(loss), float(expected_loss), rtol=1e-6)
  new = jw2v.params_of(state)
  for name in ('W_in', 'W_out'):
    np.testing.assert_allclose(new[name], params[name] - lr * grads[name], rtol=1e-5, atol=1e-6)
    assert not np.allclose(new[name], params[name])
  assert len(np.unique(np.asarray(batch.center_B))) < B  # repeated centres: their row updates were summed


def test_train_starts_from_init_scale(small_corpus):
  corpus, vocab = small_corpus
  # a learning rate of 1e-12 leaves the vectors where they started, to float precision
  common = dict(model='cbow', dim=8, min_count=1, epochs=1, steps_per_call=4, alpha=1e-12, min_alpha=0.0)
  narrow = jw2v.train(corpus, vocab, jw2v.Config(init_scale=0.5, **common), progress=False).params['W_in']
  wide = jw2v.train(corpus, vocab, jw2v.Config(**common), progress=False).params['W_in']  # gensim 4's range
  assert np.abs(narrow).max() <= 0.5 / 8 and np.abs(wide).max() > 0.9 / 8
  np.testing.assert_allclose(wide, 2 * narrow, rtol=1e-5, atol=1e-8)


def test_train_uses_the_resolved_config(small_corpus):
  corpus, vocab = small_corpus
  common = dict(model='skipgram', dim=8, min_count=1, epochs=1, steps_per_call=4)
  auto = jw2v.train(corpus, vocab, jw2v.Config(**common), progress=False).params
  explicit = jw2v.train(corpus, vocab, jw2v.Config(**common).resolved(jax.default_backend()), progress=False).params
  np.testing.assert_array_equal(auto['W_in'], explicit['W_in'])
  per_pair = jw2v.train(corpus, vocab, jw2v.Config(centre_negatives=0, batch_size=1024, **common),
                        progress=False).params
  _equal_vectors()(auto['W_in'], per_pair['W_in'])  # word2vec.c's per-pair negatives on every device


def test_runaway_step_names_the_first_step_past_the_ceiling():
  from jw2v.train import runaway_step
  # Steps of 4, 4 and 2 examples. Per example, model 0 lost 2.5, model 1 16.
  losses_RxS, examples_S = np.array([[10.0, 12.0, 3.0], [10.0, 90.0, 60.0]]), np.array([4, 4, 2])
  assert runaway_step(losses_RxS, examples_S, ceiling=20.0) is None
  assert runaway_step(losses_RxS, examples_S, ceiling=1.0) == (0, 0, 2.5)
  assert runaway_step(losses_RxS, examples_S, ceiling=3.0) == (1, 1, 22.5)  # steps of model 1: 2.5, 22.5, 30
  assert runaway_step(np.array([[1.0, 30.0]]), np.array([4, 1]), ceiling=4.0) == (0, 1, 30.0)


def test_batch_counts_are_the_real_examples_of_each_interleaved_batch():
  from jw2v.batches import batch_counts
  examples = Examples(jnp.arange(64, dtype=jnp.int32), jnp.arange(64, dtype=jnp.int32), jnp.zeros((0, 10), jnp.int32),
                      jnp.zeros(64, jnp.int32), jnp.int32(0))
  for count in (0, 1, 15, 16, 17, 40, 64):
    weights = [float(batch_at(examples._replace(count=jnp.int32(count)), s, 16).weight_B.sum()) for s in range(4)]
    steps = max(-(-count // 16), 1)
    np.testing.assert_array_equal(batch_counts(count, 16, 0, 4), weights[:steps] + [0] * (4 - steps))
    np.testing.assert_array_equal(batch_counts(count, 16, 1, 2), batch_counts(count, 16, 0, 4)[1:3])
  assert batch_counts(40, 16, 0, 3).tolist() == [14, 13, 13]  # not 16, 16, 8: the padding is spread


def test_untrained_loss_bounds_the_loss_of_vectors_that_have_not_moved(small_corpus):
  from jw2v.train import untrained_loss
  corpus, vocab = small_corpus
  for kw in (dict(model='cbow'), dict(model='skipgram'), dict(model='skipgram', centre_negatives=6)):
    config = jw2v.Config(dim=8, min_count=1, epochs=1, alpha=1e-12, min_alpha=0.0, **kw).resolved('cpu')
    loss = jw2v.train(corpus, vocab, config, progress=False).history['epochs'][0]['loss']
    assert loss <= untrained_loss(config)
    if not config.centre_negatives:  # log 2 for the positive and each negative but those equal to it
      assert loss > 0.9 * untrained_loss(config)


def test_a_loss_that_runs_away_stops_training_and_names_the_step(small_corpus):
  corpus, vocab = small_corpus
  saved = []
  # A learning rate far too large: the loss climbs but stays finite, in the second epoch of this corpus.
  with pytest.raises(jw2v.DivergenceError, match=r'the loss rose to \S+ per example at step \d+, \S+x the loss '
                                                 r'of untrained vectors \(4\.16\) \(epoch 2\); try a lower'):
    jw2v.train(corpus, vocab, jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=2, alpha=0.5),
               progress=False, checkpoint=saved.append)
  assert [c.epoch for c in saved] == [1]  # the end of epoch 1 was checkpointed; nothing after it
  base = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=1)
  with pytest.raises(jw2v.DivergenceError, match=r'per example at step \d+, .* \(model 1 of the sweep\)'):
    jw2v.train_many(corpus, vocab, [base, dataclasses.replace(base, alpha=3.0)], progress=False)


def test_default_runs_do_not_trip_the_runaway_guard(small_corpus):
  corpus, vocab = small_corpus
  for model in ('cbow', 'skipgram'):
    for seed in (1, 2, 3):
      jw2v.train(corpus, vocab, jw2v.Config(model=model, dim=8, min_count=1, epochs=3, seed=seed), progress=False)


@pytest.fixture(scope='module')
def dictionary_like(tmp_path_factory):
  """Text shaped like a dictionary: 100 entries of 1000 words, one per line, each repeating its headword
  (15 % of its words) among Zipf-distributed common words."""
  rng = np.random.default_rng(0)
  p = 1.0 / np.arange(1, 3001)
  lines = []
  for entry in range(100):
    words = np.array([f'w{i}' for i in rng.choice(3000, size=1000, p=p / p.sum())], dtype=object)
    words[rng.random(1000) < 0.15] = f'head{entry}'
    lines.append(' '.join(words))
  return jw2v.load_corpus(write_text(tmp_path_factory.mktemp('dict') / 'd.txt', '\n'.join(lines)), min_count=5)[:2]


def test_dictionary_like_text_trains_with_shared_negatives_and_per_pair(dictionary_like):
  # An entry repeats its headword. When a step held consecutive examples, hundreds of its updates, all
  # computed from the same vectors and pointing the same way, landed on the headword's rows at once; the
  # sum overshot and the next steps overshot further. With shared negatives (512 consecutive centres,
  # about 3,000 pairs, each shared negative a lump of up to `negative` pairs' weight) the loss ran away
  # to about 1e10 per centre here. The batches now spread over the whole block.
  from jw2v.train import untrained_loss
  corpus, vocab = dictionary_like
  for kw in (dict(model='skipgram', centre_negatives=10), dict(model='skipgram'), dict(model='cbow')):
    config = jw2v.Config(epochs=2, **kw)
    losses = [e['loss'] for e in jw2v.train(corpus, vocab, config, progress=False).history['epochs']]
    assert losses[1] < losses[0] < untrained_loss(config.resolved('cpu')), (kw, losses)


def test_cbow_with_the_sum_is_the_gradient_of_the_sum():
  """cbow_mean=False (gensim's cbow_mean=0): h is the sum of the context rows; the sparse step equals the
  reference SGD step of the summed loss, and each context row gets count times the mean rule's update."""
  batch, params = _cbow_batch(), _params()
  sparse, loss_s = _one_step(_config('cbow', cbow_mean=False), params, batch)
  reference, loss_r = _one_step(_config('cbow', cbow_mean=False, path='reference'), params, batch)
  np.testing.assert_allclose(loss_s, loss_r, rtol=1e-6)
  for name in ('W_in', 'W_out'):
    np.testing.assert_allclose(sparse[name], reference[name], rtol=1e-5, atol=1e-7)
  mean, _ = _one_step(_config('cbow'), params, batch)
  assert not np.allclose(mean['W_out'], sparse['W_out'])  # a different h scores differently
  negatives = _negatives(_config('cbow'), batch.weight_B.shape[0])
  args = (batch.contexts_BxC, batch.mask_BxC, batch.center_B, negatives, batch.weight_B)
  grads = jw2v.cbow_grads(params, *args, mean=False)
  auto = jax.grad(jw2v.cbow_loss)(params, *args, mean=False)
  for name in ('W_in', 'W_out'):
    np.testing.assert_allclose(grads[name], auto[name], rtol=1e-5, atol=1e-6)


class _Recorder:
  def __init__(self, stop_after=None):
    self.begun, self.ended, self.stop_after = [], [], stop_after

  def on_epoch_begin(self, epoch):
    self.begun.append(epoch)

  def on_epoch_end(self, epoch, loss, params):
    self.ended.append((epoch, loss, params['W_in'].copy()))
    return self.stop_after is not None and epoch + 1 >= self.stop_after


def test_callbacks_hear_every_epoch_and_may_stop_the_run(small_corpus):
  corpus, vocab = small_corpus
  config = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=3, steps_per_call=4)
  recorder, only_end = _Recorder(), type('OnlyEnd', (), {'on_epoch_end': lambda self, e, l, p: None})()
  result = jw2v.train(corpus, vocab, config, progress=False, callbacks=[recorder, only_end])
  assert recorder.begun == [0, 1, 2] and [e for e, _, _ in recorder.ended] == [0, 1, 2]
  assert [loss for _, loss, _ in recorder.ended] == [e['loss'] for e in result.history['epochs']]
  np.testing.assert_array_equal(recorder.ended[-1][2], result.params['W_in'])
  one = jw2v.train(corpus, vocab, dataclasses.replace(config, epochs=1), progress=False).params['W_in']
  assert not np.array_equal(recorder.ended[0][2], one)  # a 1-epoch run's learning rate decays faster

  stopper = _Recorder(stop_after=2)
  with pytest.raises(jw2v.TrainingStopped) as stopped:
    jw2v.train(corpus, vocab, config, progress=False, callbacks=[stopper])
  assert [e for e, _, _ in stopper.ended] == [0, 1] and stopped.value.checkpoint.epoch == 2
  resumed = jw2v.train(corpus, vocab, config, progress=False, resume=stopped.value.checkpoint)
  np.testing.assert_array_equal(resumed.params['W_in'], result.params['W_in'])


def test_params_that_do_not_fit_the_vocabulary_are_one_error(small_corpus):
  corpus, vocab = small_corpus
  config = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=1)
  params = jw2v.init_params(jax.random.key(0), len(vocab) - 3, 8)
  with pytest.raises(jw2v.ConfigError, match=r'do not fit a vocabulary of 60 words at dim 8.*jw2v.extend_params'):
    jw2v.train(corpus, vocab, config, params=params, progress=False)
  grown = jw2v.extend_params(params, len(vocab), key=jax.random.key(1))
  np.testing.assert_array_equal(grown['W_in'][:len(vocab) - 3], params['W_in'])
  assert np.all(grown['W_out'][:, -3:] == 0) and np.all(grown['W_in'][-3:] != 0)
  jw2v.train(corpus, vocab, config, params=grown, progress=False)  # fits now
