"""pyzk.storage"""
