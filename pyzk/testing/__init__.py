"""Test helpers for applications: real pyzk servers in-process (ZkTestServer) and replicated
ensembles as member processes (ZkTestEnsemble); fixtures in pyzk.testing.plugin."""

from .ensemble import ZkTestEnsemble
from .server import ZkTestServer

__all__ = ["ZkTestEnsemble", "ZkTestServer"]
