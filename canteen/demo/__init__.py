"""The demo organisation: a believable company generated from a seed (`data`), and the
seeder that creates it in a running stack through its public APIs (`seeder`)."""
