"""newsingest: an unattended news-ingestion pipeline (entry points, config and the demo)."""

__version__ = "0.1.0"
