"""Storage: the metadata database (SQLAlchemy Core, versioned schema) and the object store."""
