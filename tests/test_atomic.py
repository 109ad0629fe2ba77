import os

import pytest

from jw2v.atomic import atomic_write


def test_failure_mid_write_keeps_the_old_file(tmp_path):
  path = tmp_path / 'vectors.txt'
  path.write_text('good old content')
  with pytest.raises(RuntimeError):
    with atomic_write(path, 'w', encoding='utf-8') as f:
      f.write('half of the new')
      raise RuntimeError('disk full')
  assert path.read_text() == 'good old content'
  assert [p.name for p in tmp_path.iterdir()] == ['vectors.txt']


def test_success_replaces_and_respects_umask(tmp_path):
  path = tmp_path / 'out.bin'
  old = os.umask(0o022)
  try:
    with atomic_write(path) as f:
      f.write(b'new')
  finally:
    os.umask(old)
  assert path.read_bytes() == b'new'
  assert path.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_names_the_file_it_was_for(tmp_path):
  path = tmp_path / 'vectors.bin'
  with pytest.raises(OSError) as raised:
    with atomic_write(path) as f:
      f.write(b'half')
      raise OSError(28, 'No space left on device')
  assert raised.value.errno == 28 and raised.value.filename == str(path) and not list(tmp_path.iterdir())
