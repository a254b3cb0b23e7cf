"""Differential testing helpers: one scripted session of many operations, recorded as a
normalised transcript so that Java ZooKeeper's and pyzk's runs can be compared step by step."""
