"""Phrases: the same phrases, and the same joined text, as gensim's Phrases."""

import math

import pytest

import jw2v
from jw2v.phrases import score
from jw2v.cli import main
from conftest import write_text


def _gensim_lines(path, **kw):
  gensim = pytest.importorskip('gensim')
  sentences = [line.split() for line in path.read_text(encoding='utf-8').split('\n')[:-1]]
  frozen = gensim.models.phrases.Phrases(sentences, **kw).freeze()
  return [' '.join(frozen[s]) for s in sentences]


def test_ptb_joined_as_gensim_joins_it(ptb_train, tmp_path):
  info = jw2v.phrases(ptb_train, tmp_path / 'p.txt')
  ours = (tmp_path / 'p.txt').read_text(encoding='utf-8').split('\n')[:-1]
  assert ours == _gensim_lines(ptb_train) and info['phrases'] > 100 and info['joined'] > 1000


@pytest.mark.parametrize('kw', [dict(min_count=2, threshold=1.0), dict(scoring='npmi', threshold=0.3, min_count=2),
                                dict(delimiter='+', min_count=1, threshold=0.5)])
def test_settings_as_gensims(tmp_path, kw):
  text = '\n'.join(['new york is big', 'i love new york', 'new york new york', 'the big apple is new york',
                    '', 'york is old', 'new shoes are big'] * 4) + '\n'
  path = write_text(tmp_path / 't.txt', text)
  jw2v.phrases(path, tmp_path / 'p.txt', **kw)
  ours = (tmp_path / 'p.txt').read_text(encoding='utf-8').split('\n')[:-1]
  assert ours == _gensim_lines(path, **kw) and any(kw.get('delimiter', '_') in line for line in ours)


def test_a_second_pass_finds_longer_phrases(tmp_path, capsys):
  path = write_text(tmp_path / 't.txt', '\n'.join(['we met in new york city today', 'new york city is big',
                                                   'a new day', 'york road', 'the city'] * 20) + '\n')
  assert main(['phrases', str(path), '--out', str(tmp_path / 'p1.txt'), '--threshold', '0.1']) == 0
  assert 'new_york city' in (tmp_path / 'p1.txt').read_text()
  assert main(['phrases', str(tmp_path / 'p1.txt'), '--out', str(tmp_path / 'p2.txt'), '--threshold', '0.1']) == 0
  assert 'new_york_city' in (tmp_path / 'p2.txt').read_text() and 'wrote' in capsys.readouterr().out
  assert main(['phrases', str(path), '--out', str(tmp_path / 'p1.txt')]) == 1  # exists: not replaced
  assert 'already exists' in capsys.readouterr().err


@pytest.mark.parametrize('kw, field', [(dict(scoring='pmi'), 'scoring'), (dict(min_count=0), 'min_count'),
                                       (dict(scoring='npmi', threshold=2.0), 'threshold'),
                                       (dict(delimiter=' '), 'delimiter'), (dict(threshold=math.nan), 'threshold')])
def test_impossible_settings(tmp_path, kw, field):
  path = write_text(tmp_path / 't.txt', 'a b\n')
  with pytest.raises(jw2v.ConfigError) as raised:
    jw2v.phrases(path, tmp_path / 'p.txt', **kw)
  assert raised.value.field == field and not (tmp_path / 'p.txt').exists()


def test_scores_are_gensims():
  pytest.importorskip('gensim')
  from gensim.models.phrases import npmi_scorer, original_scorer
  args = dict(worda_count=30, wordb_count=20, bigram_count=12, len_vocab=500, min_count=5, corpus_word_count=2000)
  assert score('default', 30, 20, 12, 500, 5, 2000) == original_scorer(**args)
  assert score('npmi', 30, 20, 12, 500, 5, 2000) == pytest.approx(npmi_scorer(**args))
