"""Multi-process start-up: joining a run of several processes (one per host) through `jax.distributed`."""

from __future__ import annotations

import socket
import time
from typing import Optional

import jax

from jw2v.errors import ConfigError


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
    raise ConfigError(f'timeout must be >= 1 second, got {timeout}', field='timeout')
  if num_processes is not None and process_id is not None and not (
      num_processes >= 1 and 0 <= process_id < num_processes):
    raise ConfigError(f'process_id must be between 0 and {num_processes - 1} and num_processes >= 1, '
                      f'got {process_id} and {num_processes}', field='process_id')
  if coordinator is not None:
    host, _, port = coordinator.rpartition(':')
    if not host or not port.isdigit():
      raise ConfigError(f'coordinator must be HOST:PORT, got {coordinator!r}', field='coordinator')
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
                          'there (or check the coordinator address)') from None
      time.sleep(0.5)
