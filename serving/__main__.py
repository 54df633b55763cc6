"""``python -m serving`` is the ``ocs`` command."""

from serving.cli import main

main()
