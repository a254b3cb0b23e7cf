"""pyzk.zab"""
