"""The Data Vault: identities, region-pinned shards, signed records anchored in each region's log."""
