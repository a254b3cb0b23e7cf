"""pyzk: a ZooKeeper-compatible coordination server in Python asyncio."""
__version__ = "0.1.0"
