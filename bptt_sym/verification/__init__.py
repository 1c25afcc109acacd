"""Verification: derived gradients against independent references (hand-written forwards, a model
file's interpreter, autodiff, torch, finite differences).
"""
