"""How much memory a run takes on each device: an estimate for the start-up message and the docs."""

from __future__ import annotations

from typing import NamedTuple

import jax

from jw2v import batches, devices


_OPTIMIZER_SLOTS = {'sgd': 0, 'adam': 2, 'adamw': 2, 'adagrad': 1, 'rmsprop': 1}


class MemoryEstimate(NamedTuple):
  """Bytes one device holds for a run (the largest arrays only; XLA adds its own temporaries)."""
  devices: int
  tables: int        # W_in and W_out (this device's rows of them when sharded), and W_hs with hs
  optimizer: int     # optax state of the reference path (Adam: two table-sized moments)
  gradients: int     # the reference path's dense gradients
  examples: int      # a block's example buffers
  total_tables: int  # both tables on all devices together, without the rows added to split them

  @property
  def per_device(self) -> int:
    return self.tables + self.optimizer + self.gradients + self.examples

  def describe(self) -> str:
    """One line for the start-up message."""
    extra = ''.join(f', {name} {size_text(v)}' for name, v in (('optimizer state', self.optimizer),
                                                              ('gradients', self.gradients)) if v)
    return (f'memory per device (estimate, {self.devices} device(s)): {size_text(self.per_device)} = tables '
            f'{size_text(self.tables)} (of {size_text(self.total_tables)} in all){extra}, examples {size_text(self.examples)}')


def memory_estimate(vocab_size: int, config, layout: devices.Layout) -> MemoryEstimate:
  """The memory a run will take on each device, for the start-up message and the docs.

  Args:
    vocab_size: V.
    config: the run's Config (dim, model, window, batch and block sizes, update path, optimizer).
    layout: where the tables live (`make_layout`).
  """
  config = config.resolved(jax.default_backend())
  table_rows = layout.rows_per_device
  dense = config.update_path == 'reference'
  width = config.dim if dense else devices.table_width(config.dim)
  tables = (2 * table_rows + (vocab_size - 1 if config.hs else 0)) * width * 4  # W_in, W_out (and W_hs)
  optimizer = _OPTIMIZER_SLOTS[config.optimizer] * tables if dense else 0
  block = batches.example_buffer_size(config.block_tokens, config.example_layout, config.window, config.batch_size)
  per_example = 4 * (3 if config.example_layout == 'skipgram' else 2 + 2 * config.window)
  return MemoryEstimate(layout.devices, tables, optimizer, tables if dense else 0, block * per_example,
                        2 * vocab_size * width * 4)


def size_text(n: int) -> str:
  """Bytes as text: 4.8 GB."""
  for unit in ('B', 'KB', 'MB', 'GB'):
    if n < 1000 or unit == 'GB':
      return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
    n /= 1000
