"""Phrases: pairs of words that occur together more often than chance, joined into one token.

gensim's `Phrases` and word2vec.c's word2phrase: one pass counts every word and every pair of neighbouring
words of a line; a pair whose score passes the threshold is a phrase, and a second pass writes the corpus
with each phrase's words joined by the delimiter (`new york` -> `new_york`), from left to right. Running it
on its own output finds longer phrases, as word2phrase run twice does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable, NamedTuple

from jw2v.atomic import atomic_write
from jw2v.corpus import lines
from jw2v.errors import ConfigError, OutputExistsError

SCORERS = ('default', 'npmi')


class PhraseCounts(NamedTuple):
  """What the counting pass found."""
  words: dict         # word -> count
  pairs: dict         # (word, next word) -> count
  total_words: int    # tokens read


def count_phrases(sentences: Iterable[list], max_vocab_size: int = 40_000_000) -> PhraseCounts:
  """Counts words and pairs of neighbouring words, as gensim's `Phrases` learns its vocabulary: when the
  counts pass `max_vocab_size` entries, those below a rising minimum are dropped (gensim's pruning)."""
  words, pairs, total, min_reduce = {}, {}, 0, 1
  for sentence in sentences:
    for word in sentence:
      words[word] = words.get(word, 0) + 1
    for pair in zip(sentence, sentence[1:]):
      pairs[pair] = pairs.get(pair, 0) + 1
    total += len(sentence)
    if len(words) + len(pairs) > max_vocab_size:
      words = {k: v for k, v in words.items() if v >= min_reduce}
      pairs = {k: v for k, v in pairs.items() if v >= min_reduce}
      min_reduce += 1
  return PhraseCounts(words, pairs, total)


def score(scoring: str, count_a: int, count_b: int, count_ab: int, len_vocab: int, min_count: int,
          total_words: int) -> float:
  """gensim's scores of a pair: 'default' (word2phrase's (n_ab - min_count) / (n_a * n_b) * |vocab|, the
  vocabulary counting words and pairs) or 'npmi' (normalised pointwise mutual information, in [-1, 1];
  -inf below min_count)."""
  if scoring == 'default':
    return (count_ab - min_count) / (count_a * count_b) * len_vocab
  p_a, p_b, p_ab = count_a / total_words, count_b / total_words, count_ab / total_words
  if count_ab < min_count or p_ab >= 1:
    return -math.inf
  return math.log(p_ab / (p_a * p_b)) / -math.log(p_ab)


def find_phrases(counts: PhraseCounts, min_count: int = 5, threshold: float = 10.0, scoring: str = 'default'
                 ) -> dict:
  """The pairs whose score passes `threshold`: (word, next word) -> score (gensim's frozen `phrasegrams`)."""
  words, len_vocab = counts.words, len(counts.words) + len(counts.pairs)
  found = {}
  for (a, b), count_ab in counts.pairs.items():
    if words.get(a, 0) > 0 and words.get(b, 0) > 0:
      s = score(scoring, words[a], words[b], count_ab, len_vocab, min_count, counts.total_words)
      if s > threshold:
        found[a, b] = s
  return found


def join_phrases(sentence: list, phrasegrams: dict, delimiter: str = '_') -> list:
  """The sentence with each phrase's two words joined, from left to right (a joined word starts no phrase)."""
  out, i = [], 0
  while i < len(sentence):
    if i + 1 < len(sentence) and (sentence[i], sentence[i + 1]) in phrasegrams:
      out.append(sentence[i] + delimiter + sentence[i + 1])
      i += 2
    else:
      out.append(sentence[i])
      i += 1
  return out


def _check(min_count: int, threshold: float, scoring: str, delimiter: str) -> None:
  if scoring not in SCORERS:
    raise ConfigError(f'scoring must be one of {", ".join(SCORERS)}, got {scoring!r}', field='scoring')
  if not (isinstance(min_count, int) and min_count >= 1):
    raise ConfigError(f'min_count must be >= 1, got {min_count!r}', field='min_count')
  if not math.isfinite(threshold) or (scoring == 'npmi' and not -1 <= threshold <= 1):
    raise ConfigError(f'threshold must be a finite number (between -1 and 1 for npmi), got {threshold!r}',
                      field='threshold')
  if not delimiter or any(c.isspace() for c in delimiter):
    raise ConfigError(f'delimiter must be a non-empty string without whitespace, got {delimiter!r}',
                      field='delimiter')


def phrases(source, out, *, min_count: int = 5, threshold: float = 10.0, scoring: str = 'default',
            delimiter: str = '_', force: bool = False, max_vocab_size: int = 40_000_000) -> dict:
  """Writes the corpus `source` to `out` with its phrases joined (two streaming passes over the text).

  Args:
    source: a text file, a directory of them, or .gz / .bz2 files (`corpus.pieces`).
    out: the text file to write (replaced atomically: a failed run leaves the old one).
    min_count: ignore pairs seen fewer times (gensim's `Phrases` default, 5).
    threshold: the score a pair must pass (gensim's default, 10; between -1 and 1 for npmi).
    scoring: 'default' (word2phrase's score) or 'npmi'.
    delimiter: what joins a phrase's words.
    force: replace `out` if it exists.
    max_vocab_size: how many words and pairs the counts may hold before the rarest are dropped.

  Returns:
    {'phrases': how many pairs passed, 'joined': how many were joined in the text, 'lines', 'words'}.

  Raises:
    ConfigError: impossible settings. OutputExistsError: `out` exists and `force` is False.
    DataError: an unusable corpus.
  """
  _check(min_count, threshold, scoring, delimiter)
  out = Path(out)
  if out.exists() and not force:
    raise OutputExistsError(f'{out} already exists; choose another output file, or replace it with force',
                            field='force')
  counts = count_phrases(lines(source), max_vocab_size)
  grams = find_phrases(counts, min_count, threshold, scoring)
  joined = n_lines = 0
  with atomic_write(out, 'w', encoding='utf-8') as f:
    for sentence in lines(source):
      tokens = join_phrases(sentence, grams, delimiter)
      joined += len(sentence) - len(tokens)
      n_lines += 1
      f.write(' '.join(tokens) + '\n')
  return {'phrases': len(grams), 'joined': joined, 'lines': n_lines, 'words': counts.total_words}
