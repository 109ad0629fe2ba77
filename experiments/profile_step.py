"""Where a training step's time goes: a skip-gram dispatch of --steps steps, taken apart.

Times, on a synthetic corpus (Zipf, --vocab words), with the options jw2v compiles with: making one block's
examples; drawing one dispatch's negatives; and the dispatch itself in four variants (the real step; one
with two separate scatter-adds; one without the scatter-adds; the forward pass only). Differences between
variants give each part's share.

  python experiments/profile_step.py [--device gpu] [--batch-size 8192] [--vocab 100000] [--dim 100]
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np


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
  from jw2v.model import embedding, negative_sampling_loss
  from jw2v.train import SparseState, compiler_options, learning_rate_schedule, pad_tables

  B, S, H = args.batch_size, args.steps, args.dim
  corpus, vocab = jw2v.synthetic_corpus(args.tokens, args.vocab)
  config = jw2v.Config(model='skipgram', dim=H, min_count=1, batch_size=B, centre_negatives=0)  # the per-pair step
  size = batches.block_size(corpus, 1 << 22)
  _, block = next(batches.corpus_blocks(corpus, size))
  block = jax.device_put(block)
  options = compiler_options()
  keep = jnp.asarray(jw2v.keep_probabilities(vocab.counts, config.sample), jnp.float32)
  noise = jw2v.noise(vocab.counts)

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
  print(f'{jax.devices()[0].device_kind}, JAX {jax.__version__}, batch {B}, V {len(vocab):,}, dim {H}')
  print(f'make_examples: {int(block.n):,} tokens -> {int(examples.count):,} pairs in {1e3 * t:.2f} ms')
  draw = jax.jit(lambda k: batches.step_negatives(k, jnp.arange(S), noise, (B, config.negative)))
  t = median_seconds(draw.lower(jax.random.key(0)).compile(options), jax.random.key(0))
  print(f'negatives: {1e6 * t / S:.1f} us/step')

  def variant(mode):
    def step(state, batch, negatives_BxK, lr):
      target_B = batch.context_B
      mask_BxK = (negatives_BxK != target_B[:, None]).astype(jnp.float32)
      h, pos, neg = (embedding(state.W_in, batch.center_B), embedding(state.W_out_T, target_B),
                     embedding(state.W_out_T, negatives_BxK))
      f = lambda h, pos, neg: negative_sampling_loss(jnp.sum(h * pos, -1), jnp.einsum('bh,bkh->bk', h, neg),
                                                     mask_BxK, batch.weight_B)
      next_state = SparseState(state.W_in, state.W_out_T, state.key, state.step + 1)
      if mode == 'forward only':
        return next_state, f(h, pos, neg)
      loss, backward = jax.vjp(f, h, pos, neg)
      uh, up, un = backward(-jnp.asarray(lr, jnp.float32))
      if mode == 'no scatter-add':
        return next_state, loss + uh.sum() + up.sum() + un.sum()
      if mode == 'two scatter-adds':
        W_out = state.W_out_T.at[target_B].add(up).at[negatives_BxK.reshape(-1)].add(un.reshape(-1, un.shape[-1]))
      else:
        W_out = state.W_out_T.at[jnp.concatenate([target_B, negatives_BxK.reshape(-1)])].add(
            jnp.concatenate([up, un.reshape(-1, un.shape[-1])]))
      return SparseState(state.W_in.at[batch.center_B].add(uh), W_out, state.key, state.step + 1), loss
    return step

  for mode in ('full step', 'two scatter-adds', 'no scatter-add', 'forward only'):
    multi = jw2v.make_multi_step(variant(mode), learning_rate_schedule(config), negative=config.negative,
                                 batch_size=B, steps=S)
    state = [pad_tables(jw2v.init_state(config, jw2v.init_params(jax.random.key(1), len(vocab), H), key=jax.random.key(2)),
                        len(vocab))]  # stored as `train` stores them
    compiled = multi.lower(state[0], examples, 0, S, 0.0, 1e-9, noise).compile(options)

    def run():
      state[0], loss = compiled(state[0], examples, 0, S, 0.0, 1e-9, noise)
      return loss
    t = median_seconds(run) / S
    print(f'{mode:17s} {1e6 * t:7.1f} us/step  {B / t / 1e6:6.0f}M pairs/s  {B / pairs_per_token / t / 1e6:5.1f}M words/s')


if __name__ == '__main__':
  main()
