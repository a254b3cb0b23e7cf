"""Sans-I/O client protocol: jute codec, records, opcodes, error codes and framing."""
