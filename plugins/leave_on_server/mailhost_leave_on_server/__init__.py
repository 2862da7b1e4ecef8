"""POP3 leave-on-server policy for mailhost: Gmail's per-user POP3 choices, as a plugin."""
