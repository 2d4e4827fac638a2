"""Who is calling: credentials become one Actor; hashing, caches, rate limits, the gateway check."""
