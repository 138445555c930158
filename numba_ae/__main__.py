"""``python -m numba_ae ...``: see :mod:`numba_ae.cli`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
