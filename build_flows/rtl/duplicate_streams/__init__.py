"""Stream duplication for forks (FINN's DuplicateStreams) in RTL."""
