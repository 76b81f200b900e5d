"""`python -m divtui`: the same command line as the `divtui` script."""

from divtui.cli import main

main()
