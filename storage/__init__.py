"""SQLAlchemy models, sessions, upserts and queries. ORM objects never leave this package."""
