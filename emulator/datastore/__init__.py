"""A device's datastores and the operations that read and write them."""
