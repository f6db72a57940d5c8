"""Money, purse records, keys, the journal and the operations that move money."""
