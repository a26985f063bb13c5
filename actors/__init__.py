"""Shoal's actors: one subpackage per actor process, plus what they share (common)."""
