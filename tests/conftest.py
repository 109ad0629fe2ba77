import os
from pathlib import Path

import pytest


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
