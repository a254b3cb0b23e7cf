"""pyzk.server"""
