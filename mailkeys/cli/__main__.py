"""`python -m mailkeys.cli ...`, as the console script."""

import sys

from mailkeys.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
