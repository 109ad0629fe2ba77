"""Where a training step's time goes: a skip-gram dispatch of --steps steps, taken apart.

Times, on a synthetic corpus (Zipf, --vocab words), with the options jw2v compiles with: making one block's
examples; drawing one dispatch's negatives (as training draws them on this device: through the pool for
rare negatives where jw2v uses one); and the dispatch itself in four variants: jw2v's step
(`jw2v.make_step`, per-pair negatives), a copy of it written out here (its time should match, so that the
other variants compare with it), the copy without its scatter-adds, and the forward pass only.
Differences between variants give each part's share.

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
  from jw2v.model import embedding, logistic_loss
  from jw2v.train import SparseState, compiler_options, learning_rate_schedule, pad_tables

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

    # The per-pair branch of `train.sparse_step`: the positive's and the negatives' output rows as one
    # array, one product with h, one loss; the updates come out of the backward pass scaled by -lr.
    def step(state, batch, negatives_BxK, lr):
      idx_BxJ = jnp.concatenate([batch.context_B[:, None], negatives_BxK], axis=1)
      weight_BxJ = jnp.concatenate([jnp.ones_like(batch.weight_B[:, None]),
                                    (negatives_BxK != batch.context_B[:, None]).astype(jnp.float32)], axis=1)
      h_BxH, out_BxJxH = embedding(state.W_in, batch.center_B), embedding(state.W_out_T, idx_BxJ)
      f = lambda h, out: logistic_loss(jnp.einsum('bh,bjh->bj', h, out), weight_BxJ, 1, batch.weight_B)
      next_state = SparseState(state.W_in, state.W_out_T, state.key, state.step + 1)
      if mode == 'forward only':
        return next_state, f(h_BxH, out_BxJxH)
      loss, backward = jax.vjp(f, h_BxH, out_BxJxH)
      upd_h_BxH, upd_out_BxJxH = backward(-jnp.asarray(lr, jnp.float32))
      if mode == 'no scatter-add':
        return next_state, loss + upd_h_BxH.sum() + upd_out_BxJxH.sum()
      W_out_T = state.W_out_T.at[idx_BxJ.reshape(-1)].add(upd_out_BxJxH.reshape(-1, upd_out_BxJxH.shape[-1]),
                                                          mode='drop')
      return SparseState(state.W_in.at[batch.center_B].add(upd_h_BxH, mode='drop'), W_out_T, state.key,
                         state.step + 1), loss
    return step

  first_losses = {}
  for mode in (REAL, 'copy of the step', 'no scatter-add', 'forward only'):
    multi = jw2v.make_multi_step(variant(mode), learning_rate_schedule(config), negative=config.negative,
                                 batch_size=B, steps=S, pool=config.negative_pool)
    state = [pad_tables(jw2v.init_state(config, jw2v.init_params(jax.random.key(1), len(vocab), H), key=jax.random.key(2)),
                        len(vocab))]  # stored as `train` stores them
    compiled = multi.lower(state[0], examples, 0, S, 0.0, 1e-9, noise).compile(options)

    def run():
      state[0], loss = compiled(state[0], examples, 0, S, 0.0, 1e-9, noise)
      return loss
    first_losses[mode] = np.asarray(run())  # from the same initial state for every variant
    t = median_seconds(run) / S
    print(f'{mode:17s} {1e6 * t:7.1f} us/step  {B / t / 1e6:6.0f}M pairs/s  {B / pairs_per_token / t / 1e6:5.1f}M words/s')
  # The copy computes what jw2v's step computes, up to the order of summation.
  if not np.allclose(first_losses['copy of the step'], first_losses[REAL], rtol=1e-4):
    copy, real = first_losses['copy of the step'], first_losses[REAL]
    raise SystemExit(f"the copy's losses {copy[:4]} differ from jw2v's {real[:4]}: the copy no longer matches the step")


if __name__ == '__main__':
  from jw2v.errors import exit_status  # errors the user can fix: one line
  sys.exit(exit_status('profile_step', main))
