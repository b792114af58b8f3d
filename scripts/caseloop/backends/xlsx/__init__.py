"""The Excel backend: read a tab, splice generated tabs into the zip, commit the file safely."""
