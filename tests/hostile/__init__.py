"""Hostile input through the real command line: the corpus (corpus.py) and the test that runs it."""
