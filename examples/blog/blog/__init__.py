"""The blog project."""
