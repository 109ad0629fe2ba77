"""The README and the documentation site: short, current, and every example in them runs."""

import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import jw2v

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / 'README.md', *sorted((ROOT / 'docs').glob('*.md'))]
BLOCK = re.compile(r'(?:<!-- not run: (?P<why>[^>]+) -->\n)?```(?P<lang>python|bash)\n(?P<code>.*?)```', re.S)


def _cli_reference():
  spec = importlib.util.spec_from_file_location('cli_reference', ROOT / 'docs' / 'cli_reference.py')
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_the_readme_is_short():
  assert len((ROOT / 'README.md').read_text(encoding='utf-8').splitlines()) <= 200


def test_every_public_name_has_a_docstring():
  missing = [name for name in jw2v.__all__ if not inspect.getdoc(getattr(jw2v, name))]
  assert not missing, missing


def test_the_cli_reference_is_current_and_names_every_flag():
  module = _cli_reference()
  page = (ROOT / 'docs' / 'cli.md').read_text(encoding='utf-8')
  assert page == module.reference(), 'docs/cli.md is out of date: run python docs/cli_reference.py'
  from jw2v.cli import _options, build_parser
  for name, command in build_parser().commands.items():
    section = page.split(f'## jw2v {name}\n', 1)[1].split('\n## ', 1)[0]
    for action in _options(command):
      for flag in action.option_strings:
        assert re.search(rf'(?<![\w-]){re.escape(flag)}(?![\w-])', section), (name, flag)


def _blocks(page: Path):
  return [(m['lang'], m['code'], m['why']) for m in BLOCK.finditer(page.read_text(encoding='utf-8'))]


def test_every_block_that_is_not_run_says_why():
  for page in PAGES:
    for lang, code, why in _blocks(page):
      assert why is None or len(why.split()) >= 3, (page.name, code[:60])
  skipped = [page.name for page in PAGES for _, _, why in _blocks(page) if why]
  assert len(skipped) <= 5, skipped  # a few: installing, the test run itself, the 35-minute matrix, other hosts


@pytest.mark.parametrize('page', PAGES, ids=lambda p: p.name)
def test_the_examples_run(page, tmp_path, monkeypatch):
  """Each page's python and bash blocks, in order, in a fresh directory (python blocks share one namespace);
  JW2V_DATA_DIR=../shared/data there reaches the data the tests use."""
  blocks = [(lang, code) for lang, code, why in _blocks(page) if why is None]
  if not blocks:
    pytest.skip('no examples')
  data = os.environ.get('JW2V_DATA_DIR')
  if not data or not (Path(data) / 'ptb' / 'ptb.train.txt').is_file():
    pytest.skip('the examples read PTB from JW2V_DATA_DIR')
  (tmp_path / 'shared').mkdir()
  (tmp_path / 'shared' / 'data').symlink_to(Path(data).resolve())
  work = tmp_path / 'work'
  work.mkdir()
  monkeypatch.chdir(work)
  env = dict(os.environ, PATH=f'{Path(sys.executable).parent}{os.pathsep}{os.environ["PATH"]}')
  namespace = {'__name__': f'docs_{page.stem}'}
  for lang, code in blocks:
    if lang == 'python':
      exec(compile(code, f'{page.name} example', 'exec'), namespace)
    else:
      done = subprocess.run(['bash', '-e', '-o', 'pipefail', '-c', code], capture_output=True, text=True,
                            timeout=600, env=env, cwd=work)
      assert done.returncode == 0, f'{page.name}:\n{code}\n{done.stderr[-3000:]}'
      assert 'Traceback' not in done.stderr, done.stderr[-3000:]
