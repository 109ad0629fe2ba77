"""A training output directory: vectors (text and binary), params, vocabulary, config and history.

A run trains in the directory's `.training/` (its run.json, checkpoints and prepared corpus) and writes its
outputs there; only when all are written are they moved into the directory, replacing the previous run's
(`finish_run`). Until then, and whatever fails, the directory holds the previous run whole.
"""

from __future__ import annotations

import json
import os
import shutil
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
TRAINING = '.training'  # the run in progress, inside the output directory


class Run(NamedTuple):
  """A finished run read back from its directory."""
  params: dict
  vocab: Vocab
  config: Config
  history: dict


def prepare_output(path, force: bool = False) -> Path:
  """Creates the output directory and its `.training/` for a new run, and checks that they can be
  written, before any training; the previous run in the directory is left as it is.

  Raises:
    OutputExistsError: it already holds vectors or params, or an interrupted run's checkpoint, and `force`
      is False.
    DataError: it cannot be created or written.

  Returns:
    The directory.
  """
  path = Path(path)
  existing = [name for name in RESULT_FILES if (path / name).exists()]
  if existing and not force:
    raise OutputExistsError(f'{path} already holds {", ".join(existing)}; choose another output directory, or '
                            'replace them with force', field='force')
  if checkpoint_path(path).exists() and not force:
    raise OutputExistsError(f'{path} holds an interrupted run ({TRAINING}/{CHECKPOINT}); continue it (jw2v train '
                            f'--resume {path}, or jw2v.resume_job), or replace it with force', field='force')
  try:
    shutil.rmtree(path / TRAINING, ignore_errors=True)
    (path / TRAINING).mkdir(parents=True)
    with atomic_write(path / TRAINING / '.write-test', 'wb'):
      pass
    os.unlink(path / TRAINING / '.write-test')
  except OSError as e:
    raise DataError(f'cannot write to output directory {path}: {e.strerror}') from None
  return path


def start_run(path, config: Config, corpus_dir, source: str) -> None:
  """Records what a run trains on, before it starts, in `.training/run.json`: its config, prepared corpus
  (relative to `path` when inside it, so that it stays right when the run is moved in) and source."""
  path = Path(path)
  corpus_dir = Path(corpus_dir).resolve()
  inside = corpus_dir.is_relative_to((path / TRAINING).resolve())
  with atomic_write(path / TRAINING / 'run.json', 'w', encoding='utf-8') as f:
    json.dump({'corpus': str(corpus_dir.relative_to((path / TRAINING).resolve()) if inside else corpus_dir),
               'source': source, 'config': json.loads(config.to_json())}, f, indent=2)
    f.write('\n')


def checkpoint_path(path) -> Path:
  """Where the run in progress in the output directory `path` keeps its checkpoint."""
  return Path(path) / TRAINING / CHECKPOINT


def finish_run(path) -> None:
  """Moves everything the run wrote in `.training/` into the directory, replacing the previous run's files
  (renames, which need no room on the disk), and removes `.training/`."""
  move_into(Path(path) / TRAINING, Path(path))


def move_into(staging: Path, path: Path) -> None:
  """Renames every entry of the directory `staging` over its namesake in `path`, then removes `staging`."""
  for entry in sorted(staging.iterdir()):
    replace_entry(entry, path / entry.name)
  staging.rmdir()


def replace_entry(source: Path, target: Path) -> None:
  """Renames a file or directory over `target` (a directory there is moved aside, then deleted)."""
  if target.is_dir() and not target.is_symlink():
    trash = target.with_name(f'.{target.name}.old')
    shutil.rmtree(trash, ignore_errors=True)
    os.replace(target, trash)
    os.replace(source, target)
    shutil.rmtree(trash, ignore_errors=True)
  else:
    os.replace(source, target)


def read_run_start(path) -> tuple[Config, Path, str]:
  """The config, prepared-corpus directory and corpus source that `start_run` recorded.

  Raises:
    DataError: the directory holds no run that can be resumed.
  """
  path = Path(path)
  record = path / TRAINING / 'run.json'
  if not record.is_file() and (path / 'run.json').is_file():
    raise DataError(f'the run in {path} has finished: there is nothing to resume (a new run replaces it with force)')
  if not record.is_file():
    raise DataError(f'{path} holds no run to resume (it has no {TRAINING}/run.json); start it again')
  try:
    run = json.loads(record.read_text(encoding='utf-8'))
    config = Config.from_dict(run['config'])
  except (ValueError, KeyError, TypeError) as e:
    raise DataError(f'{record}: cannot read the run to resume: {e}') from None
  return config, path / TRAINING / run['corpus'], run['source']


def remove_temporaries(path) -> None:
  """Deletes what a killed write may have left in `path` (`atomic_write`'s names, `save_run`'s staging)."""
  for tmp in Path(path).glob('.*.tmp'):
    tmp.unlink(missing_ok=True)
  shutil.rmtree(Path(path) / '.saving', ignore_errors=True)


def save_run(path, params: dict, vocab: Vocab, config: Config, history: dict) -> None:
  """Writes every output file of a run into `path` (created if needed), all or none: they are written
  beside it first and replace the files there only when every one is complete.

  Raises:
    OSError: a write failed (naming the file); `path` is as it was.
  """
  path = Path(path)
  path.mkdir(parents=True, exist_ok=True)
  staging = path / '.saving'
  shutil.rmtree(staging, ignore_errors=True)
  staging.mkdir()
  try:
    _write_outputs(staging, params, vocab, config, history)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  move_into(staging, path)


def _write_outputs(path: Path, params: dict, vocab: Vocab, config: Config, history: dict) -> None:
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
