"""The bptt-sym command: its options and one handler per command."""
