"""A training output directory: vectors (text and binary), params, vocabulary, config and history."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jw2v.atomic import atomic_write
from jw2v.config import Config
from jw2v.errors import DataError, OutputExistsError
from jw2v.vectors import WordVectors
from jw2v.vocab import Vocab, load_vocab, save_vocab

RESULT_FILES = ('vectors.txt', 'vectors.bin', 'params.npz')
CHECKPOINT = 'checkpoint.npz'


class Run(NamedTuple):
  """A finished run read back from its directory."""
  params: dict
  vocab: Vocab
  config: Config
  history: dict


def prepare_output(path, force: bool = False) -> Path:
  """Creates the output directory and checks that it can be written, before any training.

  Raises:
    OutputExistsError: it already holds vectors or params, or an interrupted run's checkpoint, and `force`
      is False.
    DataError: it cannot be created or written.
  """
  path = Path(path)
  existing = [name for name in RESULT_FILES if (path / name).exists()]
  if existing and not force:
    raise OutputExistsError(f'{path} already holds {", ".join(existing)}; choose another output directory, or '
                            'replace them with force', field='force')
  if (path / CHECKPOINT).exists() and not force:  # no vectors yet: a run that was stopped
    raise OutputExistsError(f'{path} holds an interrupted run ({CHECKPOINT}); continue it (jw2v train --resume '
                            f'{path}, or jw2v.resume_job), or replace it with force', field='force')
  try:
    path.mkdir(parents=True, exist_ok=True)
    with atomic_write(path / '.write-test', 'wb'):
      pass
    os.unlink(path / '.write-test')
  except OSError as e:
    raise DataError(f'cannot write to output directory {path}: {e.strerror}') from None
  return path


def start_run(path, config: Config, corpus_dir, source: str) -> None:
  """Records what a run trains on, before it starts, in run.json: its config, prepared corpus and source.

  (config.json is written with the other outputs, at the end, so that a run that fails leaves the
  previous outputs of the directory consistent.)
  """
  path = Path(path)
  with atomic_write(path / 'run.json', 'w', encoding='utf-8') as f:
    json.dump({'corpus': str(Path(corpus_dir).resolve()), 'source': source,
               'config': json.loads(config.to_json())}, f, indent=2)
    f.write('\n')


def read_run_start(path) -> tuple[Config, Path, str]:
  """The config, prepared-corpus directory and corpus source that `start_run` recorded.

  Raises:
    DataError: the directory holds no run that can be resumed.
  """
  path = Path(path)
  if not (path / 'run.json').is_file():
    raise DataError(f'{path} holds no run to resume (it has no run.json); start it again')
  try:
    run = json.loads((path / 'run.json').read_text(encoding='utf-8'))
    config = Config.from_dict(run['config'])
  except (ValueError, KeyError, TypeError) as e:
    raise DataError(f'{path}/run.json: cannot read the run to resume: {e}') from None
  return config, Path(run['corpus']), run['source']


def remove_temporaries(path) -> None:
  """Deletes the temporary files that a killed write may have left in `path` (`atomic_write`'s names)."""
  for tmp in Path(path).glob('.*.tmp'):
    tmp.unlink(missing_ok=True)


def save_run(path, params: dict, vocab: Vocab, config: Config, history: dict) -> None:
  """Writes every output file of a run into `path` (created if needed), each atomically."""
  path = Path(path)
  path.mkdir(parents=True, exist_ok=True)
  params = {k: np.asarray(v) for k, v in params.items()}
  vectors = WordVectors.from_params(params, vocab)
  vectors.save(path / 'vectors.txt', binary=False)
  vectors.save(path / 'vectors.bin', binary=True)
  with atomic_write(path / 'params.npz', 'wb') as f:
    np.savez(f, **params)
  save_vocab(vocab, path / 'vocab.txt')
  with atomic_write(path / 'config.json', 'w', encoding='utf-8') as f:
    f.write(config.to_json() + '\n')
  with atomic_write(path / 'history.json', 'w', encoding='utf-8') as f:
    json.dump(history, f, indent=2)
    f.write('\n')


def load_run(path) -> Run:
  """Reads params, vocabulary, config and history from a training output directory.

  Raises:
    DataError: a file is missing or malformed.
  """
  path = Path(path)
  try:
    with np.load(path / 'params.npz') as npz:
      params = {k: npz[k] for k in ('W_in', 'W_out')}
    vocab = load_vocab(path / 'vocab.txt')
    config = Config.from_dict(json.loads((path / 'config.json').read_text(encoding='utf-8')))
    history = json.loads((path / 'history.json').read_text(encoding='utf-8'))
  except FileNotFoundError as e:
    raise DataError(f'{path} is not a complete training output: {Path(e.filename).name} is missing') from None
  except (ValueError, KeyError, OSError) as e:
    raise DataError(f'{path}: cannot read the run: {e}') from None
  if params['W_in'].shape[0] != len(vocab):
    raise DataError(f'{path}: params have {params["W_in"].shape[0]} rows but vocab.txt has {len(vocab)} words')
  return Run(params, vocab, config, history)
