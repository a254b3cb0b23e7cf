"""pyzk.testing"""
