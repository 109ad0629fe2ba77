"""Where a training step's time goes: a skip-gram dispatch of --steps steps, taken apart.

Times, on a synthetic corpus (Zipf, --vocab words), with the options jw2v compiles with: making one block's
examples; drawing one dispatch's negatives (as training draws them on this device: through the pool for
rare negatives where jw2v uses one); and the dispatch itself in three variants, each made of jw2v's own
functions (`jw2v.train.steps`, `jw2v.train.rows`): the whole step (`jw2v.make_step`, per-pair negatives),
the step without its scatter-adds (gathers, forward and backward pass), and the gathers and forward pass
only. Differences between variants give each part's share.

  python experiments/profile_step.py [--device gpu] [--batch-size 8192] [--vocab 100000] [--dim 100]
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

import numpy as np

REAL = "jw2v's step"


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--device', choices=('cpu', 'gpu'), default=None)
  parser.add_argument('--batch-size', type=int, default=8192)
  parser.add_argument('--steps', type=int, default=64)
  parser.add_argument('--vocab', type=int, default=100_000)
  parser.add_argument('--dim', type=int, default=100)
  parser.add_argument('--tokens', type=int, default=8_000_000)
  parser.add_argument('--repeats', type=int, default=20)
  args = parser.parse_args()

  import jax
  if args.device:
    jax.config.update('jax_platforms', {'gpu': 'cuda', 'cpu': 'cpu'}[args.device])
  import jax.numpy as jnp
  import jw2v
  from jw2v import batches
  from jw2v.train import RowAccess, compiler_options, learning_rate_schedule, steps

  B, S, H = args.batch_size, args.steps, args.dim
  corpus, vocab = jw2v.synthetic_corpus(args.tokens, args.vocab)
  config = jw2v.Config(model='skipgram', dim=H, min_count=1, batch_size=B,
                       centre_negatives=0).resolved(jax.default_backend())  # the per-pair step
  size = batches.block_size(corpus, 1 << 22)
  _, block = next(batches.corpus_blocks(corpus, size))
  block = jax.device_put(block)
  options = compiler_options()
  keep = jnp.asarray(jw2v.keep_probabilities(vocab.counts, config.sample), jnp.float32)
  noise = jw2v.noise(vocab.counts, rare_from=config.pool_rare_from)

  def median_seconds(fn, *a):
    jax.block_until_ready(fn(*a))
    times = []
    for _ in range(args.repeats):
      start = time.perf_counter()
      jax.block_until_ready(fn(*a))
      times.append(time.perf_counter() - start)
    return float(np.median(times))

  make = jax.jit(functools.partial(batches.make_examples, model='skipgram', window=config.window, shrink_windows=True,
                                   buffer_size=batches.example_buffer_size(size, 'skipgram', config.window, B)))
  make = make.lower(block, keep, jax.random.key(0)).compile(options)
  t = median_seconds(make, block, keep, jax.random.key(0))
  examples = make(block, keep, jax.random.key(0))
  pairs_per_token = int(examples.count) / int(block.n)
  print(f'{jax.devices()[0].device_kind}, JAX {jax.__version__}, batch {B}, V {len(vocab):,}, dim {H}, '
        f'negative pool {config.negative_pool or "off"}')
  print(f'make_examples: {int(block.n):,} tokens -> {int(examples.count):,} pairs in {1e3 * t:.2f} ms')
  draw = jax.jit(lambda k: batches.step_negatives(k, jnp.arange(S), noise, (B, config.negative),
                                                  config.negative_pool))
  t = median_seconds(draw.lower(jax.random.key(0)).compile(options), jax.random.key(0))
  print(f'negatives: {1e6 * t / S:.1f} us/step')

  def variant(mode):
    if mode == REAL:
      return jw2v.make_step(config)
    rows = RowAccess()

    def first_parts(state, batch, negatives_BxK, lr):  # the step's own functions, up to its scatter-adds
      h_BxH = rows.gather(state.W_in, batch.center_B)
      idx_BxJ, weight_BxJ = steps.one_positive(batch.context_B, batch.weight_B, negatives_BxK)
      loss_of_scores = steps.scores_loss(weight_BxJ, 1, batch.weight_B, 1)
      out_BxJxH = rows.gather(state.W_out_T, idx_BxJ)
      if mode == 'forward only':
        return state._replace(step=state.step + 1), loss_of_scores(steps.scores(h_BxH, out_BxJxH))
      loss, upd_h_BxH, upd_out_BxJxH = steps.row_updates(h_BxH, out_BxJxH, loss_of_scores, lr)
      return state._replace(step=state.step + 1), loss + upd_h_BxH.sum() + upd_out_BxJxH.sum()
    return first_parts

  for mode in (REAL, 'no scatter-add', 'forward only'):
    multi = jw2v.make_multi_step(variant(mode), learning_rate_schedule(config), negative=config.negative,
                                 batch_size=B, steps=S, pool=config.negative_pool)
    params = jw2v.init_params(jax.random.key(1), len(vocab), H)
    state = [jw2v.init_state(config, params, key=jax.random.key(2)).padded(len(vocab))]  # as `train` stores them
    compiled = multi.lower(state[0], examples, 0, S, 0.0, 1e-9, noise).compile(options)

    def run():
      state[0], loss = compiled(state[0], examples, 0, S, 0.0, 1e-9, noise)
      return loss
    t = median_seconds(run) / S
    print(f'{mode:17s} {1e6 * t:7.1f} us/step  {B / t / 1e6:6.0f}M pairs/s  {B / pairs_per_token / t / 1e6:5.1f}M words/s')


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('profile_step', main))
