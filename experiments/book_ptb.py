"""The book's chapter-4 run: CBOW with negative sampling on PTB, trained with Adam.

*Deep Learning from Scratch 2*, ch. 4 (train.py): window 5, hidden 100, batch 100, 10 epochs, Adam
(lr 0.001), 5 negatives from unigram^0.75. As in the book, every line ends with an `<eos>` token and
the corpus is one stream (windows cross line ends), the window is fixed (no shrinking), nothing is
subsampled, and the CBOW hidden vector is the mean of the contexts with its `jax.grad` (dense reference
path, so Adam updates every row, as the book's Adam does).

  JW2V_DATA_DIR=../shared/data python experiments/book_ptb.py [--epochs 10] [--out runs/book_ptb]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import jw2v
from jw2v.corpus import Text, count_words
from jw2v.vectors import WordVectors

QUERIES = ('you', 'year', 'car', 'toyota')
ANALOGIES = (('king', 'man', 'queen'), ('take', 'took', 'go'), ('car', 'cars', 'child'), ('good', 'better', 'bad'))


def book_corpus(path):
  """PTB as the book reads it: tokens of each line followed by <eos>, as one long sequence."""
  text = jw2v.read_text(path)
  lengths = text.line_lengths + 1
  tokens = []
  start = 0
  for n in text.line_lengths:
    tokens.extend(text.tokens[start:start + n])
    tokens.append('<eos>')
    start += n
  stream = Text(tokens, np.array([lengths.sum()]), text.invalid_bytes, text.path)
  vocab = jw2v.build_vocab(count_words(stream), min_count=1)
  return jw2v.encode(stream, vocab, max_sentence_length=len(tokens)), vocab


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--epochs', type=int, default=10)
  parser.add_argument('--out', default='runs/book_ptb')
  args = parser.parse_args()

  corpus, vocab = book_corpus(jw2v.resolve_corpus('ptb'))
  config = jw2v.Config(model='cbow', dim=100, window=5, negative=5, min_count=1, sample=0.0,
                       shrink_windows=False, epochs=args.epochs, batch_size=100, optimizer='adam',
                       alpha=0.001, cbow_full_error=False, max_sentence_length=len(corpus.ids))
  print(f'corpus {len(corpus.ids)} tokens, vocabulary {len(vocab)}; {config}', file=sys.stderr)
  start = time.perf_counter()
  result = jw2v.train(corpus, vocab, config)
  print(f'trained in {time.perf_counter() - start:.0f}s; loss per epoch: '
        f'{[round(e["loss"], 3) for e in result.history["epochs"]]}')
  jw2v.save_run(args.out, result.params, vocab, config, dict(result.history, corpus='ptb (book: <eos>, one stream)'))

  vectors = WordVectors.from_params(result.params, vocab)
  for word in QUERIES:
    print(f'\n[query] {word}')
    for other, sim in vectors.most_similar(word, topn=5):
      print(f' {other}: {sim:.3f}')
  for a, b, c in ANALOGIES:
    print(f'\n[analogy] {a}:{b} = {c}:?')
    for other, sim in vectors.most_similar(positive=[b, c], negative=[a], topn=5):
      print(f' {other}: {sim:.3f}')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('book_ptb', main))
