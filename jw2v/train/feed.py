"""The feed: the corpus as blocks of training examples, made ahead of the steps and placed on the devices.

Block b of epoch e draws its random bits (subsampling, windows) from fold_in(fold_in(data_key, e), b). On
CPU devices in one process the examples are made on the host by numpy, in a background thread, while the
devices train on the previous block; otherwise each block's tokens go to the devices (each device a slice,
each process reading only its devices' slices) and one jitted program makes the examples there. Both make
the same examples.
"""

from __future__ import annotations

import functools
import queue
import threading
from typing import Any, Iterable, Iterator, NamedTuple, Optional

import jax
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from jw2v import batches, devices
from jw2v.config import Config
from jw2v.corpus import Corpus
from jw2v.errors import ConfigError
from jw2v.vocab import keep_probabilities


class Fed(NamedTuple):
  """One block as the feed hands it over."""
  epoch: int
  block: int
  data: Any               # a batches.Block on the devices, or its batches.Examples made on the host
  count: Optional[int]    # host-made examples: how many; a Block: None (the program that makes them counts)
  start: int              # corpus position of the block's first token
  tokens: int             # its tokens


class Feed(NamedTuple):
  """A run's data pipeline: what `blocks` and `examples_program` need."""
  corpus: Corpus
  layout: devices.Layout
  size: int               # T: tokens per block, padded
  on_host: bool           # examples made on the host (else on the devices)
  how: dict               # make_examples' static settings: model, window, shrink_windows, buffer_size
  keep: np.ndarray        # subsampling keep probability of each word (host)
  keep_V: jax.Array       # the same, replicated on the devices
  data_key: jax.Array


def make_feed(corpus: Corpus, counts: np.ndarray, config: Config, layout: devices.Layout, data_key: jax.Array) -> Feed:
  """The feed of a run of `config` (resolved) over `corpus`, whose vocabulary has these counts.

  Raises:
    ConfigError: examples_on='host' in a run over several processes.
  """
  size = batches.block_size(corpus, config.block_tokens, layout.devices)
  one_process = jax.process_count() == 1
  if config.examples_on == 'host' and not one_process:
    raise ConfigError(f'examples_on="host" makes the examples in one process; this run has '
                      f'{jax.process_count()} (leave it unset to make them on the devices)', field='examples_on')
  on_host = config.examples_on == 'host' or (config.examples_on is None and one_process
                                              and jax.default_backend() == 'cpu')
  how = dict(model=config.example_layout, window=config.window, shrink_windows=config.shrink_windows,
             buffer_size=batches.example_buffer_size(size, config.example_layout, config.window, config.batch_size))
  keep = keep_probabilities(counts, config.sample).astype(np.float32)
  return Feed(corpus, layout, size, on_host, how, keep, devices.put(keep, layout.replicated()), data_key)


def examples_shape(feed: Feed) -> batches.Examples:
  """The shapes, dtypes and shardings of a block's examples."""
  shapes = batches.examples_shape(feed.size, feed.how['model'], feed.how['window'], feed.how['buffer_size'])
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=feed.layout.replicated()), shapes)


def _block_key(key: jax.Array, epoch, b) -> jax.Array:
  return jax.random.fold_in(jax.random.fold_in(key, epoch), b)


def _device_examples(how: dict, block: batches.Block, keep_V, key, epoch, b) -> batches.Examples:
  return batches.make_examples(block, keep_V, _block_key(key, epoch, b), **how)


def _gathered_examples(how: dict, block: batches.Block, keep_V, key, epoch, b) -> batches.Examples:
  """`_device_examples` inside `shard_map`: each device gathers the block's slices and makes all of its
  examples."""
  whole = block._replace(ids_T=jax.lax.all_gather(block.ids_T, devices.AXIS, tiled=True),
                         sentence_T=jax.lax.all_gather(block.sentence_T, devices.AXIS, tiled=True))
  return _device_examples(how, whole, keep_V, key, epoch, b)


def examples_program(feed: Feed, first: Fed, options: dict):
  """The compiled program that makes a block's examples on the devices:
  `program(block, keep_V, data_key, epoch, b) -> Examples` (the same on every device, whatever their
  number); it is compiled for the block `first`.

  Over several devices every device makes the whole block's examples from the gathered tokens (a
  `shard_map`): left to XLA's partitioner, the program split its compaction over the devices and took
  150 times as long on two CPU devices (performance docs).
  """
  if feed.layout.devices == 1:
    make = jax.jit(functools.partial(_device_examples, feed.how), out_shardings=feed.layout.replicated())
  else:
    spread = jax.shard_map(functools.partial(_gathered_examples, feed.how), mesh=feed.layout.mesh,
                           in_specs=(batches.Block(P(devices.AXIS), P(devices.AXIS), P()), P(), P(), P(), P()),
                           out_specs=P(), check_vma=False)
    make = jax.jit(spread)
  return make.lower(first.data, feed.keep_V, feed.data_key, 0, 0).compile(options)


@functools.partial(jax.jit, static_argnums=(3,))
def _block_bits(key, epoch, b, size: int):
  return batches.example_bits(_block_key(key, epoch, b), size)


def put_block(corpus: Corpus, span: batches.Span, size: int, layout: devices.Layout) -> batches.Block:
  """A block of the corpus split over the layout's devices by position; each process reads only its slices."""
  sharding = NamedSharding(layout.mesh, P(devices.AXIS))
  read = functools.lru_cache(maxsize=None)(lambda start, stop: batches.read_block(corpus, span, size, start, stop))
  part = lambda index, which: read(index[0].start or 0, size if index[0].stop is None else index[0].stop)[which]
  ids = jax.make_array_from_callback((size,), sharding, lambda index: part(index, 0))
  sentence = jax.make_array_from_callback((size,), sharding, lambda index: part(index, 1))
  return batches.Block(ids, sentence, devices.put(np.int32(span.hi - span.lo), layout.replicated()))


def _host_fed(feed: Feed, epoch: int, b: int, span: batches.Span) -> Fed:
  bits = np.asarray(_block_bits(feed.data_key, epoch, b, feed.size))  # waits for the device work queued before it
  examples = batches.host_examples(batches.host_block(feed.corpus, span, feed.size), feed.keep, bits, **feed.how)
  on_device = jax.tree.map(lambda x: devices.put(x, feed.layout.replicated()), examples)
  return Fed(epoch, b, on_device, int(examples.count), span.lo, span.hi - span.lo)


def blocks(feed: Feed, epochs: int, start: tuple[int, int] = (0, 0)) -> Iterator[Fed]:
  """Every block of every epoch from (epoch, block) `start` on, each on the devices or with its examples
  made on the host."""
  for epoch in range(start[0], epochs):
    for b, span in enumerate(batches.block_spans(feed.corpus, feed.size)):
      if (epoch, b) < start:
        continue
      if feed.on_host:
        yield _host_fed(feed, epoch, b, span)
      else:
        yield Fed(epoch, b, put_block(feed.corpus, span, feed.size, feed.layout), None, span.lo, span.hi - span.lo)


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
  """Yields the items of `items`, produced by a background thread up to `depth` items ahead.

  An exception in the producer is re-raised in the consumer. When the consumer stops early (closes the
  generator), the producer is stopped and joined, so that no thread outlives its use.
  """
  q = queue.Queue(maxsize=depth)
  stop = threading.Event()
  thread = threading.Thread(target=_produce, args=(items, q, stop), name='jw2v-prefetch', daemon=True)
  thread.start()
  try:
    while True:
      item, error = q.get()
      if error is not None:
        raise error
      if item is _DONE:
        return
      yield item
  finally:
    stop.set()
    thread.join()


_DONE = object()


def _produce(items: Iterable, q: queue.Queue, stop: threading.Event) -> None:
  """`prefetch`'s thread: puts (item, None) for each item, then (_DONE, None), or (None, error)."""
  try:
    for item in items:
      if not _put(q, stop, (item, None)):
        return
    _put(q, stop, (_DONE, None))
  except BaseException as e:  # handed to the consumer
    _put(q, stop, (None, e))


def _put(q: queue.Queue, stop: threading.Event, item) -> bool:
  while not stop.is_set():
    try:
      q.put(item, timeout=0.1)
      return True
    except queue.Full:
      pass
  return False
