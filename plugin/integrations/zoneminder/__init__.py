"""ZoneMinder: API client, event source, write-back sink, doctor checks and zmeventnotification
formats. Importing the package registers the `zoneminder` source and write-back."""

from . import source, write_back  # noqa: F401  (register the source and its write-back)
