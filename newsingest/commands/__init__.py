"""Subcommands that belong to one feature each, registered on the group in ``cli.py``."""
