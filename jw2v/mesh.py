"""Devices: the mesh training runs on, table layouts, multi-process start-up, and a memory estimate.

jw2v uses one mesh axis, 'd'. Every batch is split along it (data parallelism); the two tables are either
replicated on every device or split along it by rows (`shard_tables`). A single device is a mesh of one,
and runs the same code.
"""

from __future__ import annotations

import functools
import socket
import time
from typing import NamedTuple, Optional

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from jw2v import batches as batches_lib
from jw2v.errors import ConfigError

AXIS = 'd'


class Layout(NamedTuple):
  """Where a run's arrays live.

  Attributes:
    mesh: a 1-D mesh over the training devices (axis 'd').
    shard_tables: tables split by rows along 'd' (else replicated on every device).
    rows: table rows, the vocabulary size rounded up to a multiple of the device count when sharded.
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


def make_layout(vocab_size: int, devices: Optional[int] = None, shard_tables: bool = False) -> Layout:
  """A layout over the first `devices` devices (default: all of them, across processes).

  Raises:
    ConfigError: more devices asked for than there are.
  """
  available = jax.devices()
  devices = len(available) if devices is None else devices
  if not 1 <= devices <= len(available):
    raise ConfigError(f'--devices must be between 1 and the {len(available)} device(s) present, got {devices}')
  rows = -(-vocab_size // devices) * devices if shard_tables else vocab_size
  return Layout(Mesh(np.array(available[:devices]), (AXIS,)), shard_tables, rows)


def table_width(dim: int) -> int:
  """The columns each row of the sparse path's tables takes on the default backend: `dim`, rounded up to a
  multiple of 8 on a CPU.

  The extra columns start at zero and stay zero (every update to them is a product with a zero), so the
  vectors are those of `dim` columns. XLA's CPU gathers and scatters of whole 8-float vectors have no
  scalar tail per row: PTB epochs at dim 100 (stored as 104) took about 12 % less time for both models,
  at dim 50 (56) up to 30 % less, though every row does more work.
  """
  return -(-dim // 8) * 8 if jax.default_backend() == 'cpu' else dim


def put(x, sharding: NamedSharding):
  """Places a host array (the same on every process) on the sharding's devices."""
  x = np.asarray(x)
  if jax.process_count() == 1:
    return jax.device_put(x, sharding)
  return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])


def put_block(corpus, span, size: int, layout: Layout):
  """A block of the corpus split over the layout's devices by position; each process reads only its slices."""
  sharding = NamedSharding(layout.mesh, P(AXIS))
  read = functools.lru_cache(maxsize=None)(
      lambda start, stop: batches_lib.read_block(corpus, span, size, start, stop))
  part = lambda index, which: read(index[0].start or 0, size if index[0].stop is None else index[0].stop)[which]
  ids = jax.make_array_from_callback((size,), sharding, lambda index: part(index, 0))
  sentence = jax.make_array_from_callback((size,), sharding, lambda index: part(index, 1))
  return batches_lib.Block(ids, sentence, put(np.int32(span.hi - span.lo), layout.replicated()))


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


def initialize_distributed(coordinator: Optional[str], num_processes: Optional[int],
                           process_id: Optional[int], timeout: int = 300) -> None:
  """Joins a multi-process run through `jax.distributed.initialize` (CPU collectives use gloo).

  With no arguments, JAX's own environment variables (or a cluster it recognises) configure it.
  JAX's runtime ends the process without a Python error when it cannot start or reach the coordinator,
  so the two usual mistakes are checked first: process 0's port already in use, and no coordinator
  answering the others within `timeout` seconds.

  Raises:
    ConfigError: a malformed address or process id, a timeout < 1, the coordinator's port is taken, or it
      does not answer.
  """
  if timeout < 1:
    raise ConfigError(f'--join-timeout must be >= 1 second, got {timeout}')
  if num_processes is not None and process_id is not None and not (
      num_processes >= 1 and 0 <= process_id < num_processes):
    raise ConfigError(f'--process-id must be between 0 and {num_processes - 1} and --num-processes >= 1, '
                      f'got {process_id} and {num_processes}')
  if coordinator is not None:
    host, _, port = coordinator.rpartition(':')
    if not host or not port.isdigit():
      raise ConfigError(f'--coordinator must be HOST:PORT, got {coordinator!r}')
    host = host.strip('[]')
  if coordinator is not None and process_id is not None:
    if process_id == 0:
      _check_port_free(int(port), coordinator)
    else:
      _wait_for_coordinator(host, int(port), timeout, coordinator)
  jax.config.update('jax_cpu_collectives_implementation', 'gloo')  # CPU devices only; GPUs use NCCL
  jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes, process_id=process_id,
                             initialization_timeout=timeout)


def _check_port_free(port: int, coordinator: str) -> None:
  with socket.socket(socket.AF_INET6 if socket.has_dualstack_ipv6() else socket.AF_INET) as probe:
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      probe.bind(('', port))
    except OSError as e:
      raise ConfigError(f'cannot start the coordinator {coordinator} on this host (process 0): port {port}: '
                        f'{e.strerror}') from None


def _wait_for_coordinator(host: str, port: int, timeout: float, coordinator: str) -> None:
  deadline = time.monotonic() + timeout
  while True:
    try:
      socket.create_connection((host, port), timeout=5).close()
      return
    except OSError:
      if time.monotonic() >= deadline:
        raise ConfigError(f'no coordinator answered at {coordinator} within {timeout:g}s; start process 0 '
                          'there (or check --coordinator)') from None
      time.sleep(0.5)


_OPTIMIZER_SLOTS = {'sgd': 0, 'adam': 2, 'adamw': 2, 'adagrad': 1, 'rmsprop': 1}


class MemoryEstimate(NamedTuple):
  """Bytes one device holds for a run (the largest arrays only; XLA adds its own temporaries)."""
  devices: int
  tables: int        # W_in and W_out (this device's rows of them when sharded)
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


def memory_estimate(vocab_size: int, config, layout: Layout) -> MemoryEstimate:
  """The memory a run will take on each device, for the start-up message and the docs.

  Args:
    vocab_size: V.
    config: the run's Config (dim, model, window, batch and block sizes, update path, optimizer).
    layout: where the tables live (`make_layout`).
  """
  config = config.resolved(jax.default_backend())
  table_rows = layout.rows_per_device
  dense = config.update_path == 'reference'
  width = config.dim if dense else table_width(config.dim)
  tables = 2 * table_rows * width * 4
  optimizer = _OPTIMIZER_SLOTS[config.optimizer] * tables if dense else 0
  block = batches_lib.example_buffer_size(config.block_tokens, config.example_layout, config.window, config.batch_size)
  per_example = 4 * (3 if config.example_layout == 'skipgram' else 2 + 2 * config.window)
  return MemoryEstimate(layout.devices, tables, optimizer, tables if dense else 0, block * per_example,
                        2 * vocab_size * width * 4)


def size_text(n: int) -> str:
  """Bytes as text: 4.8 GB."""
  for unit in ('B', 'KB', 'MB', 'GB'):
    if n < 1000 or unit == 'GB':
      return f'{n:.0f} {unit}' if unit == 'B' else f'{n:.1f} {unit}'
    n /= 1000
