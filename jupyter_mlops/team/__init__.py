"""Team mode operations that span every store: copying an embedded workspace to team services."""
