"""Speed of the Google analogy evaluation: jw2v against gensim on the same vectors, in one run.

The vocabulary holds every word of questions-words.txt (so all 19,544 questions are answered) plus
filler words up to --vocab (default 10,000). Vectors are random normal, dimension --dim (default 100),
except that for a third of the questions (in a random order) the answer's vector, if not yet set, is made
b - a + c plus noise, so that some questions are answered right and some near-misses exist. Both tools'
per-section counts are compared.

  python experiments/bench_analogies.py [--vocab 10000] [--dim 100] [--repeat 3] [--out runs/bench_analogies]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--vocab', type=int, default=10_000)
  parser.add_argument('--dim', type=int, default=100)
  parser.add_argument('--repeat', type=int, default=3, help='timed runs of each (the best is reported)')
  parser.add_argument('--out', default='runs/bench_analogies')
  args = parser.parse_args()
  logging.getLogger('gensim').setLevel(logging.ERROR)

  import jax
  from gensim.models import KeyedVectors
  from jw2v.evaluate import evaluate_word_analogies, standard_set
  from jw2v.vectors import WordVectors

  path = standard_set('analogies')
  words = list(dict.fromkeys(w.lower() for line in path.read_text().splitlines() if not line.startswith(':')
                             for w in line.split()))
  words += [f'filler{i}' for i in range(args.vocab - len(words))]
  rng = np.random.default_rng(0)
  vectors = rng.normal(size=(len(words), args.dim))
  index = {w: i for i, w in enumerate(words)}
  questions = [[index[w.lower()] for w in line.split()] for line in path.read_text().splitlines()
               if not line.startswith(':')]
  planted = set()
  for q in rng.permutation(len(questions))[:len(questions) // 3]:
    a, b, c, d = questions[q]
    if d not in planted | {a, b, c}:
      vectors[d] = vectors[b] - vectors[a] + vectors[c] + 0.5 * rng.normal(size=args.dim)
      planted.add(d)
  vectors = vectors.astype(np.float32)
  ours = WordVectors(words, vectors)
  theirs = KeyedVectors(args.dim)
  theirs.add_vectors(words, vectors)

  def best_of(fn):
    times = []
    for _ in range(args.repeat):
      start = time.perf_counter()
      result = fn()
      times.append(time.perf_counter() - start)
    return min(times), result

  first = time.perf_counter()
  evaluate_word_analogies(WordVectors(words, vectors), path)  # a fresh object: includes compilation
  first = time.perf_counter() - first
  t_ours, r_ours = best_of(lambda: evaluate_word_analogies(ours, path))
  t_theirs, (score, sections) = best_of(lambda: theirs.evaluate_word_analogies(str(path)))
  theirs_sections = {s['section']: (len(s['correct']), len(s['correct']) + len(s['incorrect']))
                     for s in sections if s['section'] != 'Total accuracy'}
  attempted = sum(a for _, a in r_ours.sections.values())
  result = {'machine': {'platform': platform.platform(), 'cores': os.cpu_count(), 'jax': jax.__version__,
                        'device': str(jax.devices()[0])},
            'vocab': len(words), 'dim': args.dim, 'questions_attempted': attempted,
            'jw2v_seconds': t_ours, 'jw2v_first_call_seconds': first, 'gensim_seconds': t_theirs,
            'speedup': t_theirs / t_ours, 'same_results': theirs_sections == r_ours.sections,
            'accuracy': r_ours.accuracy, 'gensim_accuracy': score}
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps(result, indent=2) + '\n')
  print(json.dumps(result, indent=2))


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('bench_analogies', main))
