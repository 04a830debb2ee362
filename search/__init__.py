"""Indexing and retrieval for kb. A library: it never imports Flask or kb."""
