"""Application services: one use case each, run in one unit of work."""
