"""The feed: blocks of examples made ahead of the steps, in a background thread."""

import pytest

from jw2v.train import feed


def test_prefetch_keeps_order_and_forwards_errors():
  assert list(feed.prefetch(iter(range(100)), depth=3)) == list(range(100))

  def failing():
    yield 1
    raise RuntimeError('bad block')

  with pytest.raises(RuntimeError, match='bad block'):
    list(feed.prefetch(failing()))
  stream = feed.prefetch(iter(range(10**9)))
  assert next(stream) == 0
  stream.close()  # the producer thread stops instead of running on
  assert not [t for t in __import__('threading').enumerate() if t.name == 'jw2v-prefetch']


def test_examples_are_made_on_the_host_in_one_process_only(monkeypatch):
  import jax
  import jw2v
  from jw2v import devices
  corpus, vocab = jw2v.synthetic_corpus(2_000, 50, seed=1)
  layout = devices.make_layout(len(vocab), 1)
  config = lambda **kw: jw2v.Config(min_count=1, **kw).resolved('cpu')
  assert feed.make_feed(corpus, vocab.counts, config(), layout, jax.random.key(0)).on_host  # a CPU, by default
  assert not feed.make_feed(corpus, vocab.counts, config(examples_on='device'), layout, jax.random.key(0)).on_host
  monkeypatch.setattr(jax, 'process_count', lambda: 2)
  with pytest.raises(jw2v.ConfigError, match='examples_on="host" makes the examples in one process; this run has 2'):
    feed.make_feed(corpus, vocab.counts, config(examples_on='host'), layout, jax.random.key(0))
  assert not feed.make_feed(corpus, vocab.counts, config(), layout, jax.random.key(0)).on_host  # devices, then
