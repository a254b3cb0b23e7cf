"""pyzk's test suite. Every folder is a package, so helpers are imported by their full name
(`from tests.servers import ServerProc`, `from tests.ensemble.launcher import Ensemble`) from the
repository root: pytest puts it on sys.path (pyproject's `pythonpath`), and the command-line tools
run as modules from there (`python -m tests.jepsen`, `python -m tests.fuzz.difffuzz`)."""
