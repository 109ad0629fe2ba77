import sys

from jw2v.cli import main

sys.exit(main())
