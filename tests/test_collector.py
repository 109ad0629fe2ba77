import gc

import pytest

from jw2v import collector


def test_paused_turns_the_collector_off_and_back_on():
  assert gc.isenabled()
  with collector.paused():
    assert not gc.isenabled()
  assert gc.isenabled()
  with pytest.raises(ValueError):
    with collector.paused():
      raise ValueError('boom')
  assert gc.isenabled()


def test_resume_turns_it_back_on_early_and_only_once():
  with collector.paused() as resume:
    resume()
    assert gc.isenabled()
    gc.disable()  # someone else's choice after the resume is not undone by a second one, nor by the exit
    resume()
    assert not gc.isenabled()
  assert not gc.isenabled()
  gc.enable()


def test_a_collector_that_was_off_stays_off():
  gc.disable()
  try:
    with collector.paused() as resume:
      resume()
      assert not gc.isenabled()
    assert not gc.isenabled()
  finally:
    gc.enable()
