"""Benchmarks: the raw-protocol load generator, pyzk vs Java ZooKeeper, and the codec."""
