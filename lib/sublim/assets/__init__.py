"""Pinned offline assets (base LLM, MNIST) and their online sources, each behind one loader.

`python -m sublim.assets` fetches and verifies the files (what `make assets` runs first).
"""
