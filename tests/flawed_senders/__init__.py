"""Deliberately flawed senders: the reference sender with exactly one flaw each (see flaws.py)."""
