"""The `jw2v` command: train, prepare, phrases, similar, analogy, predict, eval, export, classes, plot."""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import jax

from jw2v.allocator import keep_freed_memory
from jw2v.atomic import atomic_write
from jw2v.classes import check_classes_output, save_classes, word_classes
from jw2v.config import HS_TREES, Config
from jw2v.corpus import PREPARED_FILES, cache_dir, is_prepared, prepare_corpus, resolve_corpus
from jw2v.distributed import initialize_distributed
from jw2v.errors import ConfigError, DataError, Jw2vError, OutputExistsError, exit_status
from jw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs, standard_set
from jw2v.phrases import phrases
from jw2v.plots import plot_loss, plot_words
from jw2v.predict import predict_output_word
from jw2v.run import JobStopped, resume_job, train_job
from jw2v.run_dir import load_run
from jw2v.vectors import WordVectors


class _Parser(argparse.ArgumentParser):
  """An ArgumentParser that takes no abbreviations and whose errors are two lines: its one-line usage and
  the error (argparse's own usage of a command with many options runs to 20 lines)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, allow_abbrev=False, **kwargs)

  def error(self, message: str):
    self.exit(2, f'usage: {self.format_usage().strip().removeprefix("usage: ")}\n{self.prog}: error: {message}\n')


# word2vec.c's flags, and what a user of it writes here instead.
_WORD2VEC_C_FLAGS = {
    '-train': 'CORPUS (jw2v train CORPUS --out DIR)', '-output': '--out DIR', '-size': '--dim', '-window': '--window',
    '-sample': '--sample', '-hs': '--hs', '-negative': '--negative', '-iter': '--epochs', '-min-count': '--min-count',
    '-alpha': '--alpha', '-cbow': '--model cbow or --model skipgram', '-binary': 'jw2v export DIR FILE.bin',
    '-classes': 'jw2v classes VECTORS --k K --out FILE', '-save-vocab': 'DIR/vocab.txt, which every run writes',
    '-read-vocab': 'jw2v prepare, then jw2v train on its directory', '-debug': '--quiet for none',
    '-threads': 'nothing: jw2v uses every core it is given (limit them with taskset)',
}


def _zero_one(text: str) -> bool:
  if text not in ('0', '1'):
    raise argparse.ArgumentTypeError(f'expected 0 or 1, got {text!r}')
  return text == '1'


_TRAIN_OPTIONS = (  # (flag, Config field, type, help)
    ('--model', 'model', str, 'cbow or skipgram (default cbow, as word2vec.c)'),
    ('--dim', 'dim', int, 'vector size (default 100)'),
    ('--window', 'window', int, 'maximum context window on each side (default 5)'),
    ('--negative', 'negative', int, 'negatives per positive example (default 5)'),
    ('--min-count', 'min_count', int, 'ignore words seen fewer times (default 5)'),
    ('--max-vocab-size', 'max_vocab_size', int, 'keep at most this many of the most frequent words (a cut, '
                                                'which may split words of equal count)'),
    ('--max-final-vocab', 'max_final_vocab', int, 'raise --min-count just enough to keep at most N words '
                                                  '(gensim\'s max_final_vocab: equal counts never split)'),
    ('--sample', 'sample', float, 'subsampling threshold; 0 disables (default 1e-3)'),
    ('--ns-exponent', 'ns_exponent', float, 'power of the counts in the noise distribution (default 0.75)'),
    ('--epochs', 'epochs', int, 'passes over the corpus (default 5)'),
    ('--alpha', 'alpha', float, 'starting learning rate (default 0.025 for sgd, 0.001 otherwise)'),
    ('--min-alpha', 'min_alpha', float, 'final learning rate of the linear decay (sgd; default 0.0001)'),
    ('--centre-negatives', 'centre_negatives', int, 'skip-gram, opt-in, not word2vec\'s algorithm: draw N '
                                                    'negatives per centre word, shared by its pairs (about 2x '
                                                    'faster on a CPU, but 0.5-2.1 points lower on analogies on '
                                                    '4 of the 6 corpora of the README\'s quality matrix); '
                                                    'default 0: per pair, as word2vec.c'),
    ('--negative-pool', 'negative_pool', int, 'draw the negatives that fall on rare words through a pool of N '
                                              'rare words per step (a power of two; same distribution, fewer '
                                              'rows fetched from memory; default 512 on a CPU, 0 (off) on a GPU)'),
    ('--negative-pool-from', 'negative_pool_from', int, 'the frequency rank from which words count as rare for '
                                                        '--negative-pool (default 16384)'),
    ('--batch-size', 'batch_size', int, 'examples per step: pairs, or centres for cbow and with shared '
                                        'negatives (default 1024; with shared negatives as many centres as '
                                        'hold about 1024 pairs, 128 at window 5; more on a GPU, e.g. 8192)'),
    ('--steps-per-call', 'steps_per_call', int, 'steps in one jitted dispatch (default 64); with '
                                                '--local-updates the copies are summed at the end of each'),
    ('--merge-every', 'merge_every', int, 'with --local-updates: also sum the rows of the 16,384 most '
                                          'frequent words every this many steps (at most --steps-per-call), '
                                          'so that a longer dispatch sums the whole tables less often'),
    ('--block-tokens', 'block_tokens', int, 'corpus tokens whose examples are made at once (default 131072; '
                                            'more on a GPU, e.g. 4194304)'),
    ('--optimizer', 'optimizer', str, 'sgd (sparse fast path, default) or adam/adagrad/rmsprop/adamw '
                                      '(dense reference path: jax.grad + optax)'),
    ('--init-scale', 'init_scale', float, 'initial vectors uniform in [-S/dim, S/dim): 1.0 as gensim 4 '
                                          '(default), 0.5 as word2vec.c'),
    ('--examples-on', 'examples_on', str, 'host or device: where training examples are made (default: host '
                                          'when training on CPU devices in one process, where it is faster; '
                                          'same results)'),
    ('--cbow-mean', 'cbow_mean', _zero_one, 'cbow: 1 averages the context vectors (default, word2vec.c), 0 sums '
                                         'them (gensim\'s cbow_mean=0)'),
    ('--seed', 'seed', int, 'random seed (default 1)'),
    ('--devices', 'devices', int, 'train on the first N devices (default: all; across processes in a '
                                  'multi-process run)'),
)


def build_parser() -> argparse.ArgumentParser:
  """The `jw2v` command's parser: one sub-command per task."""
  parser = _Parser(prog='jw2v', description='word2vec in JAX: train and query word vectors.')
  sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
  _add_train(sub)
  _add_prepare(sub)
  _add_phrases(sub)
  _add_queries(sub)
  parser.commands = sub.choices
  return parser


def _add_train(sub) -> argparse.ArgumentParser:
  train = sub.add_parser('train', usage='%(prog)s CORPUS --out DIR [options], or %(prog)s --resume DIR', help='train word vectors on a corpus, or resume an interrupted run',
                         description='Train word vectors. CORPUS: a UTF-8 text file (one sentence per line), a '
                                     'directory of them, .gz/.bz2 files, a directory written by "jw2v prepare", '
                                     'or a dataset name (ptb, ptb:valid, ptb:test) found under $JW2V_DATA_DIR '
                                     'or downloaded into the cache. The run trains in DIR/.training/ (checkpoints '
                                     'included) and moves its outputs into DIR when all are written; "jw2v '
                                     'train --resume DIR" continues an interrupted run.')
  train.add_argument('corpus', metavar='CORPUS', nargs='?')
  train.add_argument('--out', metavar='DIR', help='output directory')
  train.add_argument('--resume', metavar='DIR', help='continue the interrupted run in DIR (its corpus and config)')
  train.add_argument('--init-from', metavar='DIR', help='continue the finished run in DIR on the new CORPUS (gensim\'s '
                                                        'build_vocab(update=True)): its config and vectors, its '
                                                        'vocabulary grown by the words of CORPUS that reach '
                                                        '--min-count; written to --out')
  train.add_argument('--checkpoint-every', type=float, default=300.0, metavar='SECONDS',
                     help='seconds between checkpoints, besides one at each epoch end (default 300)')
  for flag, field, kind, help_text in _TRAIN_OPTIONS:
    train.add_argument(flag, dest=field, type=kind, default=None, help=help_text)
  train.add_argument('--no-shrink-windows', dest='shrink_windows', action='store_false', default=None,
                     help='always use the full window (the book) instead of word2vec.c\'s random shrinking')
  train.add_argument('--hs', action='store_true', default=None,
                     help='hierarchical softmax (word2vec.c -hs 1, gensim hs=1); with --negative 0 the only output '
                          'layer, else trained beside negative sampling')
  train.add_argument('--hs-tree', dest='hs_tree', choices=HS_TREES, default=None,
                     help="hierarchical softmax's Huffman tree: gensim's (default) or word2vec.c's, which "
                          'differ in how they merge words of equal count')
  train.add_argument('--deterministic', action='store_true', default=None,
                     help='bit-for-bit repeatable results on a GPU (slower there; a CPU run always is)')
  train.add_argument('--shard-tables', dest='shard_tables', action='store_true', default=None,
                     help='split both tables by rows across the devices (for vocabularies that outgrow one)')
  train.add_argument('--local-updates', dest='local_updates', action='store_true', default=None,
                     help="each device trains its own copy of the tables, the copies' changes summed once per "
                          'dispatch: several CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=N) '
                          'then use N cores; opt-in, see the performance docs')
  sweep = train.add_argument_group('many models at once (one vmapped step; each model written to DIR/NAME)')
  sweep.add_argument('--replicas', type=int, metavar='M', help='train M models, seeds SEED..SEED+M-1')
  sweep.add_argument('--seeds', type=_number_list(int), metavar='S1,S2,...', help='one model per seed')
  sweep.add_argument('--alphas', type=_number_list(float), metavar='A1,A2,...',
                     help='one model per starting learning rate (with --seeds or --replicas: every pair)')
  group = train.add_argument_group('multi-process runs (one process per host; see the README)')
  group.add_argument('--coordinator', metavar='HOST:PORT', default=os.environ.get('JAX_COORDINATOR_ADDRESS'),
                     help='address of process 0 (default $JAX_COORDINATOR_ADDRESS)')
  group.add_argument('--num-processes', type=int, metavar='N', default=_env_int('JAX_NUM_PROCESSES'),
                     help='number of processes (default $JAX_NUM_PROCESSES)')
  group.add_argument('--process-id', type=int, metavar='I', default=_env_int('JAX_PROCESS_ID'),
                     help='this process, 0..N-1; process 0 writes the outputs (default $JAX_PROCESS_ID)')
  group.add_argument('--join-timeout', type=int, default=300, metavar='SECONDS',
                     help='how long processes wait for the coordinator (default 300)')
  group.add_argument('--distributed', action='store_true',
                     help='join a multi-process run configured by the cluster (TPU pod, SLURM, ...)')
  train.add_argument('--force', action='store_true', help='replace the run in DIR: a finished one (kept until '
                                                          'this run\'s outputs are all written) or an interrupted one')
  train.add_argument('--quiet', action='store_true', help='no progress bar')
  train.set_defaults(func=_train)
  return train


def _add_prepare(sub) -> None:
  prep = sub.add_parser('prepare', usage='%(prog)s CORPUS --out DIR [options]', help='count and encode a corpus once, in bounded memory, for train',
                        description='Two streaming passes over CORPUS (a file, a directory of files, .gz/.bz2 '
                                    'files, or a dataset name) write DIR/ids.npy, offsets.npy, vocab.txt and '
                                    'corpus.json; "jw2v train DIR ..." then trains on it without reading the '
                                    'text again.')
  prep.add_argument('corpus', metavar='CORPUS')
  prep.add_argument('--out', required=True, metavar='DIR')
  prep.add_argument('--min-count', type=int, default=5, help='ignore words seen fewer times (default 5)')
  prep.add_argument('--max-vocab-size', type=int, default=None, help='keep at most this many words')
  prep.add_argument('--max-final-vocab', type=int, default=None,
                    help='raise --min-count just enough to keep at most N words (gensim\'s rule)')
  prep.add_argument('--max-sentence-length', type=int, default=10_000, help='cut longer lines (default 10000)')
  prep.add_argument('--force', action='store_true', help='replace a prepared corpus already in DIR')
  prep.set_defaults(func=_prepare)


def _add_phrases(sub) -> None:
  ph = sub.add_parser('phrases', usage='%(prog)s CORPUS --out FILE [options]', help='join frequent pairs of words into phrases (new york -> new_york)',
                      description='Writes CORPUS to --out with the pairs of neighbouring words that score past '
                                  '--threshold joined by --delimiter, as gensim\'s Phrases (its scoring and '
                                  'defaults) and word2vec.c\'s word2phrase do; two streaming passes over the '
                                  'text. Run it on its output to find longer phrases: "jw2v phrases text.txt '
                                  '--out p1.txt && jw2v phrases p1.txt --out p2.txt".')
  ph.add_argument('corpus', metavar='CORPUS')
  ph.add_argument('--out', required=True, metavar='FILE')
  ph.add_argument('--min-count', type=int, default=5, help='ignore pairs seen fewer times (default 5)')
  ph.add_argument('--threshold', type=float, default=10.0,
                  help='the score a pair must pass (default 10; for npmi, between -1 and 1)')
  ph.add_argument('--scoring', default='default', help='default (word2phrase\'s) or npmi')
  ph.add_argument('--delimiter', default='_', help='what joins a phrase\'s words (default _)')
  ph.add_argument('--force', action='store_true', help='replace FILE if it exists')
  ph.set_defaults(func=_phrases)


def _phrases(args) -> int:
  start = time.perf_counter()
  found = phrases(resolve_corpus(args.corpus), args.out, min_count=args.min_count, threshold=args.threshold,
                  scoring=args.scoring, delimiter=args.delimiter, force=args.force)
  print(f'{args.corpus}: {found["words"]:,} words, {found["lines"]:,} lines; {found["phrases"]:,} phrases, '
        f'{found["joined"]:,} joined in the text in {time.perf_counter() - start:.1f}s; wrote {args.out}')
  return 0


def _add_queries(sub) -> None:
  queries = (('similar', 'the words most similar to WORD (to the mean of several words\' unit vectors, as '
                         'word2vec.c\'s distance)', '%(prog)s VECTORS WORD [WORD ...] [-n N]'),
             ('analogy', 'b - a + c: "a is to b as c is to ?"', '%(prog)s VECTORS A B C [-n N]'))
  for name, help_text, usage in queries:
    p = sub.add_parser(name, help=help_text, description=help_text, usage=usage)
    p.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
    if name == 'similar':
      p.add_argument('words', metavar='WORD', nargs='+')
    else:
      # three arguments, not nargs=3: argparse's help cannot format a tuple of metavars for nargs
      for word, help_word in (('a', 'the pair\'s first word'), ('b', 'the pair\'s second word'),
                              ('c', 'the word to complete: A is to B as C is to ?')):
        p.add_argument(word, metavar=word.upper(), help=help_word)
    p.add_argument('-n', '--topn', type=int, default=10, help='how many results (default 10)')
    p.set_defaults(func=_similar if name == 'similar' else _analogy)

  pr = sub.add_parser('predict', usage='%(prog)s DIR CONTEXT [CONTEXT ...] [-n N]', help='the centre words most likely given context words (gensim\'s '
                                      'predict_output_word)',
                      description='The centre words the trained output layer finds most likely between CONTEXT '
                                  'words, e.g. "jw2v predict runs/ptb the of": softmax of the mean context '
                                  'vector against every output vector.')
  pr.add_argument('run', metavar='DIR', help='training output directory (params.npz holds the output vectors)')
  pr.add_argument('context', nargs='+', metavar='CONTEXT')
  pr.add_argument('-n', '--topn', type=int, default=10, help='how many results (default 10)')
  pr.set_defaults(func=_predict)

  ev = sub.add_parser('eval', usage='%(prog)s VECTORS [options]', help='score vectors on WordSim-353, SimLex-999 and the Google analogies',
                      description='Score vectors as gensim does, on the sets that ship with gensim (or others '
                                  'in the same formats).')
  ev.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  ev.add_argument('--pairs', nargs='+', metavar='FILE', help='word-pair files (default: WordSim-353, SimLex-999)')
  ev.add_argument('--analogies', metavar='FILE', help='analogy file (default: Google analogies)')
  ev.add_argument('--restrict-vocab', type=int, default=300_000, help='use only the N most frequent words')
  ev.add_argument('--case-sensitive', action='store_true', help='do not fold case (gensim folds by default)')
  ev.add_argument('--json', metavar='PATH', help='also write the results as JSON')
  ev.set_defaults(func=_eval)

  ex = sub.add_parser('export', usage='%(prog)s VECTORS OUT [--format text|binary|projector]', help='write vectors as word2vec text/binary or for the TensorBoard projector')
  ex.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  ex.add_argument('out', metavar='OUT', help='output file: NAME.txt (word2vec text), NAME.bin (binary), or a '
                                             'directory (the projector\'s vectors.tsv and metadata.tsv)')
  ex.add_argument('--format', choices=('text', 'binary', 'projector'), default=None,
                  help='default: from OUT (.txt text, .bin binary, anything else or a directory projector)')
  ex.set_defaults(func=_export)

  cl = sub.add_parser('classes', usage='%(prog)s VECTORS --k K --out FILE [options]',
                      help='cluster the words into K classes by k-means (word2vec.c -classes K)',
                      description='Spherical k-means of the unit vectors on the device (word2vec.c\'s -classes: '
                                  'centroids the normalised sums of their words, words to the nearest centroid '
                                  'by cosine), written as "word class" lines sorted by class.')
  cl.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  cl.add_argument('--k', type=int, required=True, help='number of classes')
  cl.add_argument('--out', required=True, metavar='FILE')
  cl.add_argument('--iterations', type=int, default=10, help='rounds of k-means (default 10, as word2vec.c)')
  cl.add_argument('--seed', type=int, default=1, help='chooses the starting centroids (default 1)')
  cl.add_argument('--force', action='store_true', help='replace FILE if it exists')
  cl.set_defaults(func=_classes)

  pl = sub.add_parser('plot', usage='%(prog)s VECTORS [--words WORD ...] [--out-dir DIR]', help='PNG plots: a PCA projection of chosen words and the loss curve',
                      description='Writes words.png (2-D PCA of --words) and, for a training output '
                                  'directory, loss.png (mean loss per epoch).')
  pl.add_argument('vectors', metavar='VECTORS', help='training output directory, or a word2vec .txt/.bin file')
  pl.add_argument('--words', nargs='+', default=(), metavar='WORD', help='words to project')
  pl.add_argument('--out-dir', metavar='DIR', help='where the PNGs go (default: VECTORS if a directory)')
  pl.set_defaults(func=_plot)


def _number_list(kind):
  def parse(text: str) -> list:
    try:
      values = [kind(v) for v in text.split(',') if v.strip()]
    except ValueError:
      raise argparse.ArgumentTypeError(f'expected comma-separated numbers, got {text!r}') from None
    if not values:
      raise argparse.ArgumentTypeError('expected at least one number')
    return values
  return parse


def _env_int(name: str) -> Optional[int]:
  value = os.environ.get(name)
  return int(value) if value and value.strip().lstrip('-').isdigit() else None


def _join_processes(args) -> None:
  """Calls `jax.distributed.initialize` when the arguments (or environment) ask for a multi-process run."""
  given = (args.coordinator, args.num_processes, args.process_id)
  if not args.distributed and all(v is None for v in given):
    return
  if not args.distributed:
    if any(v is None for v in given):
      raise ConfigError('a multi-process run needs --coordinator HOST:PORT, --num-processes N and --process-id I '
                        '(or --distributed on a cluster JAX recognises)')
  initialize_distributed(*given, timeout=args.join_timeout)


def _train(args) -> int:
  _join_processes(args)  # before anything else touches the devices
  _use_compilation_cache(cache_dir() / 'xla')
  quiet = args.quiet or jax.process_index() != 0
  settings = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config)
              if getattr(args, f.name, None) is not None}
  common = dict(checkpoint_every=args.checkpoint_every, progress=not args.quiet,
                log=(lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr)))
  sweep = dict(replicas=args.replicas, seeds=args.seeds, alphas=args.alphas)
  try:
    if args.resume:
      if args.out and args.out != args.resume:
        raise ConfigError('--resume DIR writes into DIR; leave out --out')
      if any(v is not None for v in sweep.values()):
        raise ConfigError('a sweep cannot be resumed; start it again')
      if args.init_from:
        raise ConfigError('--resume continues a stopped run as it was started; leave out --init-from')
      resume_job(args.resume, corpus=args.corpus, **common, **settings)
    elif not args.corpus or not args.out:
      raise ConfigError('train needs CORPUS and --out DIR (or --resume DIR)')
    else:
      train_job(args.corpus, args.out, force=args.force, init_from=args.init_from, **sweep, **common, **settings)
  except JobStopped as stopped:
    print(f'jw2v: {stopped.why}: stopped in epoch {stopped.epoch + 1}, checkpoint saved; resume '
          f'with: jw2v train --resume {stopped.out}', file=sys.stderr)
    return 128 + (stopped.signum or signal.SIGTERM)
  return 0


def _prepare(args) -> int:
  out = Path(args.out)
  if is_prepared(out) and not args.force:
    raise OutputExistsError(f'{out} already holds a prepared corpus; choose another --out, or pass --force')
  for name, value in (('--min-count', args.min_count), ('--max-sentence-length', args.max_sentence_length)):
    if value < 1:
      raise ConfigError(f'{name} must be >= 1, got {value}')
  start = time.perf_counter()
  prepared = prepare_corpus(resolve_corpus(args.corpus), out, args.min_count, args.max_vocab_size,
                            args.max_sentence_length, max_final_vocab=args.max_final_vocab)
  info = prepared.info
  print(f'prepared {args.corpus}: {info["raw_words"]:,} words, {info["tokens"]:,} kept, {info["sentences"]:,} '
        f'sentences, vocabulary {info["vocab_size"]:,} in {time.perf_counter() - start:.1f}s; wrote '
        f'{", ".join(PREPARED_FILES)} into {out}')
  if info['invalid_bytes']:
    print(f'jw2v: warning: {info["invalid_bytes"]} byte(s) of invalid UTF-8 read as U+FFFD', file=sys.stderr)
  return 0


def _use_compilation_cache(path) -> None:
  """Keeps compiled programs between runs (JAX's persistent cache), unless JAX_COMPILATION_CACHE_DIR is set."""
  if not os.environ.get('JAX_COMPILATION_CACHE_DIR'):
    jax.config.update('jax_compilation_cache_dir', str(path))
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)


def _print_neighbours(results) -> None:
  for word, sim in results:
    print(f'{sim:8.4f}  {word}')


def _similar(args) -> int:
  _print_neighbours(WordVectors.load(args.vectors).most_similar(args.words, topn=_topn(args.topn)))
  return 0


def _analogy(args) -> int:
  a, b, c = args.a, args.b, args.c
  _print_neighbours(WordVectors.load(args.vectors).most_similar(positive=[b, c], negative=[a],
                                                                  topn=_topn(args.topn)))
  return 0


def _predict(args) -> int:
  run = load_run(args.run)
  mean = run.config.cbow_mean if run.config.model == 'cbow' else True
  _print_neighbours(predict_output_word(run.params, run.vocab, args.context, _topn(args.topn), cbow_mean=mean))
  return 0


def _eval(args) -> int:

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


def _export_format(out: Path, given: Optional[str]) -> str:
  """The format `export` writes: the one given, else inferred from OUT's name."""
  if given is None:
    given = 'projector' if out.is_dir() else {'.txt': 'text', '.bin': 'binary'}.get(out.suffix.lower(), 'projector')
  if given != 'projector' and out.is_dir():
    raise DataError(f'{out} is a directory; --format {given} writes a file: give a file name')
  return given


def _export(args) -> int:
  vectors = WordVectors.load(args.vectors)
  kind = _export_format(Path(args.out), args.format)
  if kind == 'projector':
    paths = vectors.save_projector(args.out)
    print(f'wrote {paths[0]} and {paths[1]} (load them at projector.tensorflow.org)')
  else:
    vectors.save(args.out, binary=kind == 'binary')
    print(f'wrote {args.out}')
  return 0


def _classes(args) -> int:
  vectors = WordVectors.load(args.vectors)
  check_classes_output(args.out, args.force)  # before the clustering, not after it
  classes = word_classes(vectors, args.k, args.iterations, args.seed)
  save_classes(args.out, vectors.words, classes, force=args.force)
  print(f'wrote {args.out}: {len(vectors):,} words in {len(set(classes.tolist())):,} classes')
  return 0


def _plot(args) -> int:

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
    raise ConfigError(f'-n must be >= 1, got {n}')
  return n


def _options(parser: argparse.ArgumentParser) -> list:
  """The parser's options (argparse keeps no public list of them)."""
  return [action for action in parser._actions if action.option_strings]


def _flags(parser: argparse.ArgumentParser) -> dict:
  """Each option's flag by the name of what it sets (a Config field or a library argument)."""
  flags = {action.dest: action.option_strings[-1] for command in parser.commands.values()
           for action in _options(command)}
  return {**flags, 'timeout': '--join-timeout'}  # initialize_distributed's name for it


def _unknown(arg: str, parser: argparse.ArgumentParser) -> str:
  """The error for an argument the parser does not take, with the flag that was probably meant."""
  if not arg.startswith('-'):
    return f'unexpected argument {arg!r}'
  flag = arg.split('=', 1)[0]
  if flag in _WORD2VEC_C_FLAGS:
    return f'unknown flag {flag}: word2vec.c\'s {flag} is {_WORD2VEC_C_FLAGS[flag]} here'
  known = [o for action in _options(parser) for o in action.option_strings]
  close = difflib.get_close_matches('--' + flag.lstrip('-').replace('_', '-'), known, n=1, cutoff=0.7)
  return f'unknown flag {flag}' + (f'; did you mean {close[0]}?' if close else f' (see {parser.prog} --help)')


def _parse(parser: argparse.ArgumentParser, argv: list) -> argparse.Namespace:
  """parse_args, with unknown flags (word2vec.c's among them) and extra arguments reported by the command
  they were given to, naming the flag meant."""
  command = next((a for a in argv if a in parser.commands), None)
  target = parser.commands[command] if command else parser
  single_dash = next((a for a in argv if a.split('=', 1)[0] in _WORD2VEC_C_FLAGS), None)
  if single_dash:  # before argparse, which would read -hs as -h s and -negative as -n egative
    target.error(_unknown(single_dash, target))
  args, extra = parser.parse_known_args(argv)
  if extra:
    parser.commands[args.command].error(_unknown(extra[0], parser.commands[args.command]))
  return args


def _in_flags(run, flags: dict):
  """Runs `run()`; a jw2v error about a Config field or argument comes out naming the command's flag."""
  try:
    return run()
  except Jw2vError as e:
    if e.field not in flags:
      raise
    raise type(e)(re.sub(rf'\b{re.escape(e.field)}\b', flags[e.field], str(e), count=1)) from None


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Runs the command line; returns the exit status (errors are one line on stderr, never a traceback)."""
  keep_freed_memory()  # before JAX starts its threads
  parser = build_parser()
  args = _parse(parser, list(sys.argv[1:] if argv is None else argv))
  return exit_status('jw2v', lambda: _in_flags(lambda: args.func(args), _flags(parser)))
