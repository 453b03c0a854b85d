# `python -m kimera` is the command line; the one import of kimera.app from the foundation (an entry point).
from kimera.app.cli import main

main()
