"""Hostile senders: commands that hang, crash, print garbage, flood the capture server, leave
processes behind or echo their secret (``hostile.py``), and a probe plugin that records the
suite's own peak memory (``memprobe.py``). Driven by ``tests/test_hostile_senders.py``."""
