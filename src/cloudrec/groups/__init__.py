"""Groups: the registry of published streams per (app, group), with the users' join order."""
