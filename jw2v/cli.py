"""The `jw2v` command: train, similar, analogy, eval, export, plot."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Optional, Sequence

from jw2v.errors import Jw2vError

_TRAIN_OPTIONS = (  # (flag, Config field, type, help)
    ('--model', 'model', str, 'cbow or skipgram (default cbow, as word2vec.c)'),
    ('--dim', 'dim', int, 'vector size (default 100)'),
    ('--window', 'window', int, 'maximum context window on each side (default 5)'),
    ('--negative', 'negative', int, 'negatives per positive example (default 5)'),
    ('--min-count', 'min_count', int, 'ignore words seen fewer times (default 5)'),
    ('--max-vocab-size', 'max_vocab_size', int, 'keep at most this many of the most frequent words'),
    ('--sample', 'sample', float, 'subsampling threshold; 0 disables (default 1e-3)'),
    ('--ns-exponent', 'ns_exponent', float, 'power of the counts in the noise distribution (default 0.75)'),
    ('--epochs', 'epochs', int, 'passes over the corpus (default 5)'),
    ('--alpha', 'alpha', float, 'starting learning rate (default 0.025 for sgd, 0.001 otherwise)'),
    ('--min-alpha', 'min_alpha', float, 'final learning rate of the linear decay (sgd; default 0.0001)'),
    ('--batch-size', 'batch_size', int, 'examples per step (default 1024)'),
    ('--optimizer', 'optimizer', str, 'sgd (sparse fast path, default) or adam/adagrad/rmsprop/adamw '
                                      '(dense reference path: jax.grad + optax)'),
    ('--seed', 'seed', int, 'random seed (default 1)'),
)


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='jw2v', description='word2vec in JAX: train and query word vectors.')
  sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

  train = sub.add_parser('train', help='train word vectors on a text file or a named dataset',
                         description='Train word vectors. CORPUS: a UTF-8 text file (one sentence per line) '
                                     'or a dataset name (ptb, ptb:valid, ptb:test) found under '
                                     '$JW2V_DATA_DIR or downloaded into the cache.')
  train.add_argument('corpus', metavar='CORPUS')
  train.add_argument('--out', required=True, metavar='DIR', help='output directory')
  for flag, field, kind, help_text in _TRAIN_OPTIONS:
    train.add_argument(flag, dest=field, type=kind, default=None, help=help_text)
  train.add_argument('--no-shrink-windows', dest='shrink_windows', action='store_false', default=None,
                     help='always use the full window (the book) instead of word2vec.c\'s random shrinking')
  train.add_argument('--force', action='store_true', help='replace vectors already in DIR')
  train.add_argument('--quiet', action='store_true', help='no progress bar')
  train.set_defaults(func=_train)

  for name, help_text in (('similar', 'words most similar to WORD'), ('analogy', 'b - a + c: "a is to b as c is to ?"')):
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
    if name == 'similar':
      p.add_argument('word', metavar='WORD')
    else:
      p.add_argument('words', nargs=3, metavar=('A', 'B', 'C'))
    p.add_argument('-n', '--topn', type=int, default=10, help='how many results (default 10)')
    p.set_defaults(func=_similar if name == 'similar' else _analogy)

  ev = sub.add_parser('eval', help='score vectors on WordSim-353, SimLex-999 and the Google analogies',
                      description='Score vectors as gensim does, on the sets that ship with gensim (or others '
                                  'in the same formats).')
  ev.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  ev.add_argument('--pairs', nargs='+', metavar='FILE', help='word-pair files (default: WordSim-353, SimLex-999)')
  ev.add_argument('--analogies', metavar='FILE', help='analogy file (default: Google analogies)')
  ev.add_argument('--restrict-vocab', type=int, default=300_000, help='use only the N most frequent words')
  ev.add_argument('--case-sensitive', action='store_true', help='do not fold case (gensim folds by default)')
  ev.add_argument('--json', metavar='PATH', help='also write the results as JSON')
  ev.set_defaults(func=_eval)

  ex = sub.add_parser('export', help='write vectors as word2vec text/binary or for the TensorBoard projector')
  ex.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  ex.add_argument('out', metavar='OUT', help='output file (text, binary) or directory (projector)')
  ex.add_argument('--format', choices=('text', 'binary', 'projector'), default='projector')
  ex.set_defaults(func=_export)

  pl = sub.add_parser('plot', help='PNG plots: a PCA projection of chosen words and the loss curve',
                      description='Writes words.png (2-D PCA of --words) and, for a training output '
                                  'directory, loss.png (mean loss per epoch).')
  pl.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  pl.add_argument('--words', nargs='+', default=(), metavar='WORD', help='words to project')
  pl.add_argument('--out-dir', metavar='DIR', help='where the PNGs go (default: VECTORS if a directory)')
  pl.set_defaults(func=_plot)
  return parser


def _train(args) -> int:
  from jw2v.config import Config
  from jw2v.corpus import cache_dir, load_corpus, resolve_corpus
  _use_compilation_cache(cache_dir() / 'xla')
  from jw2v.run_dir import prepare_output, save_run
  from jw2v.train import train

  overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
               if getattr(args, f.name, None) is not None}
  config = Config(**overrides)
  out = prepare_output(args.out, force=args.force)
  path = resolve_corpus(args.corpus)
  start = time.perf_counter()
  corpus, vocab, text = load_corpus(path, config.min_count, config.max_vocab_size, config.max_sentence_length)
  say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr))
  if text.invalid_bytes:
    say(f'jw2v: warning: {path}: {text.invalid_bytes} byte(s) of invalid UTF-8 replaced by U+FFFD')
  say(f'{path}: {text.line_lengths.size} sentences, {corpus.raw_words} words, vocabulary {len(vocab)} '
      f'(min_count={config.min_count}) in {time.perf_counter() - start:.1f}s')
  result = train(corpus, vocab, config, progress=not args.quiet)
  history = dict(result.history, corpus=str(path), vocab_size=len(vocab), raw_words=corpus.raw_words)
  save_run(out, result.params, vocab, config, history)
  seconds = sum(e['seconds'] for e in history['epochs'])
  say(f'trained {config.model} in {seconds:.1f}s ({corpus.raw_words * config.epochs / seconds:,.0f} words/s), '
      f'final loss {history["epochs"][-1]["loss"]:.4f}; wrote {out}')
  return 0


def _use_compilation_cache(path) -> None:
  """Keeps compiled programs between runs (JAX's persistent cache), unless JAX_COMPILATION_CACHE_DIR is set."""
  import os
  import jax
  if not os.environ.get('JAX_COMPILATION_CACHE_DIR'):
    jax.config.update('jax_compilation_cache_dir', str(path))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)


def _print_neighbours(results) -> None:
  for word, sim in results:
    print(f'{sim:8.4f}  {word}')


def _similar(args) -> int:
  from jw2v.vectors import WordVectors
  _print_neighbours(WordVectors.load(args.vectors).most_similar(args.word, topn=_topn(args.topn)))
  return 0


def _analogy(args) -> int:
  from jw2v.vectors import WordVectors
  a, b, c = args.words
  _print_neighbours(WordVectors.load(args.vectors).most_similar(positive=[b, c], negative=[a],
                                                                  topn=_topn(args.topn)))
  return 0


def _eval(args) -> int:
  import json
  from pathlib import Path
  from jw2v.atomic import atomic_write
  from jw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs, standard_set
  from jw2v.vectors import WordVectors

  vectors = WordVectors.load(args.vectors)
  options = dict(restrict_vocab=args.restrict_vocab, case_insensitive=not args.case_sensitive)
  pair_files = ([(Path(p).stem, p) for p in args.pairs] if args.pairs else
                [('WordSim-353', standard_set('wordsim353')), ('SimLex-999', standard_set('simlex999'))])
  analogy_file = args.analogies or standard_set('analogies')
  results = {'vectors': str(args.vectors), 'pairs': {}, 'analogies': {}}
  print(f'{"benchmark":<22}{"score":>9}  {"detail":<38}{"OOV":>7}')
  for name, path in pair_files:
    r = evaluate_word_pairs(vectors, path, **options)
    results['pairs'][name] = {**r._asdict(), 'file': str(path)}
    print(f'{name:<22}{r.spearman:>9.4f}  {f"Spearman; Pearson {r.pearson:.4f}, {r.pairs} pairs":<38}'
          f'{r.oov_ratio:>6.1f}%')
  r = evaluate_word_analogies(vectors, analogy_file, **options)
  semantic, syntactic = r.subtotal(syntactic=False), r.subtotal(syntactic=True)
  correct, attempted = sum(c for c, _ in r.sections.values()), sum(a for _, a in r.sections.values())
  results['analogies'] = {'file': str(analogy_file), 'accuracy': r.accuracy, 'oov_ratio': r.oov_ratio,
                          'questions': r.questions, 'semantic': semantic, 'syntactic': syntactic,
                          'sections': r.sections}
  name = 'Google analogies' if not args.analogies else Path(args.analogies).stem
  print(f'{name:<22}{100 * r.accuracy:>8.2f}%  {f"{correct}/{attempted} correct":<38}{r.oov_ratio:>6.1f}%')
  for label, (c, a) in (('  semantic', semantic), ('  syntactic', syntactic)):
    print(f'{label:<22}{100 * c / a if a else 0.0:>8.2f}%  {f"{c}/{a} correct":<38}')
  if args.json:
    with atomic_write(args.json, 'w', encoding='utf-8') as f:
      json.dump(results, f, indent=2)
      f.write('\n')
  return 0


def _export(args) -> int:
  from jw2v.vectors import WordVectors
  vectors = WordVectors.load(args.vectors)
  if args.format == 'projector':
    paths = vectors.save_projector(args.out)
    print(f'wrote {paths[0]} and {paths[1]} (load them at projector.tensorflow.org)')
  else:
    vectors.save(args.out, binary=args.format == 'binary')
    print(f'wrote {args.out}')
  return 0


def _plot(args) -> int:
  import json
  from pathlib import Path
  from jw2v.errors import DataError
  from jw2v.plots import plot_loss, plot_words
  from jw2v.vectors import WordVectors

  source = Path(args.vectors)
  out = Path(args.out_dir) if args.out_dir else (source if source.is_dir() else None)
  if out is None:
    raise DataError('--out-dir is needed when VECTORS is a file')
  history = source / 'history.json' if source.is_dir() else None
  if not args.words and not (history and history.is_file()):
    raise DataError('nothing to plot: give --words, or a training output directory with history.json')
  out.mkdir(parents=True, exist_ok=True)
  if args.words:
    plot_words(WordVectors.load(source), args.words, out / 'words.png')
    print(f'wrote {out / "words.png"}')
  if history and history.is_file():
    plot_loss(json.loads(history.read_text(encoding='utf-8')), out / 'loss.png')
    print(f'wrote {out / "loss.png"}')
  return 0


def _topn(n: int) -> int:
  if n < 1:
    from jw2v.errors import ConfigError
    raise ConfigError(f'-n must be >= 1, got {n}')
  return n


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the command line; returns the exit status (errors are one line on stderr, never a traceback)."""
  args = build_parser().parse_args(argv)
  try:
    return args.func(args)
  except Jw2vError as e:
    print(f'jw2v: error: {e}', file=sys.stderr)
  except FloatingPointError as e:
    print(f'jw2v: error: {e}', file=sys.stderr)
  except OSError as e:
    where = f'{e.filename}: ' if e.filename else ''
    print(f'jw2v: error: {where}{e.strerror or e}', file=sys.stderr)
  except KeyboardInterrupt:
    print('jw2v: interrupted', file=sys.stderr)
    return 130
  return 1
