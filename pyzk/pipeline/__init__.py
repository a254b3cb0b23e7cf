"""pyzk.pipeline"""
