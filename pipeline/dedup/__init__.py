"""Building blocks of the dedup ops: compared text and shingles, keep policy, MinHash LSH."""
