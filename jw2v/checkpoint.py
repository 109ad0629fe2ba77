"""Checkpoint files: a training run's whole state in one .npz file, replaced atomically.

numpy's .npz and a JSON header are all a single-host run needs: the state is a handful of arrays (two
tables, optimizer moments, a PRNG key, a step count), and the file is written under a temporary name,
synced and renamed over the previous one, so the last complete checkpoint survives a kill at any moment.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import DataError, reading
from jw2v.config import Config
from jw2v.train.state import Checkpoint, init_state

FORMAT = 1


def _host_leaves(state) -> tuple[list, Any]:
  """The state's arrays on the host, with its PRNG key replaced by the key's raw data."""
  leaves, treedef = jax.tree.flatten(state.with_key_data())
  return [np.asarray(leaf) for leaf in leaves], treedef


def _leaf_structure(state) -> tuple[list, Any]:
  """Shapes and dtypes of the state's arrays (key as raw key data) and its tree structure; the state may be
  arrays or `jax.eval_shape` structs, and nothing is computed or allocated."""
  return jax.tree.flatten(jax.eval_shape(lambda s: s.with_key_data(), state))


def save_checkpoint(path, checkpoint: Checkpoint, meta: dict | None = None) -> None:
  """Writes a checkpoint atomically (temporary name, fsync, rename over the previous one).

  Args:
    path: the .npz file.
    checkpoint: from `train`'s checkpoint callback.
    meta: JSON-able facts about the run (config, corpus) that `load_checkpoint` hands back.
  """
  leaves, _ = _host_leaves(checkpoint.state)
  header = {'format': FORMAT, 'kind': type(checkpoint.state).__name__, 'leaves': len(leaves),
            'position': {k: getattr(checkpoint, k) for k in Checkpoint._fields if k != 'state'},
            'meta': meta or {}}
  arrays = {f'leaf_{i}': leaf for i, leaf in enumerate(leaves)}
  with atomic_write(path, 'wb') as f:
    np.savez(f, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)


def load_checkpoint(path, template) -> tuple[Checkpoint, dict]:
  """Reads a checkpoint written by `save_checkpoint`.

  Args:
    path: the .npz file.
    template: a state of the run's kind and shapes (e.g. `train.init_state` with the run's config, or
      `jax.eval_shape` of it); the file must hold arrays of exactly its structure, shapes and dtypes.

  Returns:
    (Checkpoint with the state as host arrays, the meta dict it was saved with).

  Raises:
    DataError: the file is missing, damaged or truncated, or does not match the template.
  """
  path = Path(path)
  with reading(path, 'checkpoint'):
    try:
      with np.load(path) as npz:
        header = json.loads(npz['header'].tobytes())
        leaves = [npz[f'leaf_{i}'] for i in range(header['leaves'])]
    except (zipfile.BadZipFile, EOFError, ValueError, KeyError, json.JSONDecodeError) as e:
      raise DataError(f'checkpoint {path} is damaged or truncated ({type(e).__name__}: {e})') from None
  if header.get('format') != FORMAT:
    raise DataError(f'checkpoint {path} has format {header.get("format")}; this jw2v reads format {FORMAT}')
  expected, treedef = _leaf_structure(template)
  if header['kind'] != type(template).__name__ or len(leaves) != len(expected):
    raise DataError(f'checkpoint {path} holds a {header["kind"]} with {len(leaves)} arrays; this run needs a '
                    f'{type(template).__name__} with {len(expected)} (was it written with another optimizer?)')
  for i, (got, want) in enumerate(zip(leaves, expected)):
    if got.shape != want.shape or got.dtype != want.dtype:
      raise DataError(f'checkpoint {path}: array {i} is {got.dtype}{list(got.shape)}, the run needs '
                      f'{want.dtype}{list(want.shape)} (another vocabulary or dimension?)')
  state = jax.tree.unflatten(treedef, leaves).with_key()
  return Checkpoint(state, **header['position']), header['meta']


def restore_checkpoint(path, config: Config, vocab_size: int) -> tuple[Checkpoint, dict]:
  """`load_checkpoint` for a run of `config` over `vocab_size` words (builds the template itself, as shapes
  only: no table-sized array is allocated)."""
  def template():
    zeros = {'W_in': jnp.zeros((vocab_size, config.dim)), 'W_out': jnp.zeros((config.dim, vocab_size))}
    if config.hs:
      zeros['W_hs'] = jnp.zeros((config.dim, vocab_size - 1))
    return init_state(config, zeros, key=jax.random.key(0))
  return load_checkpoint(path, jax.eval_shape(template))
