"""Word-similarity and analogy benchmarks, computed as gensim's `KeyedVectors` computes them.

Same file formats, out-of-vocabulary handling, case folding (the most frequent case variant of a word
stands for it), vocabulary restriction and candidate rules as gensim 4.x, so that on the same vectors the
numbers are gensim's. Analogy questions are answered in batches: one jitted matrix product and top-k on the
device per block of questions; the few best candidates are then re-scored in float64 on the host and
gensim's selection rules applied to them.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from jw2v.errors import DataError, reading
from jw2v.vectors import WordVectors

STANDARD_SETS = {'wordsim353': 'wordsim353.tsv', 'simlex999': 'simlex999.txt', 'analogies': 'questions-words.txt'}


class WordPairsResult(NamedTuple):
  """Correlation of cosine similarity with human judgements.

  Attributes:
    pearson: Pearson correlation coefficient.
    spearman: Spearman rank correlation coefficient.
    oov_ratio: percentage of pairs with a word outside the (restricted) vocabulary.
    pairs: number of pairs scored.
  """
  pearson: float
  spearman: float
  oov_ratio: float
  pairs: int


class AnalogyResult(NamedTuple):
  """Accuracy on "a is to b as c is to ?" questions (3CosAdd, top-1).

  Attributes:
    accuracy: correct / attempted over all sections (0-1); 0 when nothing was attempted.
    sections: section name -> (correct, attempted), in file order.
    oov_ratio: percentage of questions skipped (or counted wrong, with dummy4unknown) for unknown words.
    questions: number of questions in the file.
  """
  accuracy: float
  sections: dict
  oov_ratio: float
  questions: int

  def subtotal(self, syntactic: bool) -> tuple[int, int]:
    """(correct, attempted) over the syntactic ('gram...') or the semantic sections of the Google set."""
    pairs = [v for k, v in self.sections.items() if k.startswith('gram') == syntactic]
    return sum(c for c, _ in pairs), sum(a for _, a in pairs)


def standard_set(name: str) -> Path:
  """Path of a standard evaluation set shipped inside the gensim package ('wordsim353', 'simlex999', 'analogies').

  Raises:
    DataError: gensim is not installed.
  """
  try:
    from gensim.test.utils import datapath
  except ImportError:
    raise DataError("the standard evaluation sets ship with gensim: pip install 'jw2v[eval]'") from None
  return Path(datapath(STANDARD_SETS[name]))


def _ok_vocab(vectors: WordVectors, restrict_vocab: int, case_insensitive: bool) -> dict:
  """Word (upper-cased when case-insensitive) -> row, among the first `restrict_vocab` rows; the first
  (most frequent) case variant wins."""
  ok = {}
  for i, word in enumerate(vectors.words[:restrict_vocab]):
    ok.setdefault(word.upper() if case_insensitive else word, i)
  return ok


def _lines(path):
  with reading(path, 'evaluation file'):
    data = Path(path).read_bytes()
  try:
    return data.decode('utf-8').splitlines()
  except UnicodeDecodeError as e:
    line = data[:e.start].count(b'\n') + 1
    raise DataError(f'{path}:{line}: not valid UTF-8') from None


def evaluate_word_pairs(vectors: WordVectors, path, delimiter: str = '\t', restrict_vocab: int = 300_000,
                        case_insensitive: bool = True, dummy4unknown: bool = False) -> WordPairsResult:
  """Correlation of the vectors' cosine similarities with a file of human similarity judgements.

  Args:
    vectors: the word vectors.
    path: lines `word1<delimiter>word2<delimiter>score`; lines starting with '#' and malformed lines are
      skipped (e.g. `standard_set('wordsim353')`).
    delimiter: field separator.
    restrict_vocab: consider only the first this many words of the vocabulary.
    case_insensitive: compare upper-cased words (the most frequent case variant stands for a word).
    dummy4unknown: score pairs with unknown words as similarity 0 instead of skipping them.

  Returns:
    WordPairsResult.

  Raises:
    DataError: the file is unreadable or has no usable pair.
  """
  ok = _ok_vocab(vectors, restrict_vocab, case_insensitive)
  gold, rows_a, rows_b, oov = [], [], [], 0
  for line in _lines(path):
    if not line or line.startswith('#'):
      continue
    fields = line.split(delimiter)
    if len(fields) != 3:
      continue
    a, b, score = (f.upper() for f in fields) if case_insensitive else fields
    try:
      score = float(score)
    except ValueError:
      continue
    if a not in ok or b not in ok:
      oov += 1
      if dummy4unknown:
        gold.append(score)
        rows_a.append(-1)
        rows_b.append(-1)
      continue
    gold.append(score)
    rows_a.append(ok[a])
    rows_b.append(ok[b])
  if not gold:
    raise DataError(f'{path}: no usable word pairs (wrong format, or every word is out of the vocabulary)')
  import scipy.stats  # here, not at the top: it takes longer to import than the rest of jw2v together
  rows_a, rows_b = np.array(rows_a), np.array(rows_b)
  unit = vectors.vectors.astype(np.float64)
  unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-300)
  model = np.where(rows_a >= 0, np.sum(unit[rows_a] * unit[rows_b], axis=1), 0.0)
  spearman = scipy.stats.spearmanr(gold, model).statistic
  pearson = scipy.stats.pearsonr(gold, model).statistic
  oov_ratio = 100.0 * oov / (len(gold) if dummy4unknown else len(gold) + oov)
  return WordPairsResult(float(pearson), float(spearman), oov_ratio, len(gold))


def evaluate_word_analogies(vectors: WordVectors, path, restrict_vocab: int = 300_000, case_insensitive: bool = True,
                            dummy4unknown: bool = False) -> AnalogyResult:
  """Accuracy on analogy questions, answered as gensim (and word2vec.c's compute-accuracy) answer them.

  For a question `a b c expected`, the answer is the best of the five words most cosine-similar to
  unit(b) + unit(c) - unit(a) (a, b and c excluded, and then any case variant of them skipped).

  Args:
    vectors: the word vectors.
    path: ': section' lines followed by 4-word questions (e.g. `standard_set('analogies')`).
    restrict_vocab: consider only the first this many words, both for questions and answers.
    case_insensitive: compare upper-cased words.
    dummy4unknown: count questions with unknown words as wrong instead of skipping them.

  Returns:
    AnalogyResult.

  Raises:
    DataError: the file is unreadable, a question comes before any section, or there are no questions.
  """
  ok = _ok_vocab(vectors, restrict_vocab, case_insensitive)
  sections, section_of, abce, oov = {}, [], [], 0
  name = None
  for lineno, line in enumerate(_lines(path), 1):
    if line.startswith(': '):
      name = line.lstrip(': ').strip()
      sections.setdefault(name, [0, 0])
      continue
    if name is None:
      raise DataError(f'{path}:{lineno}: a question before the first ": section" line')
    words = line.split()
    if len(words) != 4:
      continue
    words = [w.upper() for w in words] if case_insensitive else words
    if any(w not in ok for w in words):
      oov += 1
      if dummy4unknown:
        sections[name][1] += 1
      continue
    section_of.append(name)
    abce.append([ok[w] for w in words])
  questions = len(section_of) + oov
  if not questions:
    raise DataError(f'{path}: no analogy questions')

  if abce:
    abce = np.array(abce)
    correct = _answer(vectors, abce, restrict_vocab, case_insensitive)
    for name, good in zip(section_of, correct.tolist()):
      sections[name][0] += good
      sections[name][1] += 1
  total_correct = sum(c for c, _ in sections.values())
  total = sum(a for _, a in sections.values())
  return AnalogyResult(total_correct / total if total else 0.0, {k: tuple(v) for k, v in sections.items()},
                       100.0 * oov / questions, questions)


_CANDIDATES = 16  # device top-k; the best 5 are then chosen after exact re-scoring on the host
_TOPN = 5         # gensim looks at its 5 best candidates


def _answer(vectors: WordVectors, abce_Qx4: np.ndarray, restrict_vocab: int, case_insensitive: bool) -> np.ndarray:
  """Whether each question's predicted word is its expected word (bool, (Q,))."""
  unit = np.asarray(vectors.unit_vectors)
  a, b, c, expected = abce_Qx4.T
  queries = unit[b] + unit[c] - unit[a]
  _, cand_QxK = vectors.top_similar(queries, _CANDIDATES, abce_Qx4[:, :3], restrict_vocab)
  # Re-score the candidates in float64 as gensim defines the score (dot with the normalised mean of the
  # unit vectors, divided by the candidate's norm), so that float32 rounding on the device cannot reorder
  # near-ties among them.
  unit64 = vectors.vectors.astype(np.float64) / vectors.norms.astype(np.float64)[:, None]
  mean = unit64[b] + unit64[c] - unit64[a]
  mean /= np.linalg.norm(mean, axis=1, keepdims=True)
  keys = np.empty(cand_QxK.shape)
  for start in range(0, len(mean), 4096):
    stop = start + 4096
    keys[start:stop] = np.einsum('qkh,qh->qk', unit64[cand_QxK[start:stop]], mean[start:stop])
  order = np.lexsort((cand_QxK, -keys), axis=1)[:, :_TOPN]
  best_QxN = np.take_along_axis(cand_QxK, order, axis=1)

  fold = str.upper if case_insensitive else (lambda w: w)
  folded = [fold(w) for w in vectors.words]
  correct = np.zeros(len(abce_Qx4), bool)
  for q, (candidates, row) in enumerate(zip(best_QxN.tolist(), abce_Qx4.tolist())):
    ignore = {folded[row[0]], folded[row[1]], folded[row[2]]}
    predicted = None
    for cand in candidates:
      predicted = folded[cand]
      if predicted not in ignore:
        break
    correct[q] = predicted == folded[row[3]]
  return correct
