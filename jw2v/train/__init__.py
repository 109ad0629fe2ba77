"""Training: states, steps, dispatches of several steps, the feed of examples, and the loop.

Modules, each importing only those before it: `state` (the two states, checkpoints, initialisation),
`memory` (what a run takes per device), `rows` (gathers and scatter-adds), `steps` (one update from one
batch), `dispatch` (several steps per jitted call), `feed` (blocks -> examples, ahead of the steps),
`loop` (`train`), `sweep` (`train_many`).
"""

from jw2v.train.state import (Checkpoint, SparseState, TrainState, host_state, init_state, initial_state,
                              learning_rate_schedule, make_optimizer, params_of, place, run_keys)
from jw2v.train.memory import MemoryEstimate, memory_estimate, size_text
from jw2v.train.rows import RowAccess
from jw2v.train.steps import cbow_step, make_step, reference_step, shared_negatives_step, skipgram_step
from jw2v.train.dispatch import compiler_options, make_multi_step, make_sweep_step
from jw2v.train.loop import (RUNAWAY, DivergenceError, TrainingStopped, TrainResult, runaway_step, train,
                             untrained_loss)
from jw2v.train.sweep import SWEEPABLE, train_many

__all__ = [
    'Checkpoint', 'SparseState', 'TrainState', 'host_state', 'init_state', 'initial_state',
    'learning_rate_schedule', 'make_optimizer', 'params_of', 'place', 'run_keys', 'MemoryEstimate',
    'memory_estimate', 'size_text', 'RowAccess', 'cbow_step', 'make_step', 'reference_step',
    'shared_negatives_step', 'skipgram_step', 'compiler_options', 'make_multi_step', 'make_sweep_step', 'RUNAWAY',
    'DivergenceError', 'TrainingStopped', 'TrainResult', 'runaway_step', 'train', 'untrained_loss', 'SWEEPABLE',
    'train_many',
]
