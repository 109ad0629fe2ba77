"""Devices: the mesh training runs on, table layouts, and moving arrays between the host and the devices.

jw2v uses one mesh axis, 'd'. Every batch is split along it (data parallelism); the two tables are either
replicated on every device or split along it by rows (`shard_tables`). A single device is a mesh of one,
and runs the same code.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jw2v.errors import ConfigError

AXIS = 'd'


class Layout(NamedTuple):
  """Where a run's arrays live.

  Attributes:
    mesh: a 1-D mesh over the training devices (axis 'd').
    shard_tables: tables split by rows along 'd' (else replicated on every device).
    rows: table rows, the vocabulary size rounded up to a multiple of the device count when the tables
      are sharded or merged by shares of rows (local updates).
  """
  mesh: Mesh
  shard_tables: bool
  rows: int

  @property
  def devices(self) -> int:
    return self.mesh.size

  @property
  def rows_per_device(self) -> int:
    return self.rows // self.devices if self.shard_tables else self.rows

  def replicated(self) -> NamedSharding:
    return NamedSharding(self.mesh, P())

  @property
  def table_spec(self) -> P:
    """How each table is laid out: split by rows along 'd', or replicated."""
    return P(AXIS) if self.shard_tables else P()


def make_layout(vocab_size: int, devices: Optional[int] = None, shard_tables: bool = False,
                local_updates: bool = False) -> Layout:
  """A layout over the first `devices` devices (default: all of them, across processes).

  With `shard_tables` or `local_updates` (`Config.local_updates`, whose merge sums each device's share
  of the rows) the tables get whole shares: their rows are rounded up to a multiple of the device count
  (the extra rows stay zero and are cut off at the end).

  Raises:
    ConfigError: more devices asked for than there are (names `devices`, the Config field).
  """
  available = jax.devices()
  devices = len(available) if devices is None else devices
  if not 1 <= devices <= len(available):
    raise ConfigError(f'devices must be between 1 and the {len(available)} device(s) present, got {devices}',
                      field='devices')
  rows = -(-vocab_size // devices) * devices if shard_tables or local_updates else vocab_size
  return Layout(Mesh(np.array(available[:devices]), (AXIS,)), shard_tables, rows)


def table_width(dim: int) -> int:
  """The columns each row of the sparse path's tables takes on the default backend: `dim`, rounded up to a
  multiple of 8 on a CPU.

  The extra columns start at zero and stay zero (every update to them is a product with a zero), so the
  vectors are those of `dim` columns. XLA's CPU gathers and scatters of whole 8-float vectors have no
  scalar tail per row, which saves more than the extra columns cost (docs/performance.md).
  """
  return -(-dim // 8) * 8 if jax.default_backend() == 'cpu' else dim


def put(x, sharding: NamedSharding):
  """Places a host array (the same on every process) on the sharding's devices."""
  x = np.asarray(x)
  if jax.process_count() == 1:
    return jax.device_put(x, sharding)
  return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def bytes_per_device(arrays) -> list:
  """Bytes of `arrays` held by each of this process's devices (a measurement, from the buffers)."""
  held = {}
  for array in arrays:
    for shard in array.addressable_shards:
      held[shard.device.id] = held.get(shard.device.id, 0) + shard.data.nbytes
  return [held[k] for k in sorted(held)]


def host(x) -> np.ndarray:
  """A (possibly sharded, possibly multi-process) array gathered into one host array."""
  if jax.process_count() == 1 or x.is_fully_addressable:
    return np.asarray(jax.device_get(x))
  if x.is_fully_replicated:
    return np.asarray(x.addressable_data(0))
  from jax.experimental import multihost_utils
  return np.asarray(multihost_utils.process_allgather(x, tiled=True))


def agree(*flags: bool) -> tuple[bool, ...]:
  """Each flag OR-ed over all processes (a no-op in a single process), so that all take the same branch."""
  if jax.process_count() == 1:
    return flags
  from jax.experimental import multihost_utils
  every = np.asarray(multihost_utils.process_allgather(np.array(flags, np.int32)))
  return tuple(bool(x) for x in every.reshape(-1, len(flags)).any(axis=0))
