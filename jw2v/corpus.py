"""Reading text, encoding it to id arrays, and named datasets (fetched into a cache when not local)."""

from __future__ import annotations

import bz2
import collections
import gzip
import hashlib
import itertools
import json
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator, NamedTuple, Optional

import numpy as np

from jw2v import collector
from jw2v.atomic import atomic_write
from jw2v.errors import ConfigError, DataError, reading
from jw2v.vocab import Vocab, build_vocab, extend_vocab, load_vocab, save_vocab

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


class Piece(NamedTuple):
  """A stretch of a corpus, cut at a line end (or, inside a very long line, at a space).

  Attributes:
    tokens: its tokens.
    line_lengths: (L,) int64 token count of each line or part of a line in it.
    open_end: the last line goes on in the next piece.
    invalid_bytes: bytes that were not valid UTF-8 (each read as U+FFFD).
  """
  tokens: list
  line_lengths: np.ndarray
  open_end: bool
  invalid_bytes: int


def corpus_files(source) -> list[Path]:
  """The files of a corpus: the file itself, or the files of a directory (sorted, hidden ones skipped).

  `.gz` and `.bz2` files are decompressed as they are read.

  Raises:
    DataError: the source is missing, or a directory without files.
  """
  source = Path(source)
  if source.is_dir():
    files = sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith('.'))
    if not files:
      raise DataError(f'corpus directory holds no files: {source}')
    return files
  if not source.exists():
    raise DataError(f'corpus not found: {source}')
  return [source]


def pieces(source, piece_bytes: int = 1 << 21) -> Iterator[Piece]:
  """Reads a corpus (a file, a directory of files, .gz or .bz2) in pieces of about `piece_bytes`.

  Lines end at '\n' (a '\r' before it is whitespace); tokens are separated by whitespace. A line longer
  than a piece is cut at a space and continues in the next piece, so memory stays bounded by the piece
  size whatever the line lengths.

  Raises:
    DataError: a file is missing, unreadable, or binary (it holds NUL bytes).
  """
  for path in corpus_files(source):
    with reading(path, 'corpus'), _open_binary(path) as f:
      rest, first, line_open = b'', True, False
      while True:
        data = f.read(piece_bytes)
        if first and b'\0' in data[:1 << 16]:
          raise DataError(f'{path} looks like a binary file (it holds NUL bytes), not text')
        first = False
        if not data:
          if rest or line_open:  # the file's last line ends with the file
            yield _piece(rest, open_end=False)
          break
        data = rest + data
        cut = data.rfind(b'\n') + 1
        line_open = not cut
        if not cut:  # no line end in sight: cut after the last whitespace byte, or take everything
          cut = max(data.rfind(c) for c in (b' ', b'\t', b'\r', b'\x0b', b'\x0c')) + 1 or len(data)
        yield _piece(data[:cut], open_end=line_open)
        rest = data[cut:]


def lines(source, piece_bytes: int = 1 << 21) -> Iterator[list]:
  """Each line of a corpus as its list of tokens (an empty line as []), streamed from `pieces`: only the
  current piece and line are in memory."""
  carry = []
  for piece in pieces(source, piece_bytes):
    start, last = 0, len(piece.line_lengths) - 1
    for i, length in enumerate(piece.line_lengths.tolist()):
      tokens = piece.tokens[start:start + length]
      start += length
      if i == 0 and carry:
        tokens, carry = carry + tokens, []
      if i == last and piece.open_end:
        carry = tokens
      else:
        yield tokens
  if carry:
    yield carry


def _open_binary(path: Path):
  if path.suffix == '.gz':
    return gzip.open(path, 'rb')
  if path.suffix == '.bz2':
    return bz2.open(path, 'rb')
  return open(path, 'rb')


def _piece(data: bytes, open_end: bool) -> Piece:
  text = data.decode('utf-8', errors='surrogateescape')
  text, invalid = _LONE_SURROGATE.subn('\ufffd', text)
  lines = text.split('\n')
  if not open_end and lines[-1] == '' and len(lines) > 1:
    lines.pop()  # the text after the final line end
  line_tokens = [line.split() for line in lines]
  lengths = np.fromiter(map(len, line_tokens), dtype=np.int64, count=len(line_tokens))
  return Piece([t for tokens in line_tokens for t in tokens], lengths, open_end, invalid)


def _close_lines(counts: np.ndarray, open_end: bool, carry: int) -> tuple[np.ndarray, int]:
  """Per-line counts of the lines a piece completes, given what the previous piece carried over.

  Args:
    counts: a count per line or part of a line in the piece (tokens, or kept tokens).
    open_end: the piece's last line goes on in the next piece.
    carry: the count of the line the previous piece left open.

  Returns:
    (counts of the completed lines, the count carried into the next piece).
  """
  counts = counts.copy()
  if len(counts):
    counts[0] += carry
  elif open_end:
    return counts, carry
  if open_end:
    return counts[:-1], int(counts[-1])
  return counts, 0


def read_text(source) -> Text:
  """Reads a whole corpus into memory: one sentence per line, tokens separated by whitespace.

  Args:
    source: a text file, a directory of them, or .gz / .bz2 files.

  Invalid UTF-8 bytes are replaced by U+FFFD and counted, not fatal.

  Raises:
    DataError: the corpus is missing, unreadable, binary, or a directory without files.
  """
  tokens, lengths, invalid, carry = [], [], 0, 0
  for piece in pieces(source):
    line_lengths, carry = _close_lines(piece.line_lengths, piece.open_end, carry)
    tokens.extend(piece.tokens)
    lengths.append(line_lengths)
    invalid += piece.invalid_bytes
  lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
  return Text(tokens, lengths[lengths > 0], invalid, str(source))


def sentences_text(sentences) -> Text:
  """In-memory sentences (gensim's `sentences`: an iterable of token lists, iterated once) as a Text.

  Raises:
    DataError: a sentence that is a string rather than a list of tokens, or a token that is not a string.
  """
  tokens, lengths = [], []
  for i, sentence in enumerate(sentences):
    if isinstance(sentence, (str, bytes)):
      raise DataError(f'sentence {i} is a {type(sentence).__name__}, not a list of tokens (split it first)')
    sentence = list(sentence)
    bad = next((t for t in sentence if not isinstance(t, str)), None)
    if bad is not None:
      raise DataError(f'sentence {i} holds a token that is not a string: {bad!r}')
    tokens.extend(sentence)
    lengths.append(len(sentence))
  lengths = np.array(lengths, np.int64)
  return Text(tokens, lengths[lengths > 0], 0, '<sentences>')


def count_words(text: Text) -> collections.Counter:
  """Token counts in order of first occurrence."""
  return collections.Counter(text.tokens)


def sentence_offsets(lengths: np.ndarray, max_sentence_length: int, start: int = 0) -> np.ndarray:
  """Sentence boundaries for lines of the given lengths: lines are cut into chunks of at most
  `max_sentence_length` tokens and empty ones dropped.

  Returns:
    int64 start offsets of the sentences (the end of the last one is start + lengths.sum()).
  """
  lengths = lengths[lengths > 0]
  chunks = -(-lengths // max_sentence_length)
  first_chunk = np.repeat(np.cumsum(chunks) - chunks, chunks)
  starts = np.repeat(np.cumsum(lengths) - lengths, chunks)
  starts += max_sentence_length * (np.arange(chunks.sum()) - first_chunk)
  return (starts + start).astype(np.int64)


def _encode_tokens(tokens: list, line_lengths: np.ndarray, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
  """Ids of the in-vocabulary tokens, and how many of them each line keeps."""
  ids = np.fromiter(map(vocab.index.get, tokens, itertools.repeat(-1)), dtype=np.int64, count=len(tokens))
  return _drop_unknown(ids, line_lengths)


def _drop_unknown(ids: np.ndarray, line_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """The ids that are not -1 (int32), and how many of them each line keeps."""
  known = ids >= 0
  if known.all():
    return ids.astype(np.int32), line_lengths
  line_of_token = np.repeat(np.arange(len(line_lengths)), line_lengths)
  return ids[known].astype(np.int32), np.bincount(line_of_token[known], minlength=len(line_lengths))


def _number_words(tokens: list) -> tuple[dict, dict, np.ndarray]:
  """One pass over the tokens: each distinct word numbered in order of first occurrence.

  Returns:
    (word -> count and word -> number, both in order of first occurrence; each token's number).
  """
  number = collections.defaultdict(itertools.count().__next__)
  numbers = np.fromiter(map(number.__getitem__, tokens), dtype=np.int64, count=len(tokens))
  return dict(zip(number, np.bincount(numbers, minlength=len(number)).tolist())), number, numbers


def encode(text: Text, vocab: Vocab, max_sentence_length: int = 10_000) -> Corpus:
  """Maps tokens to ids, drops out-of-vocabulary tokens, and cuts sentences longer than the limit.

  Args:
    text: the tokenised corpus.
    vocab: the vocabulary.
    max_sentence_length: longer sentences become consecutive chunks of this many tokens (gensim's 10,000).

  Returns:
    The Corpus; sentences left empty are dropped.
  """
  return _corpus(*_encode_tokens(text.tokens, text.line_lengths, vocab), text, max_sentence_length)


def _corpus(ids: np.ndarray, kept: np.ndarray, text: Text, max_sentence_length: int) -> Corpus:
  """The Corpus of `text`'s kept ids, given how many each line keeps (lines cut into sentences)."""
  offsets = np.append(sentence_offsets(kept, max_sentence_length), len(ids)).astype(np.int64)
  return Corpus(ids, offsets, len(text.tokens))


def load_corpus(source, min_count: int = 5, max_vocab_size: Optional[int] = None,
                max_sentence_length: int = 10_000, max_final_vocab: Optional[int] = None,
                base_vocab: Optional[Vocab] = None) -> tuple[Corpus, Vocab, Text]:
  """Reads a corpus into memory, builds its vocabulary and encodes it (see `prepare_corpus` for corpora
  larger than memory).

  Args:
    source: a text file, a directory of them, .gz / .bz2 files (`read_text`), or in-memory sentences: any
      iterable of token lists, e.g. `[['the', 'cat', 'sat'], ['a', 'dog']]` or a generator (gensim's
      `sentences`; read once). The same sentences as lines of a file give the same vocabulary and ids.
    min_count: the vocabulary's threshold (`build_vocab`).
    max_vocab_size: keep at most this many words (`build_vocab`).
    max_final_vocab: raise min_count to keep at most this many words (`build_vocab`).
    max_sentence_length: longer sentences are cut into chunks of this many tokens.
    base_vocab: continue a trained run on new text: the vocabulary is `base_vocab` grown by this text
      (`vocab.extend_vocab`: old ids kept, counts merged, new words of at least min_count appended);
      max_vocab_size and max_final_vocab then do not apply.

  Returns:
    (Corpus, Vocab, Text).

  Raises:
    DataError: the corpus is unusable, empty, or leaves fewer than two words after `min_count`.
  """
  with collector.paused():  # millions of strings and lists, none of them cyclic garbage
    text = read_text(source) if isinstance(source, (str, os.PathLike)) else sentences_text(source)
    if not text.tokens:
      raise DataError(f'corpus is empty (no words): {text.path}')
    # The same as count_words, build_vocab and encode, but the tokens are looked up once, not twice
    # (numbered while counted, then renumbered by the vocabulary).
    counts, number, numbers = _number_words(text.tokens)
    vocab = _vocab_or_error(counts, text.path, min_count, max_vocab_size, max_final_vocab, base_vocab)
    renumber = np.full(len(number), -1, np.int64)
    seen = [(number[w], i) for i, w in enumerate(vocab.words) if w in number]  # a base vocabulary's words may be absent
    renumber[[n for n, _ in seen]] = [i for _, i in seen]
    return _corpus(*_drop_unknown(renumber[numbers], text.line_lengths), text, max_sentence_length), vocab, text


def _vocab_or_error(counts, source, min_count, max_vocab_size, max_final_vocab=None, base=None) -> Vocab:
  if base is not None:
    return extend_vocab(base, counts, min_count)
  vocab = build_vocab(counts, min_count, max_vocab_size, max_final_vocab)
  if len(vocab) < 2:
    raise DataError(f'{source}: {len(vocab)} distinct word(s) occur at least min_count={min_count} times; '
                    'need at least 2 (lower min_count or use a larger corpus)')
  return vocab


class IdFile:
  """The token ids of a prepared corpus, read from disk slice by slice (resident memory stays small).

  Supports `len()` and `ids[lo:hi]` (a contiguous slice, read into a new array).
  """

  def __init__(self, path):
    self.path = Path(path)
    with reading(self.path, 'corpus id file'), open(self.path, 'rb') as f:
      try:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
      except ValueError as e:
        raise DataError(f'{self.path}: not a .npy file ({e})') from None
      self._offset = f.tell()
    if dtype != np.int32 or len(shape) != 1:
      raise DataError(f'{self.path}: expected a 1-D int32 array, found {dtype} {shape}')
    self._length = shape[0]
    if self.path.stat().st_size < self._offset + 4 * self._length:
      raise DataError(f'{self.path}: file is shorter than its header says (truncated?)')

  def __len__(self) -> int:
    return self._length

  def __getitem__(self, key):
    if not isinstance(key, slice) or key.step not in (None, 1):
      raise TypeError('IdFile supports contiguous slices only')
    lo, hi, _ = key.indices(self._length)
    count = max(hi - lo, 0)
    with open(self.path, 'rb') as f:
      return np.fromfile(f, dtype=np.int32, count=count, offset=self._offset + 4 * lo)


class Prepared(NamedTuple):
  """What `prepare_corpus` wrote: the corpus (ids read from disk), its vocabulary, and its description."""
  corpus: Corpus
  vocab: Vocab
  info: dict


PREPARED_FILES = ('ids.npy', 'offsets.npy', 'vocab.txt', 'corpus.json')


def prepare_corpus(source, out, min_count: int = 5, max_vocab_size: Optional[int] = None,
                   max_sentence_length: int = 10_000, piece_bytes: int = 1 << 21,
                   max_final_vocab: Optional[int] = None, base_vocab: Optional[Vocab] = None) -> Prepared:
  """Counts and encodes a corpus in two streaming passes, in memory bounded by the vocabulary.

  Writes into `out`: ids.npy (int32 ids of the kept tokens), offsets.npy (int64 sentence boundaries),
  vocab.txt and corpus.json (source, sizes, settings). Each file is written under a temporary name and
  renamed; corpus.json comes last, so a directory with it is complete.

  Args:
    source: a text file, a directory of them, or .gz / .bz2 files (`pieces`).
    out: output directory (created).
    min_count: as in `load_corpus`.
    max_vocab_size: as in `load_corpus`.
    max_sentence_length: as in `load_corpus`.
    max_final_vocab: as in `load_corpus`.
    base_vocab: as in `load_corpus`.
    piece_bytes: how much text is read at a time.

  Returns:
    Prepared, as `open_prepared(out)` would give it.

  Raises:
    DataError: the corpus is unusable or empty, or leaves fewer than two words after `min_count`.
  """
  out = Path(out)
  counts, raw_words, invalid = collections.Counter(), 0, 0
  for piece in pieces(source, piece_bytes):
    counts.update(piece.tokens)
    raw_words += len(piece.tokens)
    invalid += piece.invalid_bytes
  if not raw_words:
    raise DataError(f'corpus is empty (no words): {source}')
  vocab = _vocab_or_error(counts, source, min_count, max_vocab_size, max_final_vocab, base_vocab)
  kept_total = sum(count for word, count in counts.items() if word in vocab.index)  # this text's, not merged
  del counts
  out.mkdir(parents=True, exist_ok=True)
  starts, written, carry, line_start = [], 0, 0, 0
  with atomic_write(out / 'ids.npy', 'wb') as f:
    np.lib.format.write_array_header_1_0(f, {'descr': '<i4', 'fortran_order': False, 'shape': (kept_total,)})
    for piece in pieces(source, piece_bytes):
      ids, kept = _encode_tokens(piece.tokens, piece.line_lengths, vocab)
      f.write(ids.astype('<i4').tobytes())
      written += len(ids)
      complete, carry = _close_lines(kept, piece.open_end, carry)
      starts.append(sentence_offsets(complete, max_sentence_length, line_start))
      line_start = written - carry  # where the line still open (or the next one) begins
    if written != kept_total:
      raise DataError(f'{source} changed while it was being read ({written} words the second time, '
                      f'{kept_total} the first)')
  offsets = np.append(np.concatenate(starts) if starts else np.zeros(0, np.int64), kept_total).astype(np.int64)
  with atomic_write(out / 'offsets.npy', 'wb') as f:
    np.save(f, offsets)
  save_vocab(vocab, out / 'vocab.txt')
  info = {'source': str(source), 'raw_words': raw_words, 'tokens': kept_total, 'sentences': len(offsets) - 1,
          'invalid_bytes': invalid, 'vocab_size': len(vocab), 'min_count': min_count,
          'max_vocab_size': max_vocab_size, 'max_sentence_length': max_sentence_length,
          'max_final_vocab': max_final_vocab}
  with atomic_write(out / 'corpus.json', 'w', encoding='utf-8') as f:
    json.dump(info, f, indent=2)
    f.write('\n')
  return open_prepared(out)


def is_prepared(path) -> bool:
  """Whether `path` is a directory written by `prepare_corpus`."""
  return (Path(path) / 'corpus.json').is_file()


def open_prepared(path) -> Prepared:
  """Opens a directory written by `prepare_corpus` (ids are read from disk as training needs them).

  Raises:
    DataError: a file is missing or damaged.
  """
  path = Path(path)
  with reading(path / 'corpus.json', 'prepared corpus description'):
    try:
      info = json.loads((path / 'corpus.json').read_text(encoding='utf-8'))
    except ValueError as e:
      raise DataError(f'{path / "corpus.json"}: not valid JSON ({e})') from None
  ids = IdFile(path / 'ids.npy')
  with reading(path / 'offsets.npy', 'prepared corpus offsets'):
    try:
      offsets = np.load(path / 'offsets.npy')
    except (ValueError, EOFError) as e:
      raise DataError(f'{path / "offsets.npy"}: damaged ({e})') from None
  if offsets.ndim != 1 or offsets[-1] != len(ids) or np.any(np.diff(offsets) <= 0):
    raise DataError(f'{path}: offsets.npy does not match ids.npy ({len(ids)} ids)')
  vocab = load_vocab(path / 'vocab.txt')
  return Prepared(Corpus(ids, offsets, int(info['raw_words'])), vocab, info)


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
  for name, value in (('n_tokens', n_tokens), ('vocab_size', vocab_size), ('sentence_length', sentence_length)):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
      raise ConfigError(f'synthetic_corpus: {name} must be a positive integer, got {value!r}')
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
