"""Real-text corpora for the quality matrix, built from text that Debian and PyPI packages ship.

Nothing is downloaded and no text is committed: each builder reads the files a package installs and
writes one corpus file, one sentence per line, as jw2v and gensim read text. Words are lower-case runs of
letters (accents dropped, apostrophes kept inside words), except `wiki`, which is gensim's own
tokenisation of its Wikipedia sample.

| name | text | packages | a line is |
|---|---|---|---|
| dictionary | GCIDE (Webster's 1913 and more) and WordNet 3.0 | dict-gcide, dict-wn | one entry |
| bible | the King James Bible, printed by `bible` | bible-kjv | one verse |
| manpages | the Linux man-pages, roff markup stripped | manpages, manpages-dev | one page |
| fortunes | the fortune cookie files | fortunes, fortunes-min | one fortune |
| wiki | gensim's Wikipedia sample, through `gensim.corpora.WikiCorpus` | gensim (PyPI) | one article |

  apt-get install dict-gcide dict-wn bible-kjv manpages manpages-dev fortunes fortunes-min
  python experiments/corpora.py --out runs/corpora              # every corpus
  python experiments/corpora.py --out runs/corpora bible wiki   # some

Each corpus is written under a temporary name and renamed into place, so an interrupted build leaves no
partial file behind.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple

from jw2v.errors import DataError, exit_status

DICTD = Path('/usr/share/dictd')
FORTUNES = Path('/usr/share/games/fortunes')
WIKI_SAMPLE = 'enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2'
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")
_BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'


def words(text: str) -> list[str]:
  """The corpus words of `text`: lower-case letters, accents dropped, apostrophes kept inside words."""
  plain = unicodedata.normalize('NFKD', text).encode('ascii', 'ignore').decode('ascii')
  return _WORD.findall(plain.lower())


def _dictd_number(digits: str) -> int:
  """A dictd index number (base 64, most significant digit first)."""
  value = 0
  for digit in digits:
    value = value * 64 + _BASE64.index(digit)
  return value


def dictionary_entries(data: bytes, index_lines: Iterable[str]) -> Iterator[str]:
  """The entries of a dictd database in file order, each once, without the database's own 00-* entries.

  Args:
    data: the uncompressed `.dict` file.
    index_lines: the lines of its `.index` file (`headword TAB offset TAB length`, numbers in base 64).
  """
  spans = set()
  for line in index_lines:
    fields = line.rstrip('\n').split('\t')
    if len(fields) >= 3 and not fields[0].startswith('00-'):
      spans.add((_dictd_number(fields[1]), _dictd_number(fields[2])))
  for offset, length in sorted(spans):  # several headwords can share an entry
    yield data[offset:offset + length].decode('utf-8', 'replace')


def dictionary_texts(root: Path = DICTD) -> Iterator[str]:
  """GCIDE's entries, then WordNet's."""
  for name in ('gcide', 'wn'):
    index = root / f'{name}.index'
    with gzip.open(root / f'{name}.dict.dz') as f:  # dictzip is gzip with an index of its pieces
      data = f.read()
    with open(index, encoding='utf-8', errors='replace') as lines:
      yield from dictionary_entries(data, lines)


def bible_verses(printed: Iterable[str]) -> Iterator[str]:
  """The verses of `bible`'s output (`  N text` lines; book and chapter headings and blank lines skipped)."""
  for line in printed:
    number, _, verse = line.strip().partition(' ')
    if number.isdigit() and line[:1].isspace():
      yield verse


def bible_texts(program: str = 'bible') -> Iterator[str]:
  """The King James Bible from Genesis 1:1 to Revelation 22:21, one verse at a time, unwrapped."""
  found = shutil.which(program)
  if found is None:
    raise FileNotFoundError(f'{program} (Debian package bible-kjv)')
  printed = subprocess.run([found, '-l', '100000', 'gen1:1-rev22:21'], capture_output=True, text=True,
                           check=True).stdout
  yield from bible_verses(printed.splitlines())


_ROFF_TEXT_MACROS = {'B', 'I', 'BR', 'BI', 'IB', 'IR', 'RB', 'RI', 'SB', 'SM', 'SH', 'SS', 'IP', 'TP', 'UR',
                     'MT', 'OP', 'Nm', 'Nd', 'Sh', 'Ss', 'Fn', 'Fa', 'Ar', 'Em', 'Dv', 'Pa', 'Xr'}
_ROFF_ESCAPE = re.compile(r'\\(?:f(?:\[[^\]]*\]|\(..|.)|\(..|\[[^\]]*\]|\*(?:\[[^\]]*\]|\(..|.)|s[-+]?\d+|.)')


def strip_roff(source: str) -> str:
  """The running text of a man page's roff source: comments and layout requests dropped, the words of
  font and heading macros kept, escapes (fonts, special characters, strings) removed."""
  kept = []
  for line in source.splitlines():
    if line.startswith(('.\\"', "'\\\"", '.\\#')):
      continue
    if line.startswith(('.', "'")):
      macro, _, rest = line[1:].strip().partition(' ')
      if macro not in _ROFF_TEXT_MACROS:
        continue
      line = rest
    kept.append(_ROFF_ESCAPE.sub(' ', line))
  return ' '.join(kept)


def manpages_texts(packages=('manpages', 'manpages-dev')) -> Iterator[str]:
  """Every English man page of the Debian packages, one page at a time (`.so` links skipped)."""
  listed = subprocess.run(['dpkg', '-L', *packages], capture_output=True, text=True, check=True).stdout
  pages = sorted(p for p in listed.splitlines() if re.fullmatch(r'/usr/share/man/man\d/[^/]+\.gz', p))
  if not pages:
    raise FileNotFoundError(f'man pages of {", ".join(packages)}')
  for page in pages:
    with gzip.open(page, 'rt', encoding='utf-8', errors='replace') as f:
      source = f.read()
    if not source.lstrip().startswith('.so '):
      yield strip_roff(source)


def fortune_texts(root: Path = FORTUNES) -> Iterator[str]:
  """Every fortune of the English fortune files (the files without an extension), file by file in name order."""
  files = sorted(p for p in root.iterdir() if p.is_file() and not p.suffix) if root.is_dir() else []
  if not files:
    raise FileNotFoundError(f'fortune files in {root}')
  for path in files:
    yield from re.split(r'^%$', path.read_text(encoding='utf-8', errors='replace'), flags=re.M)


def wiki_lines() -> Iterator[list[str]]:
  """The articles of gensim's Wikipedia sample, tokenised by `WikiCorpus` (lower case, 2-15 letters)."""
  import logging
  from gensim.corpora.wikicorpus import WikiCorpus
  from gensim.test.utils import datapath
  logging.getLogger('gensim').setLevel(logging.ERROR)
  yield from WikiCorpus(datapath(WIKI_SAMPLE), dictionary={}, processes=1).get_texts()


class Source(NamedTuple):
  """How a corpus is made: its lines as word lists, and where its text comes from."""
  lines: Callable[[], Iterable[list[str]]]
  packages: str


def _tokenised(texts: Callable[[], Iterable[str]]) -> Callable[[], Iterator[list[str]]]:
  return lambda: (words(text) for text in texts())


SOURCES = {
    'dictionary': Source(_tokenised(dictionary_texts), 'Debian: dict-gcide dict-wn'),
    'bible': Source(_tokenised(bible_texts), 'Debian: bible-kjv'),
    'manpages': Source(_tokenised(manpages_texts), 'Debian: manpages manpages-dev'),
    'fortunes': Source(_tokenised(fortune_texts), 'Debian: fortunes fortunes-min'),
    'wiki': Source(wiki_lines, 'PyPI: gensim'),
}


class Built(NamedTuple):
  path: Path
  lines: int
  tokens: int
  longest_line: int


def write_corpus(lines: Iterable[list[str]], path: Path) -> Built:
  """Writes the non-empty lines to `path` (through a temporary file renamed into place)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  partial = path.with_name(f'.{path.name}.partial')
  n_lines = n_tokens = longest = 0
  try:
    with open(partial, 'w', encoding='utf-8') as f:
      for line in lines:
        if line:
          f.write(' '.join(line) + '\n')
          n_lines, n_tokens, longest = n_lines + 1, n_tokens + len(line), max(longest, len(line))
    if not n_lines:
      raise DataError(f'the {path.stem} corpus would be empty: its source gave no words')
    os.replace(partial, path)
  finally:
    partial.unlink(missing_ok=True)
  return Built(path, n_lines, n_tokens, longest)


def build(name: str, out_dir: Path) -> Built:
  """Builds corpus `name` into `out_dir / f'{name}.txt'`.

  Raises:
    DataError: the packages it is made from are not installed, or give no words.
  """
  source = SOURCES[name]
  try:
    return write_corpus(source.lines(), Path(out_dir) / f'{name}.txt')
  except (FileNotFoundError, ImportError, subprocess.CalledProcessError) as e:
    raise DataError(f'cannot build the {name} corpus: {getattr(e, "filename", None) or e} is missing; '
                    f'install {source.packages}') from None


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('names', nargs='*', metavar='NAME', help=f'corpora to build ({", ".join(SOURCES)}; '
                      'default: all)')
  parser.add_argument('--out', default='runs/corpora', help='directory for NAME.txt (default runs/corpora)')
  args = parser.parse_args()
  unknown = [n for n in args.names if n not in SOURCES]
  if unknown:
    parser.error(f'unknown corpus {unknown[0]!r}; choose from {", ".join(SOURCES)}')
  for name in args.names or list(SOURCES):
    built = build(name, Path(args.out))
    print(f'{built.path}: {built.lines:,} lines, {built.tokens:,} tokens, longest line {built.longest_line:,}')


if __name__ == '__main__':
  sys.exit(exit_status('corpora', main))
