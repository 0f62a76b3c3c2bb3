"""Core: entities, hashing, validation and the plug-in registry. Standard library only."""
