"""Offline messages for django.contrib.messages, stored per user in the database."""

__version__ = "2.0.0"
VERSION = tuple(int(part) for part in __version__.split("."))
