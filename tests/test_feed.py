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
