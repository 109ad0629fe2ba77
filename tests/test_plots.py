import numpy as np
import pytest

import jw2v
from jw2v.plots import pca_2d, plot_loss, plot_words
from jw2v.vectors import WordVectors

pytest.importorskip('matplotlib')
PNG = b'\x89PNG\r\n\x1a\n'


def test_pca_recovers_the_main_directions():
  rng = np.random.default_rng(0)
  t = rng.normal(size=50)
  direction = rng.normal(size=8)
  points = np.outer(t, direction) + 1e-6 * rng.normal(size=(50, 8)) + 3.0  # a line, off the origin
  xy = pca_2d(points)
  assert xy.shape == (50, 2)
  assert abs(np.corrcoef(xy[:, 0], t)[0, 1]) > 0.9999 and np.abs(xy[:, 1]).max() < 1e-4


def test_plots_are_pngs(tmp_path):
  vectors = WordVectors(('a', 'b', 'c', 'd'), np.eye(4, dtype=np.float32))
  plot_words(vectors, ['a', 'b', 'c'], tmp_path / 'w.png')
  plot_loss({'epochs': [{'epoch': 1, 'loss': 3.0}, {'epoch': 2, 'loss': 2.5}]}, tmp_path / 'l.png')
  assert (tmp_path / 'w.png').read_bytes()[:8] == PNG and (tmp_path / 'l.png').read_bytes()[:8] == PNG
  with pytest.raises(jw2v.UnknownWordError, match='zebra'):
    plot_words(vectors, ['a', 'zebra'], tmp_path / 'x.png')
  with pytest.raises(jw2v.DataError, match='at least two'):
    plot_words(vectors, ['a', 'a'], tmp_path / 'x.png')
  assert not (tmp_path / 'x.png').exists()
