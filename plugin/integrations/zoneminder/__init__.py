"""ZoneMinder: API client, event source, write-back sink, doctor checks and zmeventnotification
formats. Importing the package registers the `zoneminder` source."""

from . import source  # noqa: F401  (registers the plugin)
