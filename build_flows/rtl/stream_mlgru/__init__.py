"""The MLGRU token recurrence (StreamMLGRU) in RTL: ``qvit_stream_mlgru.sv`` and its code generator."""
