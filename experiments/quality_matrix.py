"""The quality matrix: jw2v against gensim on several real corpora, both models, several seeds.

For every corpus, model and seed, jw2v (its defaults, given only the settings below) and gensim's
`Word2Vec` (`workers` = cores, the same settings) each train once in a fresh process, taking turns, and
both sets of vectors are scored by the same evaluators (`jw2v.evaluate`, which give gensim's numbers) on
WordSim-353, SimLex-999 and the Google analogies. The table gives, per corpus and model, each tool's mean
and minimum of every score, the vocabulary size, each tool's mean wall time (corpus file to trained
vectors), and whether jw2v's mean is within the tolerance every default must meet (DESIGN.md, the quality
gate): at most 0.02 below gensim's mean on WordSim-353 and SimLex-999, 0.5 points on the analogies. A
score over fewer than MIN_COVERED pairs or questions (those whose words are all in the corpus's
vocabulary: WordSim-353 covers 41 pairs of the man pages) is shown but not judged: a Spearman
coefficient over 41 pairs has a standard error of about 0.16.

  JW2V_DATA_DIR=../shared/data python experiments/quality_matrix.py     # the whole matrix (about 35 min, 2 cores)
  python experiments/quality_matrix.py --corpora wiki bible --models skipgram --seeds 1 2
  python experiments/quality_matrix.py --jw2v init_scale=0.5 --gensim-from runs/quality_matrix/results.json
  python experiments/quality_matrix.py --corpora mine=my.txt --epochs 3

Corpora: `ptb` (PTB's training text, from JW2V_DATA_DIR), the corpora of experiments/corpora.py
(dictionary, bible, manpages, fortunes, wiki: built into --corpus-dir when missing, from the Debian and
PyPI packages named there), and NAME=PATH for any text file. Settings: dim 100, window 5, negative 5,
min-count 5, sample 1e-3 and, unless --epochs is given, each corpus's epochs from EPOCHS below (about 5 to
20 M words of training each).

`--jw2v FIELD=VALUE` (repeatable) trains jw2v with a Config field changed, to measure a variant against
the same gensim runs; `--gensim-from` takes gensim's runs (same corpus, model, seed and settings) from an
earlier results.json instead of training them again. Writes results.json (every run, with jw2v's loss per
epoch) and results.md into --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import corpora
import gensim_peer
from jw2v.errors import ConfigError, DataError, exit_status

SETTINGS = ('dim', 'window', 'negative', 'min_count', 'sample')
EPOCHS = {'ptb': 10, 'wiki': 10, 'bible': 10, 'fortunes': 10, 'manpages': 5, 'dictionary': 2}
DEFAULT_CORPORA = ('ptb', 'wiki', 'bible', 'fortunes', 'manpages', 'dictionary')
SCORES = ('wordsim353', 'simlex999', 'analogy')
TOLERANCE = {'wordsim353': 0.02, 'simlex999': 0.02, 'analogy': 0.005}
MIN_COVERED = 100


def scores(words, vectors) -> dict:
  """WordSim-353 and SimLex-999 Spearman, Google analogy accuracy (0-1) of a table of vectors, and how many
  pairs and questions each score is over (those whose words are all in the vocabulary)."""
  from jw2v import WordVectors
  from jw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs, standard_set
  wv = WordVectors(tuple(words), vectors)
  ws, simlex = (evaluate_word_pairs(wv, standard_set(name)) for name in ('wordsim353', 'simlex999'))
  analogy = evaluate_word_analogies(wv, standard_set('analogies'))
  return {'wordsim353': ws.spearman, 'simlex999': simlex.spearman, 'analogy': analogy.accuracy,
          'covered': {'wordsim353': ws.pairs, 'simlex999': simlex.pairs,
                      'analogy': sum(attempted for _, attempted in analogy.sections.values())}}


def train_gensim(path: str, model: str, settings: dict, seed: int, workers: int) -> dict:
  """One gensim run in this process: wall time from the file to the vectors, vocabulary, scores."""
  w2v, wall = gensim_peer.train_word2vec(path, model, **settings, seed=seed, workers=workers)
  return {'wall_seconds': wall, 'vocab_size': len(w2v.wv), 'raw_words': w2v.corpus_total_words,
          **scores(w2v.wv.index_to_key, w2v.wv.vectors)}


def train_jw2v(path: str, model: str, settings: dict, seed: int, extra: dict) -> dict:
  """One jw2v run in this process (`load_corpus` + `train`); a stop by the divergence guards is a result."""
  import jw2v
  start = time.perf_counter()
  config = jw2v.Config(model=model, seed=seed, **settings, **extra)
  corpus, vocab, _ = jw2v.load_corpus(path, config.min_count)
  try:
    result = jw2v.train(corpus, vocab, config, progress=False)
  except jw2v.DivergenceError as e:
    return {'wall_seconds': time.perf_counter() - start, 'vocab_size': len(vocab), 'raw_words': corpus.raw_words,
            'diverged': str(e), **{k: float('nan') for k in SCORES}}
  wall = time.perf_counter() - start
  return {'wall_seconds': wall, 'vocab_size': len(vocab), 'raw_words': corpus.raw_words,
          'epoch_losses': [e['loss'] for e in result.history['epochs']],
          'config': dataclasses.asdict(config.resolved(jw2v_platform())),
          **scores(vocab.words, result.params['W_in'])}


def jw2v_platform() -> str:
  import jax
  return jax.default_backend()


def run_worker(tool: str, model: str, path: str, settings: dict, seed: int, extra: dict, workers: int) -> dict:
  """One run in a fresh Python process (both tools pay their own start-up); its result."""
  job = json.dumps({'tool': tool, 'model': model, 'path': path, 'settings': settings, 'seed': seed,
                    'extra': extra, 'workers': workers})
  done = subprocess.run([sys.executable, __file__, '--worker', job], capture_output=True, text=True)
  if done.returncode:
    last = (done.stderr.strip().splitlines() or ['(no message)'])[-1].removeprefix('quality_matrix: error: ')
    raise DataError(f'the {tool} {model} run on {path} (seed {seed}) failed: {last}')
  return json.loads(done.stdout.strip().splitlines()[-1])


def worker(job: str) -> None:
  job = json.loads(job)
  if job['tool'] == 'gensim':
    row = train_gensim(job['path'], job['model'], job['settings'], job['seed'], job['workers'])
  else:
    row = train_jw2v(job['path'], job['model'], job['settings'], job['seed'], job['extra'])
  print(json.dumps(row))


def parse_extra(pairs: list[str], models: list[str]) -> dict:
  """`FIELD=VALUE` pairs as Config fields (values read as JSON: 1.0, 0, true, null, else a string),
  checked against a Config of each model."""
  from jw2v import Config
  fields = {f.name for f in dataclasses.fields(Config)}
  extra = {}
  for pair in pairs:
    name, eq, value = pair.partition('=')
    if not eq or name not in fields or name in ('model', 'seed', 'epochs', 'hs', *SETTINGS):
      raise ConfigError(f'--jw2v takes FIELD=VALUE with a Config field other than model, seed, epochs and the '
                        f'shared settings; got {pair!r}')
    try:
      extra[name] = json.loads(value)
    except json.JSONDecodeError:
      extra[name] = value
  for model in models:  # an impossible value is refused before anything trains
    Config(model=model, **extra)
  return extra


def resolve(spec: str, corpus_dir: Path) -> tuple[str, Path]:
  """(name, text file) of a corpus: NAME=PATH, `ptb`, or a corpus of corpora.py (built when missing)."""
  name, eq, path = spec.partition('=')
  if eq:
    if not Path(path).is_file():
      raise DataError(f'corpus not found: {path}')
    return name, Path(path)
  if name == 'ptb':
    from jw2v.corpus import resolve_corpus
    return name, resolve_corpus('ptb', download=False)
  if name not in corpora.SOURCES:
    raise ConfigError(f'unknown corpus {name!r}: use ptb, {", ".join(corpora.SOURCES)} or NAME=PATH')
  path = corpus_dir / f'{name}.txt'
  if not path.is_file():
    built = corpora.build(name, corpus_dir)
    print(f'built {path}: {built.tokens:,} tokens', file=sys.stderr, flush=True)
  return name, path


def earlier_gensim(path) -> dict:
  """gensim's runs of an earlier results.json, by (corpus, model, seed, settings)."""
  if path is None:
    return {}
  runs = json.loads(Path(path).read_text())['runs']
  return {_key(r['corpus'], r['model'], r['seed'], r['settings']): r for r in runs if r['tool'] == 'gensim'}


def _key(corpus, model, seed, settings) -> str:
  return json.dumps([corpus, model, seed, settings], sort_keys=True)


def summarise(runs: list[dict]) -> list[dict]:
  """Per corpus and model: each tool's mean and minimum of every score and mean wall time, jw2v's mean
  minus gensim's, and whether that is within TOLERANCE (a diverged jw2v run fails it; None: not judged,
  the score covers fewer than MIN_COVERED pairs or questions)."""
  rows = []
  for corpus, model in dict.fromkeys((r['corpus'], r['model']) for r in runs):
    row = {'corpus': corpus, 'model': model}
    for tool in ('jw2v', 'gensim'):
      mine = [r for r in runs if (r['corpus'], r['model'], r['tool']) == (corpus, model, tool)]
      row[tool] = {'seeds': [r['seed'] for r in mine], 'vocab_size': mine[0]['vocab_size'],
                   'covered': mine[0].get('covered'),
                   'raw_words': mine[0]['raw_words'], 'wall_seconds': statistics.mean(r['wall_seconds'] for r in mine),
                   'diverged': sum('diverged' in r for r in mine)}
      for score in SCORES:
        values = [r[score] for r in mine]
        row[tool][score] = {'mean': statistics.mean(values), 'min': min(values)}
    row['difference'] = {s: row['jw2v'][s]['mean'] - row['gensim'][s]['mean'] for s in SCORES}
    scored = [r['covered'] for r in runs if (r['corpus'], r['model']) == (corpus, model) and 'covered' in r]
    row['covered'] = {s: min((c[s] for c in scored), default=MIN_COVERED) for s in SCORES}  # the fewest scored
    row['within'] = {s: None if row['covered'][s] < MIN_COVERED
                     else bool(row['difference'][s] >= -TOLERANCE[s]) for s in SCORES}  # NaN (diverged): False
    rows.append(row)
  return rows


def markdown(rows: list[dict]) -> str:
  """The summary as a Markdown table: jw2v / gensim means (minima), jw2v minus gensim, wall times."""
  def cell(row, score, scale=1.0, digits=3):
    j, g = row['jw2v'][score], row['gensim'][score]
    judged = row['within'][score]
    units = 'questions' if score == 'analogy' else 'pairs'
    mark = f' ({row["covered"][score]} {units}: not judged)' if judged is None else '' if judged else ' ✗'
    return (f'{scale * j["mean"]:.{digits}f} ({scale * j["min"]:.{digits}f}) / {scale * g["mean"]:.{digits}f} '
            f'({scale * g["min"]:.{digits}f}), {scale * row["difference"][score]:+.{digits}f}{mark}')
  lines = ['| corpus | tokens | words | model | WordSim-353 | SimLex-999 | analogies (%) | wall s |',
           '|---|---|---|---|---|---|---|---|']
  for row in rows:
    j, g = row['jw2v'], row['gensim']
    diverged = f', {j["diverged"]} diverged' if j['diverged'] else ''
    lines.append(f'| {row["corpus"]} | {j["raw_words"] / 1e6:.2f} M | {j["vocab_size"]:,} | {row["model"]} | '
                 f'{cell(row, "wordsim353")} | {cell(row, "simlex999")} | {cell(row, "analogy", 100, 2)} | '
                 f'{j["wall_seconds"]:.1f} / {g["wall_seconds"]:.1f}{diverged} |')
  return '\n'.join(lines)


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--corpora', nargs='+', default=list(DEFAULT_CORPORA), metavar='NAME[=PATH]')
  parser.add_argument('--models', nargs='+', default=['skipgram', 'cbow'], choices=['skipgram', 'cbow'])
  parser.add_argument('--seeds', nargs='+', type=int, default=[1, 2, 3])
  parser.add_argument('--epochs', type=int, default=None, help='epochs for every corpus (default: EPOCHS, 10 '
                      'for a NAME=PATH corpus)')
  parser.add_argument('--dim', type=int, default=100)
  parser.add_argument('--window', type=int, default=5)
  parser.add_argument('--negative', type=int, default=5)
  parser.add_argument('--min-count', type=int, default=5)
  parser.add_argument('--sample', type=float, default=1e-3)
  parser.add_argument('--hs', action='store_true', help='both tools train hierarchical softmax (with --negative 0: '
                      'only that)')
  parser.add_argument('--jw2v', action='append', default=[], metavar='FIELD=VALUE',
                      help='train jw2v with this Config field changed (repeatable)')
  parser.add_argument('--gensim-from', metavar='RESULTS_JSON', help="reuse gensim's runs of an earlier results.json")
  parser.add_argument('--workers', type=int, default=os.cpu_count(), help="gensim's threads (default: cores)")
  parser.add_argument('--corpus-dir', default='runs/corpora', help='where corpora.py corpora are built')
  parser.add_argument('--out', default='runs/quality_matrix')
  parser.add_argument('--worker', help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.worker:
    return worker(args.worker)
  if min(args.seeds) < 0 or (args.epochs is not None and args.epochs < 1):
    parser.error('seeds must be >= 0 and --epochs >= 1')
  extra = parse_extra(args.jw2v, args.models)
  reuse = earlier_gensim(args.gensim_from)
  sources = [resolve(spec, Path(args.corpus_dir)) for spec in args.corpora]
  runs = []
  for name, path in sources:
    settings = {k: getattr(args, k) for k in SETTINGS}
    settings['epochs'] = args.epochs or EPOCHS.get(name, 10)
    if args.hs:  # only when given, so that earlier results.json files' keys still match
      settings['hs'] = True
    for model in args.models:
      for seed in args.seeds:
        for tool in ('jw2v', 'gensim'):  # side by side: a slow spell of the machine hits both
          earlier = reuse.get(_key(name, model, seed, settings)) if tool == 'gensim' else None
          row = earlier or run_worker(tool, model, str(path), settings, seed, extra, args.workers)
          runs.append({**row, 'corpus': name, 'model': model, 'seed': seed, 'tool': tool, 'settings': settings,
                       'reused': earlier is not None})
          print(f'{name} {model} seed {seed} {tool}: {row["wall_seconds"]:.1f}s  WS {row["wordsim353"]:.3f} '
                f'SL {row["simlex999"]:.3f} AN {100 * row["analogy"]:.2f} %'
                + (f'  DIVERGED: {row["diverged"]}' if 'diverged' in row else ''), file=sys.stderr, flush=True)
  import jax
  rows = summarise(runs)
  results = {'machine': {'platform': platform.platform(), 'processor': platform.processor(), 'cores': os.cpu_count(),
                         'jax': jax.__version__, 'device': str(jax.devices()[0])},
             'command': ' '.join(sys.argv), 'jw2v_extra': extra, 'tolerance': TOLERANCE,
             'min_covered': MIN_COVERED, 'summary': rows,
             'runs': runs}
  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  from jw2v.atomic import atomic_write
  table = markdown(rows)
  with atomic_write(out / 'results.json', 'w') as f:
    f.write(json.dumps(results, indent=2) + '\n')
  with atomic_write(out / 'results.md', 'w') as f:
    f.write(table + '\n')
  print(table)


if __name__ == '__main__':
  sys.exit(exit_status('quality_matrix', main))
