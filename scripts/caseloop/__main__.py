"""``python -m caseloop``: the same commands as the ``caseloop`` script."""

from caseloop.cli import main

main()
