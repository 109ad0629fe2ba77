"""Writes docs/cli.md, the command-line reference, from jw2v's parser: every subcommand's --help.

  python docs/cli_reference.py          # rewrite docs/cli.md
  python docs/cli_reference.py --check  # exit 1 if docs/cli.md is not what the parser gives

tests/test_docs.py checks that the page is current and names every flag of every subcommand.
"""

import argparse
import os
import sys
from pathlib import Path

PAGE = Path(__file__).with_name('cli.md')
INTRO = """# Command line

`jw2v COMMAND ...`, one subcommand per task. Errors in the arguments print the command's one-line usage and
the error, naming the flag meant (`--min_count`: did you mean `--min-count`?; word2vec.c's `-size`: `--dim`
here); flags are never abbreviated. Errors in the input (a missing corpus, an impossible setting, an
existing output) are one line and exit status 1, never a traceback.

This page is generated from the parser (`python docs/cli_reference.py`); a test keeps it current.
"""


def reference() -> str:
  """The page: the introduction, then each subcommand's help."""
  os.environ['COLUMNS'] = '100'  # argparse wraps the help to the terminal's width
  from jw2v.cli import build_parser
  parser = build_parser()
  sections = [INTRO]
  for name, command in parser.commands.items():
    sections.append(f'## jw2v {name}\n\n```text\n{command.format_help().rstrip()}\n```\n')
  return '\n'.join(sections)


def main() -> int:
  args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  args.add_argument('--check', action='store_true', help='only check that the page is current')
  check = args.parse_args().check
  page = reference()
  if check:
    current = PAGE.read_text(encoding='utf-8') == page
    print(f'{PAGE}: {"current" if current else "out of date: run python docs/cli_reference.py"}')
    return 0 if current else 1
  PAGE.write_text(page, encoding='utf-8')
  print(f'wrote {PAGE}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
