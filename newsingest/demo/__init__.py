"""The bundled sample newsroom: real articles served by fictional publishers on 127.0.0.1."""
