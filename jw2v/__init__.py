"""jw2v: word2vec (CBOW and skip-gram with negative sampling) as pure JAX functions.

The modules, in layers: each imports only modules of the layers before it (tests/test_layers.py checks).
From the bottom: errors and small helpers; the configuration; the data (vocabulary, corpus, batches); the
model's pure losses and their hand-derived gradients; devices; the training package; checkpoints; word
vectors and their evaluation; a training job's files and the job itself; the command line.
"""

LAYERS = (
    'errors', 'atomic', 'collector', 'allocator',
    'config',
    'vocab', 'corpus', 'phrases', 'batches',
    'model', 'grads',
    'devices', 'distributed',
    'train.state', 'train.memory', 'train.rows', 'train.steps', 'train.dispatch', 'train.feed', 'train.loop',
    'train.sweep', 'train',
    'checkpoint',
    'word2vec_format', 'vectors', 'classes', 'evaluate', 'predict', 'plots',
    'run_dir', 'run',
    'cli', '__main__',
)

from jw2v.allocator import keep_freed_memory
from jw2v.batches import CbowBatch, Noise, SkipgramBatch, draw_negatives, noise, step_negatives
from jw2v.classes import save_classes, word_classes
from jw2v.checkpoint import load_checkpoint, restore_checkpoint, save_checkpoint
from jw2v.config import Config
from jw2v.corpus import (Corpus, Prepared, encode, load_corpus, open_prepared, prepare_corpus, read_text,
                         resolve_corpus, synthetic_corpus)
from jw2v.evaluate import AnalogyResult, WordPairsResult, evaluate_word_analogies, evaluate_word_pairs, standard_set
from jw2v.errors import ConfigError, DataError, Jw2vError, OutputExistsError, UnknownWordError
from jw2v.grads import cbow_grads, skipgram_grads
from jw2v.model import (cbow_loss, embedding, embedding_dot, extend_params, init_params, logistic_loss, negative_sampling_loss,
                        skipgram_loss, skipgram_shared_loss)
from jw2v.phrases import phrases
from jw2v.predict import predict_output_word
from jw2v.run import JobStopped, resume_job, train_job
from jw2v.run_dir import Run, load_run, save_run
from jw2v.train import (Checkpoint, DivergenceError, SparseState, TrainingStopped, TrainResult, TrainState,
                        cbow_step, init_state, make_multi_step, make_step, make_sweep_step, params_of,
                        reference_step, shared_negatives_step, skipgram_step, train, train_many)
from jw2v.vectors import WordVectors, load_word2vec, save_word2vec
from jw2v.vocab import Vocab, build_vocab, extend_vocab, keep_probabilities, noise_alias, noise_cdf

__version__ = '0.1.0'

__all__ = [
    'AnalogyResult', 'WordPairsResult', 'evaluate_word_analogies', 'evaluate_word_pairs', 'standard_set',
    'JobStopped', 'resume_job', 'train_job', 'predict_output_word', 'phrases',
    'Checkpoint', 'DivergenceError', 'TrainingStopped', 'load_checkpoint', 'restore_checkpoint', 'save_checkpoint',
    'CbowBatch', 'Config', 'Prepared', 'open_prepared', 'prepare_corpus', 'ConfigError', 'Corpus', 'DataError', 'Jw2vError', 'OutputExistsError', 'Run',
    'SkipgramBatch', 'SparseState', 'TrainResult', 'TrainState', 'UnknownWordError', 'Vocab', 'WordVectors',
    'build_vocab', 'extend_params', 'extend_vocab', 'cbow_grads', 'cbow_loss', 'draw_negatives', 'embedding', 'embedding_dot', 'encode',
    'init_params', 'init_state', 'keep_freed_memory', 'keep_probabilities', 'load_corpus', 'load_run', 'load_word2vec',
    'logistic_loss', 'make_multi_step', 'make_step', 'negative_sampling_loss', 'Noise', 'noise', 'noise_alias', 'noise_cdf', 'params_of', 'read_text',
    'reference_step', 'resolve_corpus', 'save_run', 'save_word2vec', 'skipgram_grads', 'skipgram_loss',
    'skipgram_shared_loss', 'save_classes', 'word_classes',
    'cbow_step', 'make_sweep_step', 'shared_negatives_step', 'skipgram_step', 'step_negatives', 'synthetic_corpus', 'train', 'train_many',
]
