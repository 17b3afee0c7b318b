"""Dashboard query templates over the stable schema, one .sql file each."""
