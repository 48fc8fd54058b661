"""What public surfaces (OGC API Features, Open311 reads) may publish."""
