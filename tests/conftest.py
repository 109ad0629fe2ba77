import os
from pathlib import Path

import numpy as np
import pytest

import jw2v


@pytest.fixture(scope='session')
def ptb_train() -> Path:
  """The PTB training text under JW2V_DATA_DIR (CI points it at ../shared/data)."""
  root = os.environ.get('JW2V_DATA_DIR')
  path = Path(root or '.') / 'ptb' / 'ptb.train.txt'
  if not root or not path.is_file():
    pytest.skip('set JW2V_DATA_DIR to the folder holding ptb/ptb.train.txt')
  return path


def write_text(path: Path, text: str) -> Path:
  path.write_text(text, encoding='utf-8')
  return path


def synthetic_text(path: Path, n_tokens: int, vocab_size: int, seed: int) -> Path:
  """`jw2v.synthetic_corpus` written as a text file, a sentence per line."""
  corpus, vocab = jw2v.synthetic_corpus(n_tokens, vocab_size, seed=seed)
  words = np.array(vocab.words)
  lines = [' '.join(words[corpus.ids[a:b]]) for a, b in zip(corpus.offsets[:-1], corpus.offsets[1:])]
  return write_text(path, '\n'.join(lines) + '\n')
