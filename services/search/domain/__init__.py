"""Search rules with no I/O: the query language, the documents, who may see what."""
