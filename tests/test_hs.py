"""Hierarchical softmax: gensim's and word2vec.c's Huffman trees, the loss, its hand-derived backward, the
sparse step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jw2v
from jw2v.batches import CbowBatch, SkipgramBatch
from jw2v.grads import hs_grads, skipgram_hs_grads
from jw2v.model import hs_loss
from jw2v.train.loop import untrained_loss
from jw2v.vocab import huffman_tree

V, H, B = 40, 6, 64


def _counts():
  return np.sort(np.random.default_rng(0).zipf(1.4, V).clip(max=10_000))[::-1].astype(np.int64)


def _device_tree(counts):
  return jax.tree.map(jnp.asarray, huffman_tree(counts))


def test_the_tree_of_word2vec_c():
  tree = huffman_tree(np.array([5, 3, 2, 1, 1]), 'word2vec.c')
  # 1 + 1 -> node 0, 2 + node 0 -> node 1, 3 + node 1 -> node 2, 5 + node 2 -> node 3 (the root)
  assert tree.depth_V.tolist() == [1, 2, 3, 4, 4]
  assert tree.points_VxD[4].tolist() == [3, 2, 1, 0] and tree.codes_VxD[0].tolist() == [0, 0, 0, 0]
  assert tree.codes_VxD[3].tolist() == [1, 1, 0, 1] and tree.codes_VxD[4].tolist() == [1, 1, 0, 0]
  np.testing.assert_array_equal(tree.mask_VxD.sum(axis=1), tree.depth_V)


@pytest.mark.parametrize('style', ['gensim', 'word2vec.c'])
def test_the_tree_is_an_optimal_prefix_code_as_gensims_is(style):
  gensim = pytest.importorskip('gensim')
  counts = _counts()
  tree = huffman_tree(counts, style)
  assert np.sum(2.0 ** -tree.depth_V) == pytest.approx(1.0)  # a full binary tree
  paths = {tuple(p[:d]) + tuple(c[:d]) for p, c, d in zip(tree.points_VxD, tree.codes_VxD, tree.depth_V)}
  assert len(paths) == V  # every word its own path
  sentences = [[f'w{i}'] * int(c) for i, c in enumerate(counts)]
  model = gensim.models.Word2Vec(sentences, min_count=1, hs=1, negative=0, vector_size=4, epochs=1)
  gensim_length = sum(model.wv.get_vecattr(w, 'count') * len(model.wv.get_vecattr(w, 'code'))
                      for w in model.wv.index_to_key)
  assert int(np.sum(counts * tree.depth_V)) == gensim_length  # both Huffman: the same weighted length
  distinct = (np.arange(V, 0, -1) ** 2).astype(np.int64)
  shuffled = np.random.default_rng(1).permutation(V)  # counts in any order: each word's path the same
  again, tree = huffman_tree(distinct[shuffled], style), huffman_tree(distinct, style)
  for name in ('depth_V', 'codes_VxD'):
    np.testing.assert_array_equal(getattr(again, name), getattr(tree, name)[shuffled])


def _tied_sentences(seed=0):
  """Sentences over 600 words whose counts tie often (most words occur 1 to 6 times)."""
  rng = np.random.default_rng(seed)
  words = [f'w{i}' for i in range(600)]
  counts = np.minimum(rng.zipf(1.6, 600), 400)
  tokens = [w for w, c in zip(words, counts) for _ in range(c)]
  rng.shuffle(tokens)
  return [tokens[i:i + 12] for i in range(0, len(tokens), 12)]


def test_the_tree_of_gensim_word_for_word():
  gensim = pytest.importorskip('gensim')
  sentences = _tied_sentences()
  _, vocab, _ = jw2v.load_corpus(sentences, min_count=1)
  assert len(set(vocab.counts.tolist())) < len(vocab) / 5  # many ties, where the trees differ
  tree = huffman_tree(vocab.counts, 'gensim')
  model = gensim.models.Word2Vec(vector_size=4, min_count=1, hs=1, negative=0)
  model.build_vocab(sentences)
  for w, d, points, codes in zip(vocab.words, tree.depth_V, tree.points_VxD, tree.codes_VxD):
    assert points[:d].tolist() == model.wv.get_vecattr(w, 'point').tolist()
    assert codes[:d].tolist() == model.wv.get_vecattr(w, 'code').tolist()
  other = huffman_tree(vocab.counts, 'word2vec.c')
  assert not np.array_equal(other.points_VxD, tree.points_VxD)
  assert np.sum(vocab.counts * other.depth_V) == np.sum(vocab.counts * tree.depth_V)  # both optimal


def test_the_tree_style_is_checked():
  with pytest.raises(ValueError, match="style must be 'gensim' or 'word2vec.c', got 'c'"):
    huffman_tree([3, 2, 1], 'c')
  with pytest.raises(jw2v.ConfigError, match="hs_tree must be one of gensim, word2vec.c, got 'heap'"):
    jw2v.Config(hs=True, hs_tree='heap')


def _batch():
  rng = np.random.default_rng(2)
  center, context = rng.integers(0, 5, B), rng.integers(0, V, B)  # repeated words, shared inner nodes
  return SkipgramBatch(jnp.asarray(center, jnp.int32), jnp.asarray(context, jnp.int32),
                       jnp.asarray(rng.random(B) < 0.9, jnp.float32))


def _params():
  key = jax.random.key(3)
  params = jw2v.init_params(key, V, H, hs=True)
  params['W_hs'] = 0.3 * jax.random.normal(jax.random.fold_in(key, 1), (H, V - 1))  # not all zero
  params['W_out'] = 0.3 * jax.random.normal(jax.random.fold_in(key, 2), (H, V))
  return params


def test_hand_derived_backward_equals_jax_grad():
  tree, batch, params = _device_tree(_counts()), _batch(), _params()
  assert params['W_hs'].shape == (H, V - 1)
  rows = lambda a: a[batch.context_B]
  h = params['W_in'][batch.center_B]
  args = (rows(tree.points_VxD), rows(tree.codes_VxD), rows(tree.mask_VxD), batch.weight_B)
  dh, dW_hs = hs_grads(h, params['W_hs'], *args)
  auto_h, auto_W = jax.grad(hs_loss, argnums=(0, 1))(h, params['W_hs'], *args)
  np.testing.assert_allclose(dh, auto_h, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(dW_hs, auto_W, rtol=1e-5, atol=1e-6)
  none = jnp.zeros((B, 0), jnp.int32)
  grads = skipgram_hs_grads(params, batch.center_B, batch.context_B, tree, batch.weight_B)
  auto = jax.grad(jw2v.skipgram_loss)(params, batch.center_B, batch.context_B, none, batch.weight_B, tree)
  for name in ('W_in', 'W_hs'):
    np.testing.assert_allclose(grads[name], auto[name], rtol=1e-5, atol=1e-6)
  assert float(jnp.abs(auto['W_out']).max()) == 0.0  # no negatives: W_out untouched
  root = int(tree.points_VxD[0, 0])
  assert float(jnp.abs(dW_hs[:, root]).sum()) > 0  # every path starts at the root: its row sums B updates


@pytest.mark.parametrize('model, negative', [('skipgram', 0), ('skipgram', 3), ('cbow', 0), ('cbow', 3)])
def test_sparse_step_equals_reference_sgd_step(model, negative):
  tree, params = _device_tree(_counts()), _params()
  if model == 'skipgram':
    batch = _batch()
  else:
    rng = np.random.default_rng(4)
    contexts = rng.integers(0, V, (B, 4))
    batch = CbowBatch(jnp.asarray(contexts, jnp.int32), jnp.asarray(rng.random((B, 4)) < 0.8, jnp.float32),
                      jnp.asarray(rng.integers(0, V, B), jnp.int32), jnp.ones(B, jnp.float32))
  negatives = jw2v.draw_negatives(jax.random.key(5), jw2v.noise(_counts()), (B, negative))
  results = []
  for path in ('sparse', 'reference'):
    config = jw2v.Config(model=model, dim=H, hs=True, negative=negative, path=path, cbow_full_error=False)
    state = jw2v.init_state(config, params, key=jax.random.key(7))
    step = jax.jit(jw2v.make_step(config))
    state, loss = step(state, batch, negatives, jnp.float32(0.1), tree=tree)
    results.append((jw2v.params_of(state), float(loss)))
  (sparse, loss_s), (reference, loss_r) = results
  np.testing.assert_allclose(loss_s, loss_r, rtol=1e-5)
  for name in ('W_in', 'W_out', 'W_hs'):
    np.testing.assert_allclose(sparse[name], reference[name], rtol=1e-5, atol=1e-6)
  assert not np.allclose(sparse['W_hs'], params['W_hs'])
  assert np.allclose(sparse['W_out'], params['W_out']) == (negative == 0)


def test_training_with_hs_checkpoints_and_resumes(tmp_path):
  corpus, vocab = jw2v.synthetic_corpus(20_000, 300, seed=2)
  config = jw2v.Config(model='skipgram', dim=8, min_count=1, epochs=2, hs=True, negative=0, steps_per_call=4)
  whole = jw2v.train(corpus, vocab, config, progress=False)
  assert whole.params['W_hs'].shape == (8, len(vocab) - 1)
  first, last = [e['loss'] for e in whole.history['epochs']]
  assert last < first < untrained_loss(config.resolved('cpu'), 40)
  polls = iter(range(10 ** 6))
  with pytest.raises(jw2v.TrainingStopped) as stopped:
    jw2v.train(corpus, vocab, config, progress=False, should_stop=lambda: next(polls) >= 3)
  jw2v.save_checkpoint(tmp_path / 'c.npz', stopped.value.checkpoint)
  checkpoint, _ = jw2v.restore_checkpoint(tmp_path / 'c.npz', config, len(vocab))
  resumed = jw2v.train(corpus, vocab, config, progress=False, resume=checkpoint)
  for name in ('W_in', 'W_hs'):
    np.testing.assert_array_equal(resumed.params[name], whole.params[name])


def test_hs_settings():
  assert jw2v.Config(hs=True, negative=0).negative == 0
  with pytest.raises(jw2v.ConfigError, match='negative must be a whole number >= 1 \\(>= 0 with hs\\)'):
    jw2v.Config(negative=0)
  with pytest.raises(jw2v.ConfigError, match='hs'):
    jw2v.Config(hs=True, shard_tables=True)


def _gensim_sg_hs_pair(W_in, W_hs, center, points, codes, alpha):
  """gensim's fast_sentence_sg_hs for one pair, in numpy (a node scored beyond +-6 is skipped)."""
  W_in, W_hs = W_in.copy(), W_hs.copy()
  h, work = W_in[center].copy(), np.zeros(W_in.shape[1], np.float32)
  for point, code in zip(points, codes):
    f = float(h @ W_hs[:, point])
    if f <= -6 or f >= 6:
      continue
    g = (1 - code - 1 / (1 + np.exp(-f))) * alpha
    work += g * W_hs[:, point]
    W_hs[:, point] += g * h
  W_in[center] += work
  return W_in, W_hs


def test_nodes_scored_beyond_max_exp_are_skipped_as_word2vec_c_does():
  tree, params = _device_tree(_counts()), _params()
  params['W_hs'] = 8.0 * params['W_hs']
  params['W_in'] = 1.5 * jax.random.normal(jax.random.key(8), params['W_in'].shape)  # scores of about +-9:
  # some nodes beyond +-6, some within
  center, context = 3, V - 1  # the rarest word: the deepest path
  depth = int(tree.depth_V[context])
  points, codes = np.asarray(tree.points_VxD[context][:depth]), np.asarray(tree.codes_VxD[context][:depth])
  scores = np.asarray(params['W_in'][center] @ params['W_hs'][:, points])
  assert (np.abs(scores) >= 6).any() and (np.abs(scores) < 6).any(), scores
  batch = SkipgramBatch(jnp.array([center], jnp.int32), jnp.array([context], jnp.int32), jnp.ones(1, jnp.float32))
  config = jw2v.Config(model='skipgram', dim=H, hs=True, negative=0)
  state = jw2v.init_state(config, params, key=jax.random.key(7))
  state, _ = jax.jit(jw2v.make_step(config))(state, batch, jnp.zeros((1, 0), jnp.int32), jnp.float32(0.1), tree=tree)
  want_in, want_hs = _gensim_sg_hs_pair(np.asarray(params['W_in']), np.asarray(params['W_hs']), center, points,
                                        codes, 0.1)
  got = jw2v.params_of(state)
  np.testing.assert_allclose(got['W_in'], want_in, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(got['W_hs'], want_hs, rtol=1e-5, atol=1e-6)
  skipped = points[np.abs(scores) >= 6]
  np.testing.assert_array_equal(got['W_hs'][:, skipped], np.asarray(params['W_hs'])[:, skipped])
  # and the reference path's jax.grad agrees with the hand-derived backward on such scores
  rows = lambda a: a[batch.context_B]
  h = params['W_in'][batch.center_B]
  args = (rows(tree.points_VxD), rows(tree.codes_VxD), rows(tree.mask_VxD), batch.weight_B)
  for mine, auto in zip(hs_grads(h, params['W_hs'], *args), jax.grad(hs_loss, argnums=(0, 1))(h, params['W_hs'], *args)):
    np.testing.assert_allclose(mine, auto, rtol=1e-5, atol=1e-6)
