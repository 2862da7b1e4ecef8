"""mailhost: a pluggable mail server for people who run their own mail."""
