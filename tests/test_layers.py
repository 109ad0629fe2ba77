"""The package's layer order (`jw2v.LAYERS`): every import between jw2v's modules, those inside functions
included, goes from a module to one of an earlier layer, so the import graph has no cycles."""

import ast
from pathlib import Path

import jw2v

PACKAGE = Path(jw2v.__file__).parent


def _module_name(path: Path) -> str:
  parts = path.relative_to(PACKAGE).with_suffix('').parts
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _is_module(dotted: str) -> bool:
  path = PACKAGE.joinpath(*dotted.split('.')[1:])
  return path.with_suffix('.py').is_file() or (path / '__init__.py').is_file()


def _jw2v_imports(path: Path) -> set:
  """The jw2v modules a file imports (names relative to the package; '' is the package itself)."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names if alias.name.split('.')[0] == 'jw2v')
    elif isinstance(node, ast.ImportFrom) and node.module and node.module.split('.')[0] == 'jw2v':
      for alias in node.names:  # `from jw2v.train import feed` imports the module jw2v.train.feed
        sub = f'{node.module}.{alias.name}'
        found.add(sub if _is_module(sub) else node.module)
  return {name.removeprefix('jw2v').lstrip('.') for name in found}


def test_every_module_has_a_layer():
  modules = {_module_name(p) for p in PACKAGE.rglob('*.py')} - {''}
  assert modules == set(jw2v.LAYERS)


def test_modules_import_only_earlier_layers():
  layer = {name: i for i, name in enumerate(jw2v.LAYERS)}
  upward = []
  for path in sorted(PACKAGE.rglob('*.py')):
    name = _module_name(path)
    if name == '':
      continue  # the package re-exports the public API: it is above every module
    for imported in _jw2v_imports(path) - {name}:
      if imported == '' or layer[imported] >= layer[name]:
        upward.append(f'{name} imports {imported or "jw2v"}')
  assert upward == []


def test_the_check_sees_imports_inside_functions(tmp_path):
  probe = tmp_path / 'probe.py'
  probe.write_text('def f():\n  from jw2v.train import loop\n  import jw2v.cli\n', encoding='utf-8')
  assert _jw2v_imports(probe) == {'train.loop', 'cli'}


def test_functions_are_short_and_never_rebind_names_of_the_function_around_them():
  long, rebinding = [], []
  for path in sorted(PACKAGE.rglob('*.py')):
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 80:
        long.append(f'{_module_name(path)}.{node.name}: {node.end_lineno - node.lineno + 1} lines')
      if isinstance(node, (ast.Nonlocal, ast.Global)):
        rebinding.append(f'{_module_name(path)}:{node.lineno}')
  assert long == [] and rebinding == []
