"""Signed, tamper-evident evidence of what ran and what was found.

``statement`` turns a posture report into an in-toto Statement (v1): its subjects are the running images' digests,
its predicate the inventory, the findings, the waivers in force, the catalog's digest and the digests of the
vulnerability reports used. ``envelope`` signs it in a DSSE envelope with ``securesystemslib`` (a key from a file or
a mounted Secret) and verifies one, saying which check failed. Nothing here reads the engine or the database: the
service hands a report in, the views and the CLI hand the envelope out.
"""
