"""pyzk.tree"""
