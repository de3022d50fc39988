"""DNA alphabet, length rule and encoding ops."""
