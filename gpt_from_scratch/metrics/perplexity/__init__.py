"""The ``perplexity`` evaluate module (its script is ``perplexity.py``, which ``evaluate.load`` copies and imports)."""
