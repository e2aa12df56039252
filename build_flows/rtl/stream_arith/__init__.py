"""Element-wise arithmetic of two streams (AddStreams, MulStreams) in RTL."""
