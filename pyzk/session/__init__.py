"""pyzk.session"""
