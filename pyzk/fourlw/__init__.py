"""pyzk.fourlw"""
