"""Rows of the tables: gathers and scatter-adds, on one device or across a mesh axis.

The sparse path touches only the rows of a batch's words. `RowAccess` says how a step reaches them: on
one device, or inside `shard_map` over a mesh axis with the tables replicated or split by rows along it.
Repeated indices are always summed, and indices past a table are dropped (`only_real` uses that for
padding slots).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp

from jw2v.model import embedding


class RowAccess(NamedTuple):
  """How a step reaches the rows of its tables.

  Attributes:
    axis: inside `shard_map` over this mesh axis, each device holding a share of the batch; None: one device.
    sharded_rows: with `axis`, the tables are split by rows along it, this many rows per device; None: every
      device holds whole tables.
  """
  axis: Optional[str] = None
  sharded_rows: Optional[int] = None

  def gather(self, table: jax.Array, idx: jax.Array) -> jax.Array:
    """`table[idx]` (shape idx.shape + (H,)), also when the table is split by rows.

    Split tables: every device's indices are gathered; each device looks up the rows it holds (zeros for
    the others), and a sum-scatter hands each device the rows of its own indices. Traffic is proportional
    to the batch, not to the vocabulary.
    """
    if self.sharded_rows is None:
      return embedding(table, idx)
    every = jax.lax.all_gather(idx.reshape(-1), self.axis, tiled=True)
    local = every - jax.lax.axis_index(self.axis) * self.sharded_rows
    held = (local >= 0) & (local < self.sharded_rows)
    found = jnp.where(held[:, None], table[jnp.clip(local, 0, self.sharded_rows - 1)], 0.0)
    return jax.lax.psum_scatter(found, self.axis, scatter_dimension=0, tiled=True).reshape(
        idx.shape + table.shape[1:])

  def add(self, table: jax.Array, idx: jax.Array, updates: jax.Array) -> jax.Array:
    """`table.at[idx].add(updates)` with every device's updates.

    On a mesh axis all devices' (index, update) pairs are gathered and each device adds them to its copy
    of the table, or, when split, the ones for the rows it holds.
    """
    idx, updates = idx.reshape(-1), updates.reshape(-1, updates.shape[-1])
    if self.axis is None:
      return table.at[idx].add(updates, mode='drop')
    idx = jax.lax.all_gather(idx, self.axis, tiled=True)
    updates = jax.lax.all_gather(updates, self.axis, tiled=True)
    if self.sharded_rows is None:
      return table.at[idx].add(updates, mode='drop')
    local = idx - jax.lax.axis_index(self.axis) * self.sharded_rows
    local = jnp.where((local >= 0) & (local < self.sharded_rows), local, self.sharded_rows)  # others' rows: dropped
    return table.at[local].add(updates, mode='drop')

  def masked_sum(self, table: jax.Array, idx_BxC: jax.Array, mask_BxC: jax.Array) -> jax.Array:
    """sum_c mask[b, c] * table[idx[b, c]]: (B, H)."""
    if self.sharded_rows is None:
      return masked_row_sum(table, idx_BxC, mask_BxC)
    return jnp.einsum('bch,bc->bh', self.gather(table, idx_BxC), mask_BxC)

  def add_by_slot(self, table: jax.Array, idx_BxC: jax.Array, updates_BxH: jax.Array,
                  share_BxC: Optional[jax.Array] = None) -> jax.Array:
    """table.at[idx[b, c]].add(share[b, c] * updates[b]) over all slots c (share None: 1)."""
    if self.axis is None:
      return add_rows_by_slot(table, idx_BxC, updates_BxH, share_BxC)
    if share_BxC is None:
      return self.add(table, idx_BxC, jnp.broadcast_to(updates_BxH[:, None, :], idx_BxC.shape + updates_BxH.shape[1:]))
    return self.add(table, idx_BxC, share_BxC[:, :, None] * updates_BxH[:, None, :])

  def psum(self, x: jax.Array) -> jax.Array:
    """`x` summed over the mesh axis (itself on one device)."""
    return x if self.axis is None else jax.lax.psum(x, self.axis)


# A loop over the slots gathers (or scatters) B rows at a time straight from (into) the table, instead of
# first copying out all B * C rows (or building B * C update rows) in memory. A Python-unrolled sum would
# be fused by XLA into every consumer of the sum and recomputed there.
def masked_row_sum(table: jax.Array, idx_BxC: jax.Array, mask_BxC: jax.Array) -> jax.Array:
  """sum_c mask[b, c] * table[idx[b, c]]: (B, H), one slot c at a time."""
  def add_slot(c, total_BxH):
    idx_B = jax.lax.dynamic_index_in_dim(idx_BxC, c, axis=1, keepdims=False)
    mask_Bx1 = jax.lax.dynamic_index_in_dim(mask_BxC, c, axis=1, keepdims=True)
    return total_BxH + table[idx_B] * mask_Bx1
  zeros_BxH = jnp.zeros(idx_BxC.shape[:1] + table.shape[1:], table.dtype)
  return jax.lax.fori_loop(0, idx_BxC.shape[1], add_slot, zeros_BxH, unroll=5)


def add_rows_by_slot(table: jax.Array, idx_BxC: jax.Array, updates_BxH: jax.Array,
                     share_BxC: Optional[jax.Array] = None) -> jax.Array:
  """table.at[idx[b, c]].add(share[b, c] * updates[b]) over all slots c (share None: 1), one slot at a time;
  repeated rows summed and indices past the table dropped."""
  def add_slot(c, table):
    idx_B = jax.lax.dynamic_index_in_dim(idx_BxC, c, axis=1, keepdims=False)
    if share_BxC is None:
      return table.at[idx_B].add(updates_BxH, mode='drop')
    share_Bx1 = jax.lax.dynamic_index_in_dim(share_BxC, c, axis=1, keepdims=True)
    return table.at[idx_B].add(share_Bx1 * updates_BxH, mode='drop')
  return jax.lax.fori_loop(0, idx_BxC.shape[1], add_slot, table)


def only_real(idx: jax.Array, mask: jax.Array) -> jax.Array:
  """Scatter indices with the padding slots (mask 0) pointed past every table, so that a scatter drops
  their (zero) updates instead of adding them to row 0."""
  return jnp.where(mask > 0, idx, jnp.iinfo(jnp.int32).max)
