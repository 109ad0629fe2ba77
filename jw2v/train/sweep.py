"""Sweeps: several models of one corpus trained at once (`train_many`), one step for all of them."""

from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import jax

from jw2v.config import Config
from jw2v.corpus import Corpus
from jw2v.errors import ConfigError
from jw2v.train.loop import TrainResult, train_models
from jw2v.vocab import Vocab

SWEEPABLE = ('seed', 'alpha', 'min_alpha')


def train_many(corpus: Corpus, vocab: Vocab, configs: Sequence[Config], *, progress: bool = True,
               models_per_step: Optional[int] = None) -> list[TrainResult]:
  """Trains several models at once, one jitted, `jax.vmap`-ed step for all of them (a sweep).

  The configs may differ only in `seed`, `alpha` and `min_alpha`. Each model has its own initial vectors
  and negatives (from its seed) and its own learning rate; all share the examples (subsampling and
  windows, drawn with the first config's seed), so a model of the sweep differs from the same config
  trained alone only in that draw. The models train on one device, without checkpoints.

  Args:
    corpus: as for `train`.
    vocab: as for `train`.
    configs: one Config per model.
    progress: show a progress bar.
    models_per_step: how many models one step updates together (the vmapped step, on their stacked
      tables); groups of that many take turns within each dispatch. Default: 1 on a CPU, where the
      tables of several models at once fall out of the cache, and all of them on other devices.

  Returns:
    One TrainResult per config, in order. The history's `seconds` and `words_per_sec` are those of the
    whole sweep.

  Raises:
    ConfigError: no configs, or configs that differ in more than the sweepable fields.
  """
  configs = list(configs)
  if not configs:
    raise ConfigError('train_many needs at least one config')
  for i, config in enumerate(configs):
    same = dataclasses.replace(config, **{k: getattr(configs[0], k) for k in SWEEPABLE})
    if same != configs[0]:
      differ = [f.name for f in dataclasses.fields(Config) if getattr(same, f.name) != getattr(configs[0], f.name)]
      raise ConfigError(f'the models of a sweep may differ only in {", ".join(SWEEPABLE)}; config {i} also '
                        f'differs in {", ".join(differ)}')
  if configs[0].hs:
    raise ConfigError('a sweep trains negative sampling only: leave hs unset', field='hs')
  if configs[0].devices not in (None, 1) or configs[0].shard_tables:
    raise ConfigError('a sweep trains on one device: leave devices and shard_tables unset')
  if models_per_step is None:
    models_per_step = 1 if jax.default_backend() == 'cpu' else len(configs)
  if not (isinstance(models_per_step, int) and 1 <= models_per_step and len(configs) % models_per_step == 0):
    raise ConfigError(f'models_per_step must divide the number of models ({len(configs)}), got {models_per_step}')
  return train_models(corpus, vocab, configs, progress=progress, models_per_step=models_per_step)
