"""pyzk.tools"""
