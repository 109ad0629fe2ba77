"""Training throughput on a large synthetic corpus (any device), and PTB quality at the same batch size.

The corpus is --tokens Zipf-distributed words over a --vocab vocabulary (`jw2v.synthetic_corpus`). For each
--dims value, `jw2v.train` runs --epochs epochs; reported: raw words/s (tokens x epochs / wall time of the
whole call, compilation included, as gensim counts), steady-state words/s (epochs after the first,
compilation excluded) and pairs/s. Then skip-gram is trained on PTB with the same batch size (dim 100,
window 5, negative 5, min_count 1, sample 1e-3, 10 epochs) and scored.

  python experiments/bench_throughput.py --device gpu --batch-size 8192       # on a GPU machine
  JW2V_DATA_DIR=../shared/data python experiments/bench_throughput.py --tokens 5000000   # CPU, smaller

--eval-dir names a folder holding wordsim353.tsv, simlex999.txt and questions-words.txt (default: the copies
inside the installed gensim). Writes results.json and results.md into --out.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--device', choices=('cpu', 'gpu'), default=None, help='JAX platform (default: JAX default)')
  parser.add_argument('--vocab', type=int, default=100_000)
  parser.add_argument('--tokens', type=int, default=50_000_000)
  parser.add_argument('--dims', type=int, nargs='+', default=[100, 300])
  parser.add_argument('--model', choices=('skipgram', 'cbow'), default='skipgram')
  parser.add_argument('--epochs', type=int, default=2)
  parser.add_argument('--batch-size', type=int, default=8192)
  parser.add_argument('--steps-per-call', type=int, default=64)
  parser.add_argument('--block-tokens', type=int, default=1 << 22)
  parser.add_argument('--quality-epochs', type=int, default=10, help='PTB epochs (0 skips the PTB run)')
  parser.add_argument('--eval-dir', default=None)
  parser.add_argument('--out', default='runs/throughput')
  args = parser.parse_args()

  import jax
  if args.device:
    jax.config.update('jax_platforms', {'gpu': 'cuda', 'cpu': 'cpu'}[args.device])
  import jw2v
  from jw2v.evaluate import evaluate_word_analogies, evaluate_word_pairs, standard_set

  results = {'machine': {'platform': platform.platform(), 'jax': jax.__version__,
                         'device': str(jax.devices()[0]), 'device_kind': jax.devices()[0].device_kind},
             'settings': vars(args), 'synthetic': {}, 'ptb': None}
  print(f'JAX {jax.__version__} on {jax.devices()[0].device_kind}', flush=True)
  start = time.perf_counter()
  corpus, vocab = jw2v.synthetic_corpus(args.tokens, args.vocab, seed=0)
  results['synthetic_vocab'] = len(vocab)
  print(f'synthetic corpus: {args.tokens:,} tokens, {len(vocab):,} words ({time.perf_counter() - start:.1f}s)',
        flush=True)
  common = dict(model=args.model, window=5, negative=5, min_count=1, sample=1e-3, batch_size=args.batch_size,
                steps_per_call=args.steps_per_call, block_tokens=args.block_tokens)
  for dim in args.dims:
    config = jw2v.Config(dim=dim, epochs=args.epochs, **common)
    start = time.perf_counter()
    result = jw2v.train(corpus, vocab, config, progress=False)
    wall = time.perf_counter() - start
    epochs = result.history['epochs']
    steady = epochs[1:] or epochs
    row = {'wall_seconds': wall, 'compile_seconds': result.history['compile_seconds'],
           'setup_seconds': result.history['setup_seconds'], 'finish_seconds': result.history['finish_seconds'],
           'raw_words_per_sec': args.tokens * args.epochs / wall,
           'steady_words_per_sec': args.tokens * len(steady) / sum(e['seconds'] for e in steady),
           'steady_pairs_per_sec': sum(e['examples'] for e in steady) / sum(e['seconds'] for e in steady),
           'epoch_seconds': [e['seconds'] for e in epochs], 'loss': [e['loss'] for e in epochs]}
    results['synthetic'][dim] = row
    print(f'dim {dim}: {row["raw_words_per_sec"] / 1e6:.1f}M raw words/s (wall {wall:.1f}s: setup '
          f'{row["setup_seconds"]:.1f}s, compile {row["compile_seconds"]:.1f}s, epochs '
          f'{[round(e["seconds"], 2) for e in epochs]}, finish {row["finish_seconds"]:.1f}s), steady {row["steady_words_per_sec"] / 1e6:.1f}M words/s, '
          f'{row["steady_pairs_per_sec"] / 1e6:.0f}M pairs/s', flush=True)

  if args.quality_epochs:
    corpus, vocab, _ = jw2v.load_corpus(jw2v.resolve_corpus('ptb'), min_count=1)
    config = jw2v.Config(dim=100, epochs=args.quality_epochs, **{**common, 'model': 'skipgram'})
    start = time.perf_counter()
    result = jw2v.train(corpus, vocab, config, progress=False)
    wall = time.perf_counter() - start
    vectors = jw2v.WordVectors.from_params(result.params, vocab)
    sets = ({k: Path(args.eval_dir) / f for k, f in jw2v.evaluate.STANDARD_SETS.items()} if args.eval_dir else
            {k: standard_set(k) for k in ('wordsim353', 'simlex999', 'analogies')})
    results['ptb'] = {'wall_seconds': wall, 'batch_size': args.batch_size,
                      'wordsim353': evaluate_word_pairs(vectors, sets['wordsim353']).spearman,
                      'simlex999': evaluate_word_pairs(vectors, sets['simlex999']).spearman,
                      'analogy': evaluate_word_analogies(vectors, sets['analogies']).accuracy}
    print(f'PTB skip-gram at batch {args.batch_size}: WS353 {results["ptb"]["wordsim353"]:.3f} SimLex '
          f'{results["ptb"]["simlex999"]:.3f} analogy {100 * results["ptb"]["analogy"]:.2f}% ({wall:.1f}s)',
          flush=True)

  out = Path(args.out)
  out.mkdir(parents=True, exist_ok=True)
  (out / 'results.json').write_text(json.dumps(results, indent=2, default=float) + '\n')
  lines = [f'{results["machine"]["device_kind"]}, JAX {jax.__version__}, {args.model}, '
           f'{args.tokens:,} tokens, vocab {results["synthetic_vocab"]:,}, batch {args.batch_size}',
           '', '| dim | raw words/s | steady words/s | pairs/s | wall s | compile s |', '|---|---|---|---|---|---|']
  for dim, r in results['synthetic'].items():
    lines.append(f'| {dim} | {r["raw_words_per_sec"] / 1e6:.1f}M | {r["steady_words_per_sec"] / 1e6:.1f}M | '
                 f'{r["steady_pairs_per_sec"] / 1e6:.0f}M | {r["wall_seconds"]:.1f} | {r["compile_seconds"]:.1f} |')
  (out / 'results.md').write_text('\n'.join(lines) + '\n')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('bench_throughput', main))
