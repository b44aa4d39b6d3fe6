"""Shards: the verified, memory-mapped training layout (writer, reader, verify) and the contact-sheet preview."""
