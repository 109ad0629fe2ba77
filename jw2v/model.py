"""The pure model: the chapter's Embedding and Embedding Dot layers, and negative-sampling losses.

params = {'W_in': (V, H), 'W_out': (H, V)}, the shapes of *Deep Learning from Scratch 2*, ch. 4.
Losses are summed over the batch (per-example SGD semantics, so a learning rate means what it means in
word2vec.c).
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp


def init_params(key: jax.Array, vocab_size: int, dim: int, scale: float = 1.0, hs: bool = False) -> dict:
  """gensim 4's initialisation (scale 1.0); word2vec.c draws W_in half as wide (scale 0.5).

  Args:
    key: PRNG key.
    vocab_size: V.
    dim: H.
    scale: W_in is uniform in [-scale/H, scale/H).
    hs: also the inner nodes' vectors of hierarchical softmax, 'W_hs': (H, V - 1) zeros (word2vec.c's syn1).

  Returns:
    {'W_in': (V, H) uniform in [-scale/H, scale/H), 'W_out': (H, V) zeros}, float32.

  Examples:
    >>> import jax, jw2v
    >>> params = jw2v.init_params(jax.random.key(0), vocab_size=5, dim=3)
    >>> {name: table.shape for name, table in params.items()}
    {'W_in': (5, 3), 'W_out': (3, 5)}
  """
  W_in = jax.random.uniform(key, (vocab_size, dim), jnp.float32, -scale / dim, scale / dim)
  params = {'W_in': W_in, 'W_out': jnp.zeros((dim, vocab_size), jnp.float32)}
  if hs:
    params['W_hs'] = jnp.zeros((dim, vocab_size - 1), jnp.float32)
  return params


def extend_params(params: dict, vocab_size: int, *, key: jax.Array, scale: float = 1.0) -> dict:
  """Params grown to `vocab_size` words (`vocab.extend_vocab`): the old rows as they are, the new words'
  rows initialised as `init_params` initialises them (W_in uniform, W_out zeros).

  Raises:
    ValueError: vocab_size smaller than the params' vocabulary.
  """
  V, H = params['W_in'].shape
  if vocab_size < V:
    raise ValueError(f'cannot shrink params of {V} words to {vocab_size}')
  fresh = init_params(key, vocab_size - V, H, scale)
  return {'W_in': jnp.concatenate([jnp.asarray(params['W_in'], jnp.float32), fresh['W_in']]),
          'W_out': jnp.concatenate([jnp.asarray(params['W_out'], jnp.float32), fresh['W_out']], axis=1)}


def embedding(W_in: jax.Array, idx: jax.Array) -> jax.Array:
  """The Embedding layer: a one-hot row times W_in is the selected row, `W_in[idx]` (shape idx.shape + (H,)).

  Its gradient adds each row of the upstream gradient into the row it came from (`.at[idx].add`), so a
  repeated index receives the sum.

  Examples:
    >>> import jax, jax.numpy as jnp, jw2v
    >>> W_in = jnp.arange(6.0).reshape(3, 2)
    >>> jw2v.embedding(W_in, jnp.array([2, 0, 2]))
    Array([[4., 5.],
           [0., 1.],
           [4., 5.]], dtype=float32)
    >>> jax.grad(lambda W: jw2v.embedding(W, jnp.array([2, 0, 2])).sum())(W_in)
    Array([[1., 1.],
           [0., 0.],
           [2., 2.]], dtype=float32)
  """
  return W_in[idx]


def embedding_dot(W_out: jax.Array, h: jax.Array, target: jax.Array) -> jax.Array:
  """The Embedding Dot layer: score of `target` given hidden vector `h`, touching only the target's column.

  Args:
    W_out: (H, V).
    h: (..., H), broadcast against the target's vectors.
    target: int ids of shape (...).

  Returns:
    `sum(h * W_out.T[target], -1)`.

  Examples:
    >>> import jax.numpy as jnp, jw2v
    >>> W_out = jnp.array([[1.0, 0.0, 2.0], [0.0, 1.0, 1.0]])  # H = 2, V = 3
    >>> jw2v.embedding_dot(W_out, jnp.array([[1.0, 2.0], [3.0, 4.0]]), jnp.array([2, 0]))
    Array([4., 3.], dtype=float32)
  """
  return jnp.sum(h * W_out.T[target], axis=-1)


def logistic_loss(scores_BxJ: jax.Array, weight_BxJ: jax.Array, positives: int,
                  weight_B: Optional[jax.Array] = None) -> jax.Array:
  """Binary logistic loss of J scores per example, the first `positives` of them positive targets and the
  rest negatives, summed over the batch: the form every negative-sampling loss here takes.

  Args:
    scores_BxJ: scores (h . output vector) of the positive targets, then of the negatives.
    weight_BxJ: weight of each score (0 for a padding slot or a skipped negative).
    positives: how many of the J scores are positive targets.
    weight_B: optional per-example weight (0 for padding).

  Returns:
    Scalar `sum_b w_b * -sum_j weight_bj * log sigmoid(+-score_bj)`, + for positives and - for negatives.
  """
  sign_J = jnp.where(jnp.arange(scores_BxJ.shape[-1]) < positives, 1.0, -1.0).astype(scores_BxJ.dtype)
  loss_B = -jnp.sum(weight_BxJ * jax.nn.log_sigmoid(sign_J * scores_BxJ), axis=-1)
  if weight_B is not None:
    loss_B = loss_B * weight_B
  return jnp.sum(loss_B)


def negative_sampling_loss(pos_B: jax.Array, neg_BxK: jax.Array, neg_mask_BxK: jax.Array,
                           weight_B: Optional[jax.Array] = None) -> jax.Array:
  """Binary logistic loss of one positive and K negative scores per example, summed over the batch.

  Args:
    pos_B: scores of the positive targets.
    neg_BxK: scores of the negatives.
    neg_mask_BxK: 1 where a negative counts, 0 where it equals the positive target (word2vec.c skips it).
    weight_B: optional per-example weight (0 for padding).

  Returns:
    Scalar `sum_b w_b * (-log sigmoid(pos_b) - sum_k mask_bk * log sigmoid(-neg_bk))`.
  """
  return logistic_loss(jnp.concatenate([pos_B[..., None], neg_BxK], axis=-1),
                       jnp.concatenate([jnp.ones_like(pos_B[..., None]), neg_mask_BxK], axis=-1), 1, weight_B)


def hs_loss(h_BxH: jax.Array, W_hs: jax.Array, points_BxD: jax.Array, codes_BxD: jax.Array, mask_BxD: jax.Array,
            weight_B: Optional[jax.Array] = None) -> jax.Array:
  """Hierarchical softmax: the binary choices down each target's path of the Huffman tree.

  Args:
    h_BxH: hidden vectors.
    W_hs: (H, V - 1) the inner nodes' vectors.
    points_BxD: each target's inner nodes, root first (`vocab.HuffmanTree.points_VxD`, rows of the targets).
    codes_BxD: each target's branches, 0 or 1 (`HuffmanTree.codes_VxD`).
    mask_BxD: 1 on each target's path, 0 past its end (`HuffmanTree.mask_VxD`).
    weight_B: optional per-example weight (0 for padding).

  Returns:
    Scalar `sum_b w_b * -sum_d live_bd * log sigmoid((1 - 2 code_bd) * s_bd)`, s_bd = h_b . W_hs[:, point_bd]:
    word2vec.c trains each node towards 1 - code. A node whose score is beyond +-MAX_EXP is left out
    (live_bd = mask_bd * (|s_bd| < MAX_EXP), a constant of the loss), as word2vec.c and gensim skip it.
  """
  return hs_logistic_loss(embedding_dot(W_hs, h_BxH[:, None, :], points_BxD), codes_BxD, mask_BxD, weight_B)


MAX_EXP = 6.0  # word2vec.c's and gensim's: hierarchical softmax skips a node scored beyond +-MAX_EXP


def hs_live(scores_BxD: jax.Array, mask_BxD: jax.Array) -> jax.Array:
  """The path nodes that hierarchical softmax trains: on the path and scored within +-MAX_EXP (a constant
  of the loss: no gradient flows through it)."""
  return mask_BxD * (jnp.abs(jax.lax.stop_gradient(scores_BxD)) < MAX_EXP)


def hs_logistic_loss(scores_BxD: jax.Array, codes_BxD: jax.Array, mask_BxD: jax.Array,
                     weight_B: Optional[jax.Array] = None) -> jax.Array:
  """`hs_loss` from the scores of the paths' inner nodes: each live node trained towards 1 - code."""
  live_BxD = hs_live(scores_BxD, mask_BxD)
  loss_B = -jnp.sum(live_BxD * jax.nn.log_sigmoid((1.0 - 2.0 * codes_BxD) * scores_BxD), axis=-1)
  if weight_B is not None:
    loss_B = loss_B * weight_B
  return jnp.sum(loss_B)


def _output_loss(params: dict, h_BxH: jax.Array, target_B: jax.Array, negatives_BxK: jax.Array,
                 weight_B: Optional[jax.Array], tree) -> jax.Array:
  """The output layer's loss for h against the targets: negative sampling (when K > 0) and hierarchical
  softmax (when a tree is given), summed."""
  loss = 0.0
  if negatives_BxK.shape[-1]:
    pos_B = embedding_dot(params['W_out'], h_BxH, target_B)
    neg_BxK = embedding_dot(params['W_out'], h_BxH[:, None, :], negatives_BxK)
    neg_mask = (negatives_BxK != target_B[:, None]).astype(h_BxH.dtype)
    loss = negative_sampling_loss(pos_B, neg_BxK, neg_mask, weight_B)
  if tree is not None:
    loss = loss + hs_loss(h_BxH, params['W_hs'], tree.points_VxD[target_B], tree.codes_VxD[target_B],
                          tree.mask_VxD[target_B], weight_B)
  return loss


def shared_negative_weights(contexts_BxC: jax.Array, mask_BxC: jax.Array, negatives_BxN: jax.Array,
                            negative: int) -> jax.Array:
  """Weight of each shared negative of a centre: `negative / N` for every real pair of the centre whose
  context is not that negative (word2vec.c skips a negative equal to the positive target); (B, N)."""
  same_BxCxN = (contexts_BxC[:, :, None] == negatives_BxN[:, None, :]).astype(mask_BxC.dtype)
  serves_BxN = jnp.sum(mask_BxC, axis=-1, keepdims=True) - jnp.einsum('bc,bcn->bn', mask_BxC, same_BxCxN)
  return serves_BxN * (negative / negatives_BxN.shape[-1])


def shared_negative_sampling_loss(pos_BxC: jax.Array, mask_BxC: jax.Array, neg_BxN: jax.Array,
                                  neg_weight_BxN: jax.Array, weight_B: Optional[jax.Array] = None) -> jax.Array:
  """Logistic loss of a centre's positive scores (one per real context slot) and its shared negatives' scores.

  Returns:
    Scalar `sum_b w_b * (-sum_c mask_bc * log sigmoid(pos_bc) - sum_n neg_weight_bn * log sigmoid(-neg_bn))`.
  """
  return logistic_loss(jnp.concatenate([pos_BxC, neg_BxN], axis=-1),
                       jnp.concatenate([mask_BxC, neg_weight_BxN], axis=-1), pos_BxC.shape[-1], weight_B)


def skipgram_shared_loss(params: dict, contexts_BxC: jax.Array, mask_BxC: jax.Array, center_B: jax.Array,
                         negatives_BxN: jax.Array, negative: int, weight_B: Optional[jax.Array] = None) -> jax.Array:
  """Skip-gram with each centre's negatives shared by its pairs (`Config.centre_negatives`).

  The positives are those of `skipgram_loss` (h = W_in[centre], one per real context slot); instead of
  `negative` fresh negatives per pair, the centre's N negatives serve all of its pairs, each weighted
  `negative / N` per pair (`shared_negative_weights`): the same expected update, far fewer rows touched.

  Args:
    params: {'W_in': (V, H), 'W_out': (H, V)}.
    contexts_BxC: context word ids of each centre (C slots; padding slots hold any valid id).
    mask_BxC: 1 for real context slots, 0 for padding.
    center_B: centre word ids.
    negatives_BxN: each centre's shared negative ids.
    negative: negatives per pair that the weights stand for (`Config.negative`).
    weight_B: optional per-centre weight (0 for padding).

  Returns:
    The loss summed over the batch.
  """
  h_BxH = embedding(params['W_in'], center_B)
  pos_BxC = embedding_dot(params['W_out'], h_BxH[:, None, :], contexts_BxC)
  neg_BxN = embedding_dot(params['W_out'], h_BxH[:, None, :], negatives_BxN)
  mask_BxC = mask_BxC.astype(h_BxH.dtype)
  return shared_negative_sampling_loss(pos_BxC, mask_BxC, neg_BxN,
                                       shared_negative_weights(contexts_BxC, mask_BxC, negatives_BxN, negative),
                                       weight_B)


def cbow_hidden(W_in: jax.Array, contexts_BxC: jax.Array, mask_BxC: jax.Array, mean: bool = True) -> jax.Array:
  """Mean (or with `mean=False` the sum, gensim's cbow_mean=0) of the context rows of W_in over the real
  (unmasked) slots; (B, H)."""
  mask_BxC = mask_BxC.astype(W_in.dtype)
  total_BxH = jnp.einsum('bch,bc->bh', embedding(W_in, contexts_BxC), mask_BxC)
  if not mean:
    return total_BxH
  return total_BxH / jnp.maximum(jnp.sum(mask_BxC, axis=-1, keepdims=True), 1.0)


def skipgram_loss(params: dict, center_B: jax.Array, context_B: jax.Array, negatives_BxK: jax.Array,
                  weight_B: Optional[jax.Array] = None, tree=None) -> jax.Array:
  """Skip-gram with negative sampling: h = W_in[centre], positive target = context word.

  Args:
    params: {'W_in': (V, H), 'W_out': (H, V)} (and 'W_hs' with a tree).
    center_B: centre word ids.
    context_B: context word ids (the positive targets).
    negatives_BxK: negative word ids (K = 0: no negative sampling).
    weight_B: optional per-example weight (0 for padding).
    tree: a `vocab.HuffmanTree` (of arrays) to add hierarchical softmax (`hs_loss`).

  Returns:
    The loss summed over the batch.
  """
  h_BxH = embedding(params['W_in'], center_B)
  return _output_loss(params, h_BxH, context_B, negatives_BxK, weight_B, tree)


def cbow_loss(params: dict, contexts_BxC: jax.Array, mask_BxC: jax.Array, center_B: jax.Array,
              negatives_BxK: jax.Array, weight_B: Optional[jax.Array] = None, mean: bool = True,
              tree=None) -> jax.Array:
  """CBOW with negative sampling: h = mean (or sum) of the context rows, positive target = centre word.

  Args:
    params: {'W_in': (V, H), 'W_out': (H, V)} (and 'W_hs' with a tree).
    contexts_BxC: context word ids (C slots; padding slots hold any valid id).
    mask_BxC: 1 for real context slots, 0 for padding.
    center_B: centre word ids (the positive targets).
    negatives_BxK: negative word ids (K = 0: no negative sampling).
    weight_B: optional per-example weight (0 for padding).
    mean: h is the mean of the context rows (word2vec.c); False: their sum (gensim's cbow_mean=0).
    tree: a `vocab.HuffmanTree` (of arrays) to add hierarchical softmax (`hs_loss`).

  Returns:
    The loss summed over the batch.
  """
  h_BxH = cbow_hidden(params['W_in'], contexts_BxC, mask_BxC, mean)
  return _output_loss(params, h_BxH, center_B, negatives_BxK, weight_B, tree)
