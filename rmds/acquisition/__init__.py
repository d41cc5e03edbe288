"""Acquisition of DATASUS files: the catalog of file families and a resumable FTP fetch."""
