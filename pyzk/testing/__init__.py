"""Test helpers for applications: real pyzk servers in-process (see pyzk.testing.plugin)."""

from .server import ZkTestServer

__all__ = ["ZkTestServer"]
