"""Build pyzk's request path with mypyc into a tree of its own: `python -m pyzk.tools.compiled`.

pyzk is pure Python; on one core its per-request CPU bounds its throughput (issue 17). mypyc
compiles type-annotated modules to C extensions with the same behaviour, which cuts that CPU
(bench/README.md, "Compiled build"). The build is opt-in (`PYZK_COMPILED=1 bash scripts/run.sh`)
and never touches the checkout: it copies `pyzk/` to a temporary directory, compiles MODULES
there and installs the result as OUT/pyzk (plain .py for the rest) plus mypyc's shared library
in OUT. A server started with OUT first on PYTHONPATH (and `python -P`, so the checkout in the
current directory does not shadow it) runs the compiled modules.

OUT/STAMP holds a digest of every pyzk source file, the Python and the mypy version: the build
is redone when any of them changes, so a stale compiled module never runs edited code's place.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

# The request path as the profiles show it (bench/README.md): connection handling, prep,
# group commit and the txn log, apply, replies, sessions and stats.
MODULES = (
    "pyzk/tree/acl.py", "pyzk/tree/acl_cache.py", "pyzk/tree/datatree.py", "pyzk/tree/digest.py",
    "pyzk/tree/paths.py", "pyzk/tree/quota.py", "pyzk/tree/txnapply.py", "pyzk/tree/watches.py", "pyzk/tree/znode.py",
    "pyzk/pipeline/changes.py", "pyzk/pipeline/final.py", "pyzk/pipeline/local.py",
    "pyzk/pipeline/prep.py", "pyzk/pipeline/request.py", "pyzk/pipeline/sync_policy.py",
    "pyzk/session/tracker.py",
    "pyzk/server/connection.py", "pyzk/server/zkserver.py", "pyzk/server/group_commit.py",
    "pyzk/server/output.py", "pyzk/server/pending.py", "pyzk/server/persistence.py",
    "pyzk/server/stats.py", "pyzk/metric_values.py",
    "pyzk/server/write_path.py",
    # Subclass compiled classes (an interpreted class cannot: interpreted_subclasses):
    "pyzk/server/tls.py", "pyzk/server/readonly.py", "pyzk/server/workers/report.py",
    "pyzk/storage/logfile.py", "pyzk/storage/txnlog.py",
    "pyzk/protocol/framing.py", "pyzk/protocol/multi.py", "pyzk/protocol/connect.py",
    # The ensemble's write path: the ZAB cores, quorum packets and the leader/learner hosts.
    "pyzk/zab/database.py", "pyzk/zab/leader.py", "pyzk/zab/leader_actions.py",
    "pyzk/zab/learner.py", "pyzk/zab/observer_master.py", "pyzk/zab/packets.py",
    "pyzk/zab/peer_timing.py", "pyzk/zab/reconfig.py", "pyzk/zab/sync.py", "pyzk/zab/vote.py",
    "pyzk/zab/zxid.py",
    "pyzk/server/leader_host.py", "pyzk/server/learner_host.py", "pyzk/server/learner_conn.py",
    "pyzk/server/learner_requests.py", "pyzk/server/replication.py",
    "pyzk/server/forwarding.py", "pyzk/server/quorum_net.py",
    "pyzk/server/observer_master_host.py", "pyzk/server/workers/worker_host.py",
)
# On the request path but left interpreted, and why (mypy 2.4.1's mypyc).
LEFT_INTERPRETED = {
    "pyzk/protocol/jute.py": "records are generated at import time with exec; compiled, "
                             "record() fails (UnboundLocalError), and the generated codecs "
                             "run interpreted either way",
    "pyzk/protocol/records.py": "the records jute.py generates",
    "pyzk/zab/quorum.py": "VoterSet subclasses frozenset, which mypyc does not compile; an "
                          "ACK's quorum check is a set lookup there",
}
# Three shared libraries (mypyc's separate groups), compiled by gcc in parallel: the request
# path's cores, the hosts, and ZAB. One library would take one core for the whole build.
GROUPS = {"pyzk_core": ("pyzk/tree/", "pyzk/pipeline/", "pyzk/session/", "pyzk/protocol/",
                        "pyzk/storage/", "pyzk/metric_values.py"),
          "pyzk_host": ("pyzk/server/",),
          "pyzk_zab": ("pyzk/zab/",)}


def setup_script() -> str:
    """A setup.py that builds MODULES in GROUPS with mypyc (opt level 3, mypyc's default)."""
    groups = [([m for m in MODULES if m.startswith(prefixes)], name)
              for name, prefixes in GROUPS.items()]
    assert sum(len(g) for g, _ in groups) == len(MODULES), "a module outside GROUPS"
    return ("from setuptools import setup\n"
            "from mypyc.build import mypycify\n"
            f"setup(name='pyzk_compiled', ext_modules=mypycify({list(MODULES)!r}, "
            f"opt_level='3', separate={groups!r}))\n")


# mypyc reads mypy's options; the project's own (pyproject.toml) are not in the copy.
MYPY_INI = "[mypy]\npython_version = 3.11\nignore_missing_imports = True\n"
STAMP = "STAMP"


def interpreted_subclasses(repo: Path) -> list[str]:
    """Classes outside MODULES (pyzk, tests, bench) whose base a compiled module defines:
    compiled, such a class fails with "interpreted classes cannot inherit from compiled"."""
    compiled_classes: set[str] = set()
    for module in MODULES:
        tree = ast.parse((repo / module).read_text())
        compiled_classes |= {n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}
    found: list[str] = []
    for top in ("pyzk", "tests", "bench"):
        for path in sorted((repo / top).rglob("*.py")):
            rel = str(path.relative_to(repo))
            if rel in MODULES:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if not isinstance(node, ast.ClassDef):
                    continue
                for base in node.bases:
                    name = base.attr if isinstance(base, ast.Attribute) else (
                        base.id if isinstance(base, ast.Name) else "")
                    if name in compiled_classes:
                        found.append(f"{rel}: {node.name}({name})")
    return found


def source_digest(package: Path) -> str:
    """Every .py under `package` (path and bytes), the Python and the mypy version."""
    h = hashlib.sha256()
    h.update(sys.version.encode())
    h.update(metadata.version("mypy").encode())
    h.update("\n".join(MODULES).encode())
    for path in sorted(package.rglob("*.py")):
        h.update(str(path.relative_to(package)).encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()


def is_current(out: Path, package: Path) -> bool:
    stamp = out / STAMP
    return stamp.is_file() and stamp.read_text().strip() == source_digest(package)


def build(package: Path, out: Path, force: bool = False,
          log: Callable[[str], None] = print) -> Path:
    """Compile MODULES of `package` (a checkout's pyzk/) into `out`; a no-op when current."""
    if not force and is_current(out, package):
        return out
    digest = source_digest(package)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyzk-mypyc-", dir=out.parent) as tmp:
        work = Path(tmp)
        shutil.copytree(package, work / "pyzk",
                        ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
        (work / "mypy.ini").write_text(MYPY_INI)
        log(f"compiling {len(MODULES)} modules with mypyc (a minute or two)")
        (work / "setup_compiled.py").write_text(setup_script())
        jobs = str(min(len(GROUPS), os.cpu_count() or 1))
        done = subprocess.run([sys.executable, "setup_compiled.py", "build_ext", "--inplace",
                               "-j", jobs], cwd=work, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
            raise RuntimeError(f"mypyc failed ({done.returncode}):\n{tail}")
        shutil.rmtree(work / "build", ignore_errors=True)
        (work / "mypy.ini").unlink()
        (work / "setup_compiled.py").unlink()
        (work / STAMP).write_text(digest + "\n")
        staged = out.with_name(out.name + ".new")
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(work, staged, ignore=shutil.ignore_patterns(".mypy_cache"))
    shutil.rmtree(out, ignore_errors=True)
    staged.rename(out)
    return out


def main(argv: list[str] | None = None) -> int:
    repo = Path(__file__).resolve().parents[2]
    ap = argparse.ArgumentParser(prog="python -m pyzk.tools.compiled", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=repo / "build" / "compiled",
                    help="where the compiled tree goes (default: build/compiled)")
    ap.add_argument("--force", action="store_true", help="rebuild even when current")
    ap.add_argument("--check", action="store_true",
                    help="only say whether OUT is current (exit 0) or not (exit 1)")
    args = ap.parse_args(argv)
    package = repo / "pyzk"
    if args.check:
        current = is_current(args.out, package)
        print("current" if current else "stale or missing")
        return 0 if current else 1
    try:
        build(package, args.out, force=args.force,
              log=lambda s: print(f"[pyzk.tools.compiled] {s}", file=sys.stderr))
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
