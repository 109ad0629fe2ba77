"""Reading text, encoding it to id arrays, and named datasets (fetched into a cache when not local)."""

from __future__ import annotations

import collections
import hashlib
import itertools
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from jw2v.atomic import atomic_write
from jw2v.errors import DataError, reading
from jw2v.vocab import Vocab, build_vocab

_LONE_SURROGATE = re.compile('[\udc80-\udcff]')


class Text(NamedTuple):
  """A corpus file split into tokens.

  Attributes:
    tokens: every token, lines concatenated.
    line_lengths: (L,) int64 token count of each non-empty line.
    invalid_bytes: bytes that were not valid UTF-8 (each replaced by U+FFFD).
    path: where it was read from.
  """
  tokens: list
  line_lengths: np.ndarray
  invalid_bytes: int
  path: str


class Corpus(NamedTuple):
  """A corpus encoded with a vocabulary.

  Attributes:
    ids: (N,) int32 ids of the in-vocabulary tokens, sentences concatenated (out-of-vocabulary tokens are
      dropped, as word2vec.c does).
    offsets: (S+1,) int64 sentence boundaries into `ids`; sentence s is ids[offsets[s]:offsets[s+1]].
    raw_words: number of tokens in the text, out-of-vocabulary ones included (gensim's "raw words").
  """
  ids: np.ndarray
  offsets: np.ndarray
  raw_words: int


class Dataset(NamedTuple):
  """A named corpus: split -> (relative path, public URL, md5)."""
  splits: dict


DATASETS = {
    'ptb': Dataset({
        split: (f'ptb/ptb.{split}.txt',
                f'https://raw.githubusercontent.com/tomsercu/lstm/master/data/ptb.{split}.txt', md5)
        for split, md5 in (('train', 'f26c4b92c5fdc7b3f8c7cdcb991d8420'),
                           ('valid', 'aa0affc06ff7c36e977d7cd49e3839bf'),
                           ('test', '8b80168b89c18661a38ef683c0dc3721'))}),
}


def read_text(path) -> Text:
  """Reads a UTF-8 text file: one sentence per line, tokens separated by whitespace.

  Invalid UTF-8 bytes are replaced by U+FFFD and counted, not fatal.

  Raises:
    DataError: the file is missing, unreadable, or a directory.
  """
  with reading(path, 'corpus'):
    raw = Path(path).read_bytes()
  text = raw.decode('utf-8', errors='surrogateescape')
  text, invalid = _LONE_SURROGATE.subn('\ufffd', text)
  lines = text.splitlines()
  line_tokens = [line.split() for line in lines]
  lengths = np.fromiter((len(t) for t in line_tokens), dtype=np.int64, count=len(line_tokens))
  tokens = [tok for toks in line_tokens for tok in toks]
  return Text(tokens, lengths[lengths > 0], invalid, str(path))


def count_words(text: Text) -> collections.Counter:
  """Token counts in order of first occurrence."""
  return collections.Counter(text.tokens)


def encode(text: Text, vocab: Vocab, max_sentence_length: int = 10_000) -> Corpus:
  """Maps tokens to ids, drops out-of-vocabulary tokens, and cuts sentences longer than the limit.

  Args:
    text: the tokenised file.
    vocab: the vocabulary.
    max_sentence_length: longer sentences become consecutive chunks of this many tokens (gensim's 10,000).

  Returns:
    The Corpus; sentences left empty are dropped.
  """
  ids = np.fromiter(map(vocab.index.get, text.tokens, itertools.repeat(-1)), dtype=np.int64, count=len(text.tokens))
  line_of_token = np.repeat(np.arange(len(text.line_lengths)), text.line_lengths)
  known = ids >= 0
  lengths = np.bincount(line_of_token[known], minlength=len(text.line_lengths))
  lengths = lengths[lengths > 0]
  # Cut each sentence into ceil(length / max) chunks; chunk j of a sentence starts max * j tokens in.
  chunks = -(-lengths // max_sentence_length)
  first_chunk = np.repeat(np.cumsum(chunks) - chunks, chunks)
  starts = np.repeat(np.cumsum(lengths) - lengths, chunks)
  starts += max_sentence_length * (np.arange(chunks.sum()) - first_chunk)
  offsets = np.append(starts, known.sum()).astype(np.int64)
  return Corpus(ids[known].astype(np.int32), offsets, len(text.tokens))


def load_corpus(path, min_count: int = 5, max_vocab_size: Optional[int] = None,
                max_sentence_length: int = 10_000) -> tuple[Corpus, Vocab, Text]:
  """Reads a text file, builds its vocabulary and encodes it.

  Raises:
    DataError: the file is unusable, empty, or leaves fewer than two words after `min_count`.
  """
  text = read_text(path)
  if not text.tokens:
    raise DataError(f'corpus is empty (no words): {path}')
  vocab = build_vocab(count_words(text), min_count, max_vocab_size)
  if len(vocab) < 2:
    raise DataError(f'{path}: {len(vocab)} distinct word(s) occur at least min_count={min_count} times; '
                    'need at least 2 (lower --min-count or use a larger corpus)')
  return encode(text, vocab, max_sentence_length), vocab, text


def data_dir() -> Optional[Path]:
  """The folder named by JW2V_DATA_DIR, if set."""
  value = os.environ.get('JW2V_DATA_DIR')
  return Path(value) if value else None


def cache_dir() -> Path:
  """Where downloaded datasets are kept: JW2V_CACHE_DIR, else $XDG_CACHE_HOME/jw2v or ~/.cache/jw2v."""
  if os.environ.get('JW2V_CACHE_DIR'):
    return Path(os.environ['JW2V_CACHE_DIR'])
  return Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache') / 'jw2v'


def resolve_corpus(spec: str, datasets: Optional[dict] = None, download: bool = True) -> Path:
  """Turns a corpus argument into a file path.

  Args:
    spec: a path to a text file, or a dataset name (`ptb`, or `ptb:valid` for another split).
    datasets: name -> Dataset; defaults to DATASETS.
    download: fetch a named dataset into the cache when it is neither under JW2V_DATA_DIR nor cached.

  Returns:
    The path of the text file.

  Raises:
    DataError: nothing of that name exists, or the download fails or does not match its checksum.
  """
  datasets = DATASETS if datasets is None else datasets
  name, _, split = spec.partition(':')
  if Path(spec).exists() or name not in datasets:
    if not Path(spec).exists():
      raise DataError(f'corpus not found: {spec} (not a file, nor a dataset name: {", ".join(sorted(datasets))})')
    return Path(spec)
  splits = datasets[name].splits
  split = split or 'train'
  if split not in splits:
    raise DataError(f'dataset {name} has no split {split!r} (splits: {", ".join(splits)})')
  relpath, url, md5 = splits[split]
  for root in (data_dir(), cache_dir()):
    if root is not None and (root / relpath).is_file():
      return root / relpath
  if not download:
    raise DataError(f'dataset {spec} not found under JW2V_DATA_DIR ({data_dir()}) or {cache_dir()}')
  return fetch(url, cache_dir() / relpath, md5)


def fetch(url: str, dest: Path, md5: str, timeout: float = 60.0) -> Path:
  """Downloads `url` to `dest`, verifying its md5; `dest` appears only when complete and verified.

  Raises:
    DataError: the download fails or the checksum differs (nothing is left behind).
  """
  dest = Path(dest)
  digest = hashlib.md5()
  try:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(dest, 'wb') as out, urllib.request.urlopen(url, timeout=timeout) as response:
      while block := response.read(1 << 20):
        digest.update(block)
        out.write(block)
      if digest.hexdigest() != md5:
        raise DataError(f'download of {url} has md5 {digest.hexdigest()}, expected {md5}; not saved')
  except (urllib.error.URLError, OSError) as e:
    raise DataError(f'cannot download {url}: {getattr(e, "reason", None) or e}; set JW2V_DATA_DIR to a '
                    f'folder that holds {dest.parent.name}/{dest.name}') from None
  return dest


def synthetic_corpus(n_tokens: int, vocab_size: int, *, exponent: float = 1.0, sentence_length: int = 20,
                     seed: int = 0) -> tuple[Corpus, Vocab]:
  """A corpus of Zipf-distributed word ids, for speed and scale measurements.

  Word r (r = 1..vocab_size) is drawn with probability proportional to r**-exponent; sentence lengths are
  uniform in 1..2*sentence_length-1. Words are then numbered by their actual count (as `build_vocab` orders
  them) and words never drawn are left out, so the result is what `load_corpus(..., min_count=1)` gives.

  Returns:
    (Corpus, Vocab), with words named 'w0', 'w1', ... in order of frequency.
  """
  rng = np.random.default_rng(seed)
  cdf = np.cumsum(np.arange(1, vocab_size + 1, dtype=np.float64) ** -exponent)
  cdf /= cdf[-1]
  ids = np.empty(n_tokens, np.int32)
  for start in range(0, n_tokens, 1 << 22):  # in pieces, to bound the float64 temporaries
    stop = min(start + (1 << 22), n_tokens)
    ids[start:stop] = np.minimum(np.searchsorted(cdf, rng.random(stop - start)), vocab_size - 1)
  counts = np.bincount(ids, minlength=vocab_size)
  order = np.argsort(-counts, kind='stable')
  rank = np.empty(vocab_size, np.int32)
  rank[order] = np.arange(vocab_size, dtype=np.int32)
  ids = rank[ids]
  lengths = rng.integers(1, 2 * sentence_length, size=n_tokens // sentence_length + 1)
  offsets = np.concatenate([[0], np.cumsum(lengths)])
  offsets = np.append(offsets[offsets < n_tokens], n_tokens).astype(np.int64)
  kept = int(np.count_nonzero(counts))
  vocab = Vocab.from_words_counts((f'w{i}' for i in range(kept)), counts[order][:kept])
  return Corpus(ids, offsets, n_tokens), vocab
