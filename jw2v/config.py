"""Training configuration: a frozen dataclass with word2vec.c's defaults."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Optional

from jw2v.errors import ConfigError

MODELS = ('cbow', 'skipgram')
OPTIMIZERS = ('sgd', 'adam', 'adagrad', 'rmsprop', 'adamw')
PATHS = ('sparse', 'reference')
HS_TREES = ('gensim', 'word2vec.c')


@dataclasses.dataclass(frozen=True)
class Config:
  """Hyperparameters of one training run.

  Defaults follow word2vec.c (and gensim, where word2vec.c has none). `alpha=None` means 0.025 for SGD
  (word2vec.c's skip-gram rate, gensim's rate for both models) and 0.001 for the other optimizers (the
  book's Adam). `path=None` picks the sparse fast path for SGD and the dense reference path otherwise.
  `deterministic` makes GPU results bit-for-bit repeatable (XLA's deterministic scatter-adds); a CPU run
  always is. `devices=None` trains on every device; `shard_tables` splits the tables by rows across them
  (sparse path only). `local_updates=True` (opt-in; sparse path, replicated tables) lets each device
  apply its share of every batch to its own copy of the tables, and sums the copies' changes into every
  copy once per dispatch (`steps_per_call` steps) instead of after every step: several CPU devices then
  train in parallel (one per core), but a device does not see the others' updates of a dispatch until
  its end, and the sum costs O(V * dim) per dispatch (the performance docs measure both). With
  `merge_every=M` (local updates only, M <= `steps_per_call`) the rows of the 16,384 most frequent words
  (and of the inner nodes nearest hierarchical softmax's root) are also summed every M steps, so that
  a dispatch can be longer, and the O(V * dim) sum rarer, while the rows most steps touch are merged
  as often as before. `init_scale`
  sets the range of the initial W_in, uniform in [-init_scale/dim, init_scale/dim): 1.0 (the default) is
  gensim 4's, 0.5 word2vec.c's (and gensim 3's); gensim 4's scored higher on the quality matrix, for both
  models.
  `examples_on` is where each block's training examples are made from its random bits: 'device' (one
  jitted program), 'host' (numpy, in the thread that feeds the blocks, while the device trains on the
  previous block; one process only) or None, which is 'host' when training on CPU devices in one process
  and 'device' otherwise. Both make the same examples, so the choice changes speed, not results.
  `negative_pool=P` (0 = off, word2vec.c's way; else a power of two) draws a step's negatives that fall
  on rare words (rank `negative_pool_from` and beyond in frequency order) through a pool of P rare words
  drawn for the step (`batches.step_negatives`): every negative keeps exactly the noise distribution, and
  a step touches at most P rows of rare words, which with a large vocabulary are the rows a CPU fetches
  from memory.

  `hs=True` trains hierarchical softmax (word2vec.c's `-hs 1`, gensim's `hs=1`): each target word's
  path through a Huffman tree of the vocabulary (`vocab.huffman_tree`) is a series of binary choices
  scored against the inner nodes' vectors (the params' `W_hs`, (dim, V - 1)). With `negative=0` it is
  the only output layer; with both, each example trains both, as word2vec.c does. As in word2vec.c and
  gensim, a node whose score is beyond +-6 is left out of the update (`model.MAX_EXP`). `hs_tree` picks
  the tree: 'gensim' (gensim's, the default) or 'word2vec.c' (word2vec.c's). The two differ in how they
  merge words of equal count, and the vectors differ with them (the performance docs measure both).

  `cbow_mean=False` makes CBOW's h the sum of the context vectors instead of their mean (gensim's
  `cbow_mean=0`; every context row then receives the full update, the exact gradient of the sum).

  `centre_negatives=N` (skip-gram, sparse path; 0 = off, word2vec.c's way and the default) is opt-in and
  not word2vec's algorithm: it draws N negatives per centre word, shared by all of that centre's (centre,
  context) pairs, each weighted `negative / N` per pair it serves, so that a pair still gets `negative`
  negatives' worth of updates in expectation; a step then gathers and updates far fewer rows, but each
  shared negative lands on its row as one large update instead of several small ones, and the vectors
  score lower: with N = 10, 0.5 to 2.1 points of analogies on four of the six corpora of the README's
  quality matrix (WordSim-353 and SimLex-999 about equal), for about twice the speed on a CPU.

  Two fields default to None, "chosen for the devices": `resolved(platform)` (which `train` applies)
  fills them in. `negative_pool=None` is 512 on the sparse path on a CPU (a step with a 1M-word
  vocabulary about 20 % faster; no vocabulary of 16,384 words or fewer is affected) and 0 everywhere else.
  `batch_size=None` is 1024 examples per step (pairs for skip-gram, centres for CBOW), or with
  `centre_negatives` as many centres as hold about 1024 pairs at most (`centre_batch_size`).

  Examples:
    >>> import jw2v
    >>> config = jw2v.Config(model='skipgram', dim=50)
    >>> config.window, config.negative, config.learning_rate
    (5, 5, 0.025)
    >>> config.resolved('cpu').batch_size
    1024
    >>> jw2v.Config(dim=0)
    Traceback (most recent call last):
    ...
    jw2v.errors.ConfigError: dim must be a whole number >= 1, got 0
  """
  model: str = 'cbow'
  dim: int = 100
  window: int = 5
  negative: int = 5
  min_count: int = 5
  max_vocab_size: Optional[int] = None
  max_final_vocab: Optional[int] = None
  sample: float = 1e-3
  ns_exponent: float = 0.75
  shrink_windows: bool = True
  epochs: int = 5
  alpha: Optional[float] = None
  min_alpha: float = 0.0001
  optimizer: str = 'sgd'
  path: Optional[str] = None
  batch_size: Optional[int] = None
  steps_per_call: int = 64
  block_tokens: int = 1 << 17
  cbow_full_error: bool = True
  cbow_mean: bool = True
  hs: bool = False
  hs_tree: str = 'gensim'
  deterministic: bool = False
  devices: Optional[int] = None
  shard_tables: bool = False
  local_updates: bool = False
  merge_every: Optional[int] = None
  centre_negatives: int = 0
  negative_pool: Optional[int] = None
  negative_pool_from: int = 16384
  max_sentence_length: int = 10_000
  init_scale: float = 1.0
  examples_on: Optional[str] = None
  seed: int = 1

  def __post_init__(self):
    def need(ok, msg):
      if not ok:
        raise ConfigError(msg, field=_first_field(msg))

    need(self.model in MODELS, f'model must be one of {", ".join(MODELS)}, got {self.model!r}')
    need(self.optimizer in OPTIMIZERS, f'optimizer must be one of {", ".join(OPTIMIZERS)}, got {self.optimizer!r}')
    need(self.path is None or self.path in PATHS, f'path must be one of {", ".join(PATHS)}, got {self.path!r}')
    need(self.examples_on in (None, 'host', 'device'), f'examples_on must be host or device, got {self.examples_on!r}')
    need(not (self.path == 'sparse' and self.optimizer != 'sgd'),
         f'the sparse path only does SGD; optimizer {self.optimizer!r} needs path="reference"')
    for name in ('dim', 'window', 'min_count', 'epochs', 'batch_size', 'steps_per_call',
                 'block_tokens', 'max_sentence_length'):
      value = getattr(self, name)
      need((value is None and name == 'batch_size') or (isinstance(value, int) and not isinstance(value, bool)
                                                        and value >= 1),
           f'{name} must be a whole number >= 1, got {value!r}')
    need(isinstance(self.cbow_mean, bool), f'cbow_mean must be True or False, got {self.cbow_mean!r}')
    need(isinstance(self.hs, bool), f'hs must be True or False, got {self.hs!r}')
    need(self.hs_tree in HS_TREES, f'hs_tree must be one of {", ".join(HS_TREES)}, got {self.hs_tree!r}')
    need(isinstance(self.negative, int) and not isinstance(self.negative, bool) and self.negative >= (0 if self.hs else 1),
         f'negative must be a whole number >= 1 (>= 0 with hs), got {self.negative!r}')
    need(not (self.hs and (self.shard_tables or self.centre_negatives)),
         'hs (hierarchical softmax) works without shard_tables and centre_negatives')
    need(self.devices is None or (isinstance(self.devices, int) and self.devices >= 1),
         f'devices must be >= 1, got {self.devices!r}')
    need(not (self.shard_tables and self.update_path != 'sparse'),
         'shard_tables needs the sparse SGD path (optimizer sgd)')
    need(isinstance(self.local_updates, bool), f'local_updates must be True or False, got {self.local_updates!r}')
    need(not (self.local_updates and (self.shard_tables or self.update_path != 'sparse')),
         'local_updates needs the sparse SGD path (optimizer sgd) and replicated tables (no shard_tables)')
    need(self.merge_every is None or (isinstance(self.merge_every, int) and not isinstance(self.merge_every, bool)
                                      and 1 <= self.merge_every <= self.steps_per_call),
         f'merge_every must be a whole number from 1 to steps_per_call ({self.steps_per_call}), '
         f'got {self.merge_every!r}')
    need(self.merge_every is None or self.local_updates, 'merge_every needs local_updates')
    need(isinstance(self.centre_negatives, int) and not isinstance(self.centre_negatives, bool)
         and self.centre_negatives >= 0,
         f'centre_negatives must be a whole number >= 0, got {self.centre_negatives!r}')
    need(not self.centre_negatives or (self.model == 'skipgram' and self.update_path == 'sparse'),
         'centre_negatives is for skip-gram on the sparse SGD path (model skipgram, optimizer sgd)')
    for name in ('negative_pool', 'negative_pool_from'):
      value = getattr(self, name)
      need((value is None and name == 'negative_pool') or (isinstance(value, int) and not isinstance(value, bool)
                                                           and value >= 0),
           f'{name} must be a whole number >= 0, got {value!r}')
    need(not self.negative_pool or self.negative_pool & (self.negative_pool - 1) == 0,
         f'negative_pool must be 0 or a power of two, got {self.negative_pool!r}')
    need(self.max_vocab_size is None or (isinstance(self.max_vocab_size, int) and self.max_vocab_size >= 2),
         f'max_vocab_size must be >= 2, got {self.max_vocab_size!r}')
    need(self.max_final_vocab is None or (isinstance(self.max_final_vocab, int) and self.max_final_vocab >= 2),
         f'max_final_vocab must be >= 2, got {self.max_final_vocab!r}')
    need(_finite(self.sample) and self.sample >= 0, f'sample must be >= 0, got {self.sample!r}')
    need(_finite(self.init_scale) and self.init_scale > 0, f'init_scale must be > 0, got {self.init_scale!r}')
    need(_finite(self.ns_exponent), f'ns_exponent must be a finite number, got {self.ns_exponent!r}')
    need(self.alpha is None or (_finite(self.alpha) and self.alpha > 0), f'alpha must be > 0, got {self.alpha!r}')
    need(_finite(self.min_alpha) and self.min_alpha >= 0, f'min_alpha must be >= 0, got {self.min_alpha!r}')
    need(self.min_alpha <= self.learning_rate,
         f'min_alpha ({self.min_alpha}) must not exceed alpha ({self.learning_rate})')

  @property
  def learning_rate(self) -> float:
    """The starting learning rate (`alpha`, or the optimizer's default when it is None)."""
    if self.alpha is not None:
      return self.alpha
    return 0.025 if self.optimizer == 'sgd' else 0.001

  @property
  def update_path(self) -> str:
    """'sparse' (row updates, cost independent of V) or 'reference' (jax.grad + optax, dense)."""
    if self.path is not None:
      return self.path
    return 'sparse' if self.optimizer == 'sgd' else 'reference'

  def resolved(self, platform: str) -> 'Config':
    """This config with the fields left to the devices (None) filled in for `platform` ('cpu', 'gpu', ...).

    On a CPU the sparse path draws rare words' negatives through a pool of 512 (`negative_pool`), so that
    with a large vocabulary a step fetches fewer rows from memory; on a GPU, where it has not been
    measured, it does not. A step holds 1024 examples, or with `centre_negatives` `centre_batch_size`
    centres.
    """
    batch_size = self.batch_size
    if batch_size is None:
      batch_size = self.centre_batch_size if self.centre_negatives else 1024
    negative_pool = self.negative_pool
    if negative_pool is None:
      negative_pool = 512 if self.update_path == 'sparse' and platform == 'cpu' else 0
    return dataclasses.replace(self, batch_size=batch_size, negative_pool=negative_pool)

  @property
  def centre_batch_size(self) -> int:
    """The default batch with `centre_negatives`: the largest power of two of centres that hold at most
    1024 pairs on average where no sentence end cuts their windows (`window + 1` pairs a centre with
    shrinking windows, `2 * window` without), as many as the per-pair default's step. A step's updates are
    all computed from the same vectors and summed, so the rows of the most frequent words receive a sum of
    hundreds at once, and a step of more pairs overshoots."""
    pairs = self.window + 1 if self.shrink_windows else 2 * self.window
    return 1 << max(0, (1024 // pairs).bit_length() - 1)

  @property
  def is_resolved(self) -> bool:
    """Whether no field is left to the devices (see `resolved`)."""
    return self.batch_size is not None and self.negative_pool is not None

  @property
  def pool_rare_from(self) -> Optional[int]:
    """The frequency rank from which negatives are drawn through the pool (`negative_pool_from`), or None
    when there is no pool: what `batches.noise` takes as `rare_from`. Resolved configs only."""
    _need_resolved(self)
    return self.negative_pool_from if self.negative_pool else None

  @property
  def example_layout(self) -> str:
    """`batches.make_examples`'s layout for this run: 'skipgram' (one (centre, context) pair per example) or
    'cbow' (a centre and its context slots: CBOW, and skip-gram with `centre_negatives`). Resolved configs
    only."""
    _need_resolved(self)
    return 'skipgram' if self.model == 'skipgram' and not self.centre_negatives else 'cbow'

  @property
  def negatives_per_example(self) -> int:
    """Negatives drawn per example of a batch: per pair, or per centre with `centre_negatives`. Resolved
    configs only."""
    _need_resolved(self)
    return self.centre_negatives or self.negative

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, d: dict) -> 'Config':
    """Builds a Config from a dict (e.g. a parsed config.json); unknown keys are an error."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
      raise ConfigError(f'unknown config keys: {", ".join(unknown)}')
    return cls(**d)


def _need_resolved(config: Config):
  if not config.is_resolved:
    raise ValueError('this config leaves batch_size or negative_pool to the devices: use '
                     'config.resolved(platform) first')


def _first_field(message: str) -> Optional[str]:
  """The Config field a validation message starts with, if it starts with one."""
  word = message.split(maxsplit=1)[0]
  return word if word in {f.name for f in dataclasses.fields(Config)} else None


def _finite(x) -> bool:
  return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
