import sys

from jw2v.cli import main

if __name__ == '__main__':
  sys.exit(main())
