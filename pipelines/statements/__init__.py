"""The statements domain: each day's account statements (HTML and PDF) as a partitioned asset."""
