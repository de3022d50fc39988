"""From raw DNA strings to model inputs: the encoder layer and the record schema."""
