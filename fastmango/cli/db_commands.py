"""Database commands: makemigrations, migrate, showmigrations, sqlmigrate, shell, dbshell (being written)."""
